import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { keccak256, randomBytes, Wallet, type Signer } from "ethers";
import type { ModelRef } from "../../client/model-ref.js";
import type { PatientClient } from "../../client/patient-client.js";
import { FileBlobStore } from "../../coprocessor/blobstore/file-blob-store.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";
import { publishModel } from "../../hospital/publish-model.js";
import { stratifiedSplit } from "../../hospital/split.js";
import { startLocalStack, type LocalStack } from "../../local/stack.js";
import { decodeEnvelope, encodeEnvelope } from "../../protocol/envelope.js";
import { FailureReason, type FailureReasonName } from "../../protocol/failure-reasons.js";
import { jobIdFromReceipt, JobStatus, type PmheContract } from "../../protocol/chain.js";
import { CkksEngine, type KeyBinding, type KeySet } from "../../protocol/fhe/engine.js";
import { contentHash, type Hash } from "../../protocol/hash.js";
import { buildTuple, parseModelBytes, predictPlaintext, type Model, type Reading } from "../../protocol/model.js";
import { signedUploadHeaders, uploadDomain, UPLOAD_HEADERS } from "../../protocol/upload-auth.js";
import { expectClose } from "../helpers/close.js";
import { alterStoredBlob } from "../helpers/tamper.js";

const ROOT = join(import.meta.dirname, "..", "..");
/** An operator's ceiling below the record purpose's own limit: small enough to test cheaply, large enough for a key bundle (~4.5 MB). */
const MAX_BLOB_BYTES = 6 * 1024 * 1024;
const OCTETS = "application/octet-stream";

interface UploadCase {
  name: string;
  path?: string;
  body: Uint8Array;
  headers: Record<string, string>;
  status: number;
  error: string;
}

interface JobCase {
  name: string;
  reason: FailureReasonName;
  /**
   * The record blob to anchor; undefined: anchored but never stored. Written straight into the store's directory,
   * as a store that took it before its upload checks existed (or a disk an attacker reached) would hold it: the
   * API refuses most of these at the door now, and the worker must still settle each one on its own.
   */
  bytes?: Uint8Array;
  /** Uploaded through the API (a valid record), then altered on disk: the store serves bytes that do not hash to the anchor. */
  tamperStoredFile?: boolean;
}

