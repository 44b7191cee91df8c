import type { Signer } from "ethers";
import type { ModelRef } from "../../client/model-ref.js";
import type { PatientClient } from "../../client/patient-client.js";
import { publishModel } from "../../hospital/publish-model.js";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "../../local/stack.js";
import { CkksEngine } from "../../protocol/fhe/engine.js";
import type { Model, Reading } from "../../protocol/model.js";
import { Teardown } from "./teardown.js";
import { loadTestModel, testReadings } from "./test-model.js";

/** A local stack with the test model published by its hospital and one registered patient client. */
export interface LocalStackWithPatient {
  stack: LocalStack;
  engine: CkksEngine;
  model: Model;
  /** The test model as published on this stack. */
  ref: ModelRef;
  /** Readings of the model's test split, as many as asked for. */
  readings: Reading[];
  patient: PatientClient;
  patientSigner: Signer;
  /** Disposes the patient and the engine, then stops the stack. */
  stop(): Promise<void>;
}

/** `startLocalStack(options.stack)`, the test model published on it, and a funded, registered patient client. */
export async function startLocalStackWithPatient(options: { readings: number; stack?: LocalStackOptions }): Promise<LocalStackWithPatient> {
  const model = await loadTestModel();
  const readings = await testReadings(model, options.readings);
  const teardown = new Teardown();
  return teardown.guard(async () => {
    const stack = await startLocalStack(options.stack);
    teardown.add(() => stack.stop());
    const engine = await CkksEngine.create(model.fhe.parameterSet);
    teardown.add(() => engine.dispose());
    const { modelId } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
    const { client: patient, signer: patientSigner } = await stack.newPatientClient(engine);
    teardown.add(() => patient.dispose());
    return { stack, engine, model, ref: { model, id: modelId }, readings, patient, patientSigner, stop: () => teardown.run() };
  });
}
