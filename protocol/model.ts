import { z } from "zod";
import { canonicalJsonBytes } from "./canonical-json.js";
import { linearResultBound, MAX_ABS_RESULT_VALUE, MAX_ABS_TUPLE_VALUE } from "./fhe/bounds.js";
import { PARAMETER_SET_NAMES } from "./fhe/params.js";
import { contentHash, type Hash } from "./hash.js";

/**
 * The model format shared by the hospital that trains a model, the patient's client that builds the tuple,
 * and the coprocessor that evaluates it. It follows the interaction protocol: the client turns raw readings
 * into the standardised feature tuple, the server evaluates the linear stage under encryption, the client
 * decrypts the logit and applies the final sigmoid.
 */
export const MODEL_FORMAT = "pmhe-model/1";

/** Features per model: one ciphertext holds the tuple and the server sums it with log2(16) rotations. */
export const MAX_FEATURES = 16;

const finite = z.number().finite();

export const FeatureSchema = z.object({
  /** Column name in the source data and key of the patient's reading. */
  name: z.string().min(1),
  /** Client-side transform of the raw reading before standardisation. */
  transform: z.literal("identity"),
  /** Standardisation constants from the training split: x' = (x - mean) / std. */
  mean: finite,
  std: finite.positive(),
});

const MetricsSchema = z.object({
  accuracy: finite.min(0).max(1),
  auc: finite.min(0).max(1),
  rows: z.number().int().positive(),
});

export const ModelSchema = z
  .object({
    format: z.literal(MODEL_FORMAT),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
    version: z.number().int().positive(),
    description: z.string(),
    target: z.object({ column: z.string().min(1), positiveMeans: z.string().min(1) }),
    features: z.array(FeatureSchema).min(1).max(MAX_FEATURES),
    /** Server stage: T = w · x + b on the encrypted standardised tuple. */
    server: z.object({ stage: z.literal("linear"), weights: z.array(finite), bias: finite }),
    /** Client stage after decryption: p = sigmoid(T); class 1 when p >= threshold. */
    client: z.object({ final: z.literal("sigmoid"), threshold: finite.gt(0).lt(1) }),
    fhe: z.object({ parameterSet: z.enum(PARAMETER_SET_NAMES) }),
    training: z.object({
      dataset: z.string().min(1),
      datasetSha256: z.string().regex(/^[0-9a-f]{64}$/),
      seed: z.number().int(),
      testFraction: finite.gt(0).lt(1),
      stratified: z.boolean(),
      l2C: finite.positive(),
      solver: z.string().min(1),
    }),
    metrics: z.object({ train: MetricsSchema, test: MetricsSchema }),
  })
  .strict()
  .refine((m) => m.server.weights.length === m.features.length, {
    message: "server.weights must have one weight per feature",
    path: ["server", "weights"],
  })
  .refine((m) => linearResultBound(m.server.weights, m.server.bias) <= MAX_ABS_RESULT_VALUE, {
    message: `sum|w| * ${MAX_ABS_TUPLE_VALUE} + |b| must stay within ${MAX_ABS_RESULT_VALUE}, the range the encrypted result holds exactly`,
    path: ["server", "weights"],
  })
  .refine((m) => new Set(m.features.map((f) => f.name)).size === m.features.length, {
    message: "feature names must be unique",
    path: ["features"],
  });

export type Model = z.infer<typeof ModelSchema>;

export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFormatError";
  }
}

export function parseModel(value: unknown): Model {
  const result = ModelSchema.safeParse(value);
  if (!result.success) {
    throw new ModelFormatError(`not a ${MODEL_FORMAT} document: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

export function parseModelBytes(bytes: Uint8Array): Model {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new ModelFormatError(`model is not UTF-8 JSON: ${(err as Error).message}`);
  }
  return parseModel(json);
}

/** The bytes that are stored, uploaded and hashed: canonical JSON of the validated model. */
export function modelBytes(model: Model): Uint8Array {
  return canonicalJsonBytes(model);
}

export function modelHash(model: Model): Hash {
  return contentHash(modelBytes(model));
}

/** A patient's raw readings, keyed by feature name. */
export type Reading = Readonly<Record<string, number>>;

export class ReadingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReadingError";
  }
}

/**
 * First client stage: raw readings -> standardised feature tuple, in the model's feature order.
 * Refuses missing or non-finite values rather than encrypting garbage the patient would never notice.
 */
export function buildTuple(model: Model, reading: Reading): number[] {
  return model.features.map((feature) => {
    const raw = reading[feature.name];
    if (raw === undefined) throw new ReadingError(`reading has no value for feature "${feature.name}"`);
    if (typeof raw !== "number" || !Number.isFinite(raw)) {
      throw new ReadingError(`feature "${feature.name}" must be a finite number, got ${String(raw)}`);
    }
    const value = (raw - feature.mean) / feature.std;
    // A reading this far from the training data is a unit or entry error, and would leave the encrypted range.
    if (Math.abs(value) > MAX_ABS_TUPLE_VALUE) {
      throw new ReadingError(
        `feature "${feature.name}" = ${raw} is ${value.toFixed(1)} standard deviations from the training mean (limit ${MAX_ABS_TUPLE_VALUE}); check its units`,
      );
    }
    return value;
  });
}

/** Server stage in plaintext: the reference the encrypted evaluation must reproduce. */
export function linearLogit(model: Model, tuple: readonly number[]): number {
  if (tuple.length !== model.server.weights.length) {
    throw new ReadingError(`tuple has ${tuple.length} values, model expects ${model.server.weights.length}`);
  }
  let t = model.server.bias;
  for (let i = 0; i < tuple.length; i++) t += model.server.weights[i]! * tuple[i]!;
  return t;
}

export function sigmoid(t: number): number {
  // Split by sign so exp never overflows for large |t|.
  if (t >= 0) return 1 / (1 + Math.exp(-t));
  const e = Math.exp(t);
  return e / (1 + e);
}

/** The whole model in plaintext, for reference and for the hospital's own evaluation. */
export function predictPlaintext(model: Model, reading: Reading): { logit: number; probability: number; predictedClass: 0 | 1 } {
  const logit = linearLogit(model, buildTuple(model, reading));
  const probability = sigmoid(logit);
  return { logit, probability, predictedClass: probability >= model.client.threshold ? 1 : 0 };
}