describe("malformed uploads and jobs against a running stack (hardhat node, redis-server, BullMQ, node-seal)", function () {
  let stack: LocalStack;
  let engine: CkksEngine;
  let smallEngine: CkksEngine;
  let model: Model;
  let ref: ModelRef;
  let readings: Reading[];
  let patient: PatientClient;
  let patientSigner: Signer;
  let contract: PmheContract;
  let keyBundle: Uint8Array;
  let patientKeys: KeySet;
  /** The patient's address and key-bundle hash, which every record of theirs names. */
  let owner: KeyBinding;
  let validRecord: Uint8Array;
  let validResult: Uint8Array;
  const settledJobs: Array<{ jobId: Hash; expected: FailureReasonName; name: string }> = [];

  before(async function () {
    model = parseModelBytes(await readFile(join(ROOT, "models", "statlog-heart-logreg.v1.json")));
    const dataset = loadDataset(await readFile(join(ROOT, "data", "statlog_heart.csv"), "utf8"), model.target.column);
    const { test } = stratifiedSplit(dataset.labels, model.training.testFraction, model.training.seed);
    readings = test.map((i) => readingFromRow(dataset.columns, dataset.rows[i]!, [model.target.column]));
    // One attempt: a blob that is not there fails the job at once instead of after backoffs.
    stack = await startLocalStack({ coprocessorEnv: { PMHE_JOB_ATTEMPTS: "1", PMHE_MAX_BLOB_BYTES: String(MAX_BLOB_BYTES), PMHE_OPERATOR_PORT: "0" } });
    [engine, smallEngine] = await Promise.all([CkksEngine.create(model.fhe.parameterSet), CkksEngine.create("ckks-n4096-linear")]);
    const { modelId } = await publishModel(stack.hospital, stack.contractAddress, stack.blobs, model);
    ref = { model, id: modelId };
    ({ client: patient, signer: patientSigner, keys: patientKeys } = await stack.newPatientClient(engine));
    keyBundle = patientKeys.keyBundle;
    owner = { patient: await patientSigner.getAddress(), keyBundleHash: contentHash(keyBundle) };
    contract = stack.contract.connect(patientSigner);

    const cipher = engine.openSecretKey(patientKeys.secretKey, owner);
    try {
      validRecord = cipher.encryptTuple(buildTuple(model, readings[0]!));
    } finally {
      cipher.dispose();
    }
    const first = await patient.predict(ref, readings[0]!);
    validResult = (await stack.blobs.get(first.resultHash))!;
  });

  after(async function () {
    patient?.dispose();
    engine?.dispose();
    smallEngine?.dispose();
    await stack?.stop();
  });

  async function put(path: string, body: Uint8Array, headers: Record<string, string>): Promise<Response> {
    return fetch(`${stack.apiUrl}${path}`, { method: "PUT", headers, body: body as Uint8Array<ArrayBuffer> });
  }

  async function signed(bytes: Uint8Array, options: { signer?: Signer; purpose?: "record" | "model" | "result" | "key-bundle"; hash?: Hash; ttlSeconds?: number; now?: number; domain?: ReturnType<typeof uploadDomain> } = {}): Promise<Record<string, string>> {
    return {
      "content-type": OCTETS,
      ...(await signedUploadHeaders(options.signer ?? patientSigner, options.domain ?? stack.uploadDomain, options.hash ?? contentHash(bytes), options.purpose ?? "record", {
        ttlSeconds: options.ttlSeconds,
        now: options.now,
      })),
    };
  }

  async function expectHealthyPrediction(readingIndex: number): Promise<void> {
    const reading = readings[readingIndex]!;
    const result = await patient.predict(ref, reading, { timeoutMs: 30_000 });
    expectClose(result.probability, predictPlaintext(model, reading).probability, 1e-4, `reading ${readingIndex}`);
    expect(Number((await stack.contract.jobOf(result.jobId)).status)).to.equal(JobStatus.Finalized);
  }

  async function uploadCases(): Promise<UploadCase[]> {
    const cases: UploadCase[] = [];
    const blob = () => randomBytes(256);
    const add = (c: UploadCase) => cases.push(c);

    // Bad hash in the path.
    for (const path of ["/blobs/0x1234", "/blobs/nothex", `/blobs/0x${"g".repeat(64)}`, `/blobs/0x${"a".repeat(65)}`, `/blobs/${"a".repeat(64)}`, `/blobs/0x${"a".repeat(63)}`, "/blobs/%00", "/blobs/0x"]) {
      const body = blob();
      add({ name: `bad hash path ${path}`, path, body, headers: await signed(body), status: 400, error: "invalid_hash" });
    }
    // Body that does not hash to the (validly signed) path.
    for (let i = 0; i < 6; i++) {
      const claimed = blob();
      const body = i === 0 ? Uint8Array.from(claimed).fill(claimed[0]! ^ 1, 0, 1) : blob();
      const hash = contentHash(claimed);
      add({ name: `hash mismatch #${i}`, path: `/blobs/${hash}`, body, headers: await signed(claimed), status: 422, error: "hash_mismatch" });
    }
    // Unsigned, or a signature header missing.
    for (const drop of [undefined, ...Object.values(UPLOAD_HEADERS)]) {
      const body = blob();
      const headers = drop === undefined ? { "content-type": OCTETS } : await signed(body);
      if (drop) delete (headers as Record<string, string>)[drop];
      add({ name: `missing ${drop ?? "all signature headers"}`, body, headers, status: 401, error: "signature_required" });
    }
    // Forged or mismatched signatures.
    const stranger = Wallet.createRandom();
    const forgeries: Array<[string, (body: Uint8Array) => Promise<Record<string, string>>]> = [
      ["signed by another key", async (b) => ({ ...(await signed(b, { signer: stranger })), [UPLOAD_HEADERS.signer]: await patientSigner.getAddress() })],
      ["signed for another blob", async (b) => ({ ...(await signed(b, { hash: contentHash(blob()) })) })],
      ["signed for another deployment", async (b) => signed(b, { domain: uploadDomain(stack.uploadDomain.chainId, Wallet.createRandom().address) })],
      ["signed for another chain", async (b) => signed(b, { domain: uploadDomain(1n, stack.uploadDomain.verifyingContract) })],
      ["signature for another purpose", async (b) => ({ ...(await signed(b)), [UPLOAD_HEADERS.purpose]: "key-bundle" })],
      ["signature of garbage", async (b) => ({ ...(await signed(b)), [UPLOAD_HEADERS.signature]: "0x1234" })],
      ["signature not hex", async (b) => ({ ...(await signed(b)), [UPLOAD_HEADERS.signature]: "not a signature" })],
      ["signature bit flipped", async (b) => {
        const h = await signed(b);
        const sig = h[UPLOAD_HEADERS.signature]!;
        return { ...h, [UPLOAD_HEADERS.signature]: sig.slice(0, 10) + (sig[10] === "0" ? "1" : "0") + sig.slice(11) };
      }],
      ["signer not an address", async (b) => ({ ...(await signed(b)), [UPLOAD_HEADERS.signer]: "0xnope" })],
      ["expiry not a number", async (b) => ({ ...(await signed(b)), [UPLOAD_HEADERS.expires]: "soon" })],
      ["expiry altered after signing", async (b) => {
        const h = await signed(b);
        return { ...h, [UPLOAD_HEADERS.expires]: String(Number(h[UPLOAD_HEADERS.expires]) + 1) };
      }],
    ];
    for (const [name, headersFor] of forgeries) {
      const body = blob();
      add({ name, body, headers: await headersFor(body), status: 401, error: "bad_signature" });
    }
    for (const [name, options] of [
      ["expired signature", { now: Math.floor(Date.now() / 1000) - 1_000, ttlSeconds: 60 }],
      ["signature valid too long", { ttlSeconds: 7_200 }],
    ] as const) {
      const body = blob();
      add({ name, body, headers: await signed(body, options), status: 401, error: "signature_expired" });
    }
    for (const purpose of ["bogus", "RECORD", ""]) {
      const body = blob();
      const headers = { ...(await signed(body)), [UPLOAD_HEADERS.purpose]: purpose };
      // An empty header counts as missing.
      add({ name: `purpose ${JSON.stringify(purpose)}`, body, headers, status: purpose ? 400 : 401, error: purpose ? "bad_purpose" : "signature_required" });
    }
    for (const purpose of ["model", "result"] as const) {
      const body = blob();
      add({ name: `${purpose} upload by a patient`, body, headers: await signed(body, { purpose }), status: 403, error: "forbidden" });
    }
    // Oversized, with a valid signature (the limit applies to well-formed uploads too).
    for (const size of [MAX_BLOB_BYTES + 1, MAX_BLOB_BYTES + 4096, 2 * MAX_BLOB_BYTES]) {
      const body = new Uint8Array(size).fill(size & 0xff);
      add({ name: `oversized ${size} bytes`, body, headers: await signed(body), status: 413, error: "too_large" });
    }
    // Wrong content type.
    for (const type of ["text/plain", "application/json", "multipart/form-data; boundary=x", "image/png", "application/x-www-form-urlencoded"]) {
      const body = type === "application/json" ? new TextEncoder().encode('{"a":1}') : blob();
      add({ name: `content type ${type}`, body, headers: { ...(await signed(body)), "content-type": type }, status: 415, error: "unsupported_media_type" });
    }
    // Empty bodies.
    for (let i = 0; i < 3; i++) {
      const body = new Uint8Array(0);
      add({ name: `empty body #${i}`, body, headers: await signed(body), status: 400, error: "empty_body" });
    }
    return cases;
  }

  function jobCases(): JobCase[] {
    const cases: JobCase[] = [];
    const record = decodeEnvelope(validRecord, "record");
    const header = { ...record.header } as Record<string, unknown>;
    delete header.kind;
    delete header.sections;
    const ciphertext = record.sections.get("ciphertext")!;
    const envelope = (h: Record<string, unknown>, sections: Array<[string, Uint8Array]> = [["ciphertext", ciphertext]]) => encodeEnvelope("record", h, sections);
    const malformed = (name: string, bytes: Uint8Array) => cases.push({ name, reason: "MalformedRecord", bytes });

    for (const size of [2, 3, 5, 8, 9, 64, 200, 1_000, 4_096, 50_000, 100_000]) malformed(`${size} random bytes`, randomBytes(size));
    for (const keep of [1, 4, 9, 20, 50, 100, 1_000, 10_000, Math.floor(validRecord.length / 2), validRecord.length - 1]) malformed(`record truncated to ${keep} bytes`, validRecord.slice(0, keep));
    malformed("the key bundle where a record is expected", keyBundle);
    malformed("a result blob where a record is expected", validResult);
    malformed("envelope of kind result with a record's contents", encodeEnvelope("result", header, [["ciphertext", ciphertext]]));
    malformed("empty header", envelope({}));
    malformed("unknown parameter set", envelope({ ...header, parameterSet: "ckks-n16384-d9" }));
    malformed("unexpected header field", envelope({ ...header, note: "hello" }));
    malformed("zero values", envelope({ ...header, values: 0 }));
    malformed("empty ciphertext section", envelope(header, [["ciphertext", new Uint8Array(0)]]));
    malformed("no ciphertext section", envelope(header, [["payload", ciphertext]]));
    malformed("random ciphertext section", envelope(header, [["ciphertext", randomBytes(ciphertext.length)]]));
    malformed("short random ciphertext section", envelope(header, [["ciphertext", randomBytes(64)]]));
    const flipped = Uint8Array.from(ciphertext);
    flipped[0]! ^= 0xff;
    malformed("ciphertext with a broken SEAL header", envelope(header, [["ciphertext", flipped]]));
    const badVersion = Uint8Array.from(validRecord);
    badVersion[4] = 99;
    malformed("unsupported envelope version", badVersion);
    const hugeHeader = Uint8Array.from(validRecord);
    new DataView(hugeHeader.buffer).setUint32(5, 0xffffffff, false);
    malformed("header length beyond the blob", hugeHeader);
    malformed("more packed records than fit the ring", envelope({ ...header, layout: "packed-records", records: 100_000 }));
    malformed("feature-major record without feature sections", envelope({ ...header, layout: "feature-major", records: 4 }));

    const tuple = buildTuple(model, readings[1]!);
    const cipher = engine.openSecretKey(patientKeys.secretKey, owner);
    const smallKeys = smallEngine.generateKeySet({ patient: owner.patient });
    // Named as the patient's records under the job's key bundle, so the parameter set is the only thing wrong.
    const small = smallEngine.openSecretKey(smallKeys.secretKey, owner);
    try {
      for (const round of [1, 3, 15]) malformed(`record for round ${round} of a one-round model`, cipher.encryptRecords("packed-records", [tuple], { round }));
      for (const [i, t] of [tuple, buildTuple(model, readings[2]!)].entries()) {
        cases.push({ name: `record for the other parameter set #${i}`, reason: "ParameterMismatch", bytes: small.encryptTuple(t) });
      }
      cases.push({ name: "header naming the other parameter set over this set's ciphertext", reason: "ParameterMismatch", bytes: envelope({ ...header, parameterSet: "ckks-n4096-linear" }) });
      for (const extra of [1, 3]) {
        cases.push({ name: `record with ${extra} more value(s) than the model`, reason: "ParameterMismatch", bytes: cipher.encryptTuple([...tuple, ...Array<number>(extra).fill(0.5)]) });
      }
      cases.push({ name: "record with fewer values than the model", reason: "ParameterMismatch", bytes: cipher.encryptTuple(tuple.slice(0, -2)) });
      cases.push({ name: "key bundle of the other parameter set as the record", reason: "MalformedRecord", bytes: smallKeys.keyBundle });
      for (let i = 0; i < 2; i++) cases.push({ name: `stored record altered #${i}`, reason: "RecordHashMismatch", bytes: cipher.encryptTuple(buildTuple(model, readings[3 + i]!)), tamperStoredFile: true });
    } finally {
      cipher.dispose();
      small.dispose();
    }
    for (let i = 0; i < 3; i++) cases.push({ name: `record never uploaded #${i}`, reason: "RecordBlobMissing" });
    return cases;
  }

  let uploads: UploadCase[];
  let jobs: JobCase[];

  it("has 100 malformed cases: uploads to refuse and jobs to fail", async function () {
    uploads = await uploadCases();
    jobs = jobCases();
    expect(uploads.length + jobs.length).to.equal(100);
  });

  it("refuses every malformed upload with a named JSON error and stores nothing", async function () {
    for (const c of uploads) {
      const path = c.path ?? `/blobs/${contentHash(c.body)}`;
      const response = await put(path, c.body, c.headers);
      expect(response.status, c.name).to.equal(c.status);
      expect(response.headers.get("content-type") ?? "", c.name).to.match(/^application\/json/);
      const body = (await response.json()) as { error?: string; message?: string };
      expect(body.error, c.name).to.equal(c.error);
      expect(body.message, c.name).to.be.a("string").and.not.empty;
      if (c.path === undefined && c.body.length > 0) {
        const head = await fetch(`${stack.apiUrl}${path}`, { method: "HEAD" });
        expect(head.status, `${c.name}: nothing stored`).to.equal(404);
      }
    }
    await expectHealthyPrediction(5);
  });

  it("fails every malformed job on-chain with its reason, and keeps serving normal predictions", async function () {
    this.timeout(90_000);
    const store = new FileBlobStore(stack.blobDir);
    const submit = async (c: JobCase) => {
      let recordHash: Hash;
      if (c.bytes === undefined) {
        recordHash = keccak256(randomBytes(64)) as Hash;
      } else if (c.tamperStoredFile) {
        recordHash = await stack.blobs.put(c.bytes, { signer: patientSigner, purpose: "record", domain: stack.uploadDomain });
        await alterStoredBlob(stack.blobDir, recordHash, 100);
      } else {
        recordHash = contentHash(c.bytes);
        await store.put(recordHash, c.bytes);
      }
      // One transaction, as a patient sends it.
      const receipt = await (await contract.anchorAndRequest(recordHash, ref.id)).wait();
      settledJobs.push({ jobId: jobIdFromReceipt(contract, receipt!), expected: c.reason, name: c.name });
    };

    const half = Math.floor(jobs.length / 2);
    for (const c of jobs.slice(0, half)) await submit(c);
    // The worker is still there in between, behind the malformed jobs.
    await expectHealthyPrediction(6);
    for (const c of jobs.slice(half)) await submit(c);

    const deadline = Date.now() + 60_000;
    let pending = settledJobs;
    while (pending.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const statuses = await Promise.all(pending.map(async (j) => Number((await stack.contract.jobOf(j.jobId)).status)));
      pending = pending.filter((_, i) => statuses[i] === JobStatus.Requested);
    }
    expect(pending.map((j) => j.name), "jobs still pending").to.deep.equal([]);

    const outcomes = await Promise.all(
      settledJobs.map(async (j) => {
        const job = await stack.contract.jobOf(j.jobId);
        return { name: j.name, status: Number(job.status), reason: Number(job.failureReason) };
      }),
    );
    expect(outcomes).to.deep.equal(settledJobs.map((j) => ({ name: j.name, status: JobStatus.Failed, reason: FailureReason[j.expected] })));
    const [report] = await stack.contract.queryFilter(stack.contract.filters.FailureReported(settledJobs[0]!.jobId));
    expect(report!.args.coprocessor).to.equal(stack.coprocessor.operator);

    await expectHealthyPrediction(7);
    expect((await fetch(`${stack.coprocessor.operatorUrl}/readyz`)).status).to.equal(200);
  });
});
