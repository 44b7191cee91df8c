import { z } from "zod";
import { canonicalJsonBytes } from "./canonical-json.js";
import { linearResultBound, MAX_ABS_RESULT_VALUE, MAX_ABS_TUPLE_VALUE } from "./fhe/bounds.js";
import { PARAMETER_SET_NAMES } from "./fhe/params.js";
import { contentHash, type Hash } from "./hash.js";

/**
 * The model format shared by the hospital that trains a model, the patient's client that builds the tuples,
 * and the coprocessor that evaluates them. A model is a pipeline of stages that follows the client-to-cloud
 * interaction protocol: whatever is not a linear function runs on the client, in plaintext, on the client's
 * own data; the server only ever evaluates linear stages on encrypted tuples.
 *
 *   round 0      client: raw readings --transforms--> standardised tuple (features), encrypted
 *                server: hidden[0].server (h dot products over the tuple) -> h encrypted values
 *   round r      client: decrypts, applies hidden[r-1].client (activation, standardisation), encrypts again
 *   (r >= 1)     server: hidden[r].server, or for the last round the final `server` stage
 *   last round   server: `server` (one dot product: T = w · x + b); client: p = sigmoid(T), class 1 when p >= threshold
 *
 * A logistic regression has no hidden rounds: one round, features -> server -> client, as in pmhe-model/1.
 * Rounds are numbered from 0; round r < hidden.length is hidden[r], round hidden.length is the final one.
 * Each round is a separate job for the coprocessor: `serverStage(model, round)` is its work, a weight matrix
 * of h rows applied to one encrypted tuple, each row an independent dot product plus its bias.
 *
 * `pmhe-model/1` documents (identity features only, one round) are still accepted as they are.
 */
export const MODEL_FORMAT = "pmhe-model/2";
export const MODEL_FORMATS = ["pmhe-model/1", MODEL_FORMAT] as const;

/** Entries per tuple: one ciphertext holds a tuple and the server sums it with log2(16) rotations. */
export const MAX_FEATURES = 16;
/** Hidden rounds before the final one; each costs the patient one more decrypt / re-encrypt cycle. */
export const MAX_HIDDEN_ROUNDS = 3;

/**
 * Client transforms of one raw reading, applied before standardisation. Domains (a reading outside is a
 * ReadingError, never NaN or a clamped value):
 *   identity      x                any finite x
 *   log           ln x             x > 0
 *   log1p         ln(1 + x)        x > -1   (for readings that can be 0, e.g. ST depression)
 *   sqrt          √x               x >= 0
 *   exp           e^x              e^x finite (x < 709.78)
 *   reciprocal    1 / x            x != 0
 *   power         x^k, k = 2 or 3  any finite x
 *   one-hot       1 if x = category, else 0; x must be one of `categories`
 */
export const SIMPLE_TRANSFORMS = ["identity", "log", "log1p", "sqrt", "exp", "reciprocal"] as const;
export type SimpleTransform = (typeof SIMPLE_TRANSFORMS)[number];
export const TRANSFORMS = [...SIMPLE_TRANSFORMS, "power", "one-hot"] as const;
export type Transform = (typeof TRANSFORMS)[number];

/** Activations the client may apply to a hidden round's decrypted outputs. */
export const ACTIVATIONS = ["tanh", "sigmoid", "softplus"] as const;
export type Activation = (typeof ACTIVATIONS)[number];

const finite = z.number().finite();
const entryName = z.string().min(1);

/** Standardisation constants from the training split: x' = (x - mean) / std. */
const standardisation = { mean: finite, std: finite.positive() };
const featureBase = {
  /** Name of the tuple entry, e.g. "age", "log(chol)", "cp=4". For pmhe-model/1, also the input column. */
  name: entryName,
  /** Column in the source data and key of the patient's reading (pmhe-model/2; pmhe-model/1 uses `name`). */
  input: z.string().min(1).optional(),
  ...standardisation,
};

export const FeatureSchema = z.discriminatedUnion("transform", [
  z.strictObject({ ...featureBase, transform: z.enum(SIMPLE_TRANSFORMS) }),
  z.strictObject({ ...featureBase, transform: z.literal("power"), exponent: z.union([z.literal(2), z.literal(3)]) }),
  z.strictObject({
    ...featureBase,
    transform: z.literal("one-hot"),
    /** Every value the input may take; anything else is refused. */
    categories: z.array(finite).min(2, "a one-hot feature lists at least two categories"),
    /** The category this entry indicates. */
    category: finite,
  }),
]);
export type Feature = z.infer<typeof FeatureSchema>;

/** A hidden round: the server computes h = W x + b (h rows), the client decrypts and applies the activation. */
export const HiddenRoundSchema = z.strictObject({
  server: z.strictObject({
    stage: z.literal("linear"),
    /** One row per hidden value, each row one weight per entry of the round's tuple. */
    weights: z.array(z.array(finite)).min(1).max(MAX_FEATURES),
    bias: z.array(finite),
  }),
  client: z.strictObject({
    stage: z.literal("activation"),
    activation: z.enum(ACTIVATIONS),
    /** One per hidden value: the next round's tuple entry (F(h_j) - mean) / std, and its name. */
    outputs: z.array(z.strictObject({ name: entryName, ...standardisation })),
  }),
});
export type HiddenRound = z.infer<typeof HiddenRoundSchema>;

const MetricsSchema = z.strictObject({
  accuracy: finite.min(0).max(1),
  auc: finite.min(0).max(1),
  rows: z.number().int().positive(),
});

export const ModelSchema = z
  .strictObject({
    format: z.enum(MODEL_FORMATS),
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
    version: z.number().int().positive(),
    description: z.string(),
    target: z.strictObject({ column: z.string().min(1), positiveMeans: z.string().min(1) }),
    /** Round 0's tuple, in order: each entry a transform of one input, standardised. */
    features: z.array(FeatureSchema).min(1).max(MAX_FEATURES),
    /** Rounds before the final one (absent for a one-round model such as logistic regression). */
    hidden: z.array(HiddenRoundSchema).min(1).max(MAX_HIDDEN_ROUNDS).optional(),
    /** Final server stage: T = w · x + b on the encrypted tuple of the last round. */
    server: z.strictObject({ stage: z.literal("linear"), weights: z.array(finite), bias: finite }),
    /** Final client stage after decryption: p = sigmoid(T); class 1 when p >= threshold. */
    client: z.strictObject({ final: z.literal("sigmoid"), threshold: finite.gt(0).lt(1) }),
    fhe: z.strictObject({ parameterSet: z.enum(PARAMETER_SET_NAMES) }),
    training: z.strictObject({
      dataset: z.string().min(1),
      datasetSha256: z.string().regex(/^[0-9a-f]{64}$/),
      seed: z.number().int(),
      testFraction: finite.gt(0).lt(1),
      stratified: z.boolean(),
      l2C: finite.positive(),
      /** How the final linear stage was fitted. */
      solver: z.string().min(1),
      /** How the hidden rounds' weights were fitted (models with hidden rounds). */
      hiddenSolver: z.string().min(1).optional(),
    }),
    metrics: z.strictObject({
      train: MetricsSchema,
      test: MetricsSchema,
      /** Stratified k-fold cross-validation of the same training pipeline, seeded with training.seed. */
      crossValidation: z
        .strictObject({
          folds: z.number().int().min(2),
          /** Means over the folds of the held-out fold's accuracy and AUC. */
          accuracy: finite.min(0).max(1),
          auc: finite.min(0).max(1),
          perFold: z.array(MetricsSchema),
        })
        .optional(),
    }),
  })
  .superRefine((m, ctx) => {
    const issue = (path: (string | number)[], message: string): void => {
      ctx.addIssue({ code: "custom", path, message });
    };
    const boundMessage = `sum|w| * ${MAX_ABS_TUPLE_VALUE} + |b| must stay within ${MAX_ABS_RESULT_VALUE}, the range the encrypted result holds exactly`;

    if (m.format === "pmhe-model/1") {
      m.features.forEach((f, i) => {
        if (f.transform !== "identity" || f.input !== undefined) {
          issue(["features", i], "pmhe-model/1 features are identity transforms of the column they name; use pmhe-model/2");
        }
      });
      if (m.hidden !== undefined) issue(["hidden"], "pmhe-model/1 has no hidden rounds; use pmhe-model/2");
      if (m.metrics.crossValidation !== undefined) issue(["metrics", "crossValidation"], "not part of pmhe-model/1");
      if (m.training.hiddenSolver !== undefined) issue(["training", "hiddenSolver"], "not part of pmhe-model/1");
    } else {
      m.features.forEach((f, i) => {
        if (f.input === undefined) issue(["features", i, "input"], "pmhe-model/2 features name their input column");
      });
    }

    uniqueNames(m.features.map((f) => f.name), ["features"], "feature names must be unique", issue);

    // One-hot entries: the category is one of the listed ones, and one input has one list of categories.
    const categoriesOf = new Map<string, number[]>();
    m.features.forEach((f, i) => {
      if (f.transform !== "one-hot") return;
      if (new Set(f.categories).size !== f.categories.length) issue(["features", i, "categories"], "one-hot categories must be distinct");
      if (!f.categories.includes(f.category)) issue(["features", i, "category"], `category ${f.category} is not one of the listed categories`);
      const input = f.input ?? f.name;
      const listed = categoriesOf.get(input);
      if (listed === undefined) categoriesOf.set(input, f.categories);
      else if (listed.length !== f.categories.length || listed.some((c, k) => c !== f.categories[k])) {
        issue(["features", i, "categories"], `one-hot features of input "${input}" must list the same categories`);
      }
    });

    // Each round's matrix has one row per output, each row one weight per entry of that round's tuple.
    let tupleLength = m.features.length;
    (m.hidden ?? []).forEach((round, r) => {
      const { weights, bias } = round.server;
      const { outputs } = round.client;
      if (bias.length !== weights.length) issue(["hidden", r, "server", "bias"], `needs one bias per weight row (${weights.length})`);
      if (outputs.length !== weights.length) issue(["hidden", r, "client", "outputs"], `needs one output per weight row (${weights.length})`);
      weights.forEach((row, j) => {
        if (row.length !== tupleLength) {
          issue(["hidden", r, "server", "weights", j], `row ${j} must have one weight per entry of round ${r}'s tuple (${tupleLength})`);
        } else if (linearResultBound(row, bias[j] ?? 0) > MAX_ABS_RESULT_VALUE) {
          issue(["hidden", r, "server", "weights", j], `row ${j}: ${boundMessage}`);
        }
      });
      uniqueNames(outputs.map((o) => o.name), ["hidden", r, "client", "outputs"], "output names must be unique", issue);
      tupleLength = weights.length;
    });

    if (m.server.weights.length !== tupleLength) {
      issue(["server", "weights"], `server.weights must have one weight per feature of the last round's tuple (${tupleLength})`);
    } else if (linearResultBound(m.server.weights, m.server.bias) > MAX_ABS_RESULT_VALUE) {
      issue(["server", "weights"], boundMessage);
    }

    const cv = m.metrics.crossValidation;
    if (cv !== undefined && cv.perFold.length !== cv.folds) issue(["metrics", "crossValidation", "perFold"], `needs one entry per fold (${cv.folds})`);
  });

function uniqueNames(
  names: readonly string[],
  path: (string | number)[],
  message: string,
  issue: (path: (string | number)[], message: string) => void,
): void {
  const seen = new Set<string>();
  names.forEach((name, i) => {
    if (seen.has(name)) issue([...path, i, "name"], `${message}: "${name}" appears twice`);
    seen.add(name);
  });
}

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
    throw new ModelFormatError(`not a ${MODEL_FORMATS.join(" or ")} document: ${z.prettifyError(result.error)}`);
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

/** A patient's raw readings, keyed by input column. Categorical readings are their numeric codes. */
export type Reading = Readonly<Record<string, number>>;

export class ReadingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReadingError";
  }
}

/** The reading column a feature is computed from. */
export function featureInput(feature: Feature): string {
  return feature.input ?? feature.name;
}

/** Distinct input columns the patient must supply, in order of first use. */
export function modelInputs(model: Model): string[] {
  return [...new Set(model.features.map(featureInput))];
}

/**
 * A feature's client transform of the raw reading, before standardisation. Throws ReadingError, naming the
 * feature and its input, when the reading is missing, not a finite number, or outside the transform's domain.
 */
export function transformReading(feature: Feature, reading: Reading): number {
  const input = featureInput(feature);
  const raw: unknown = reading[input];
  const what = feature.name === input ? `feature "${input}"` : `feature "${feature.name}" (input "${input}")`;
  if (raw === undefined) throw new ReadingError(`reading has no value for "${input}", needed by ${what}`);
  if (typeof raw !== "number" || !Number.isFinite(raw)) throw new ReadingError(`${what} must be a finite number, got ${String(raw)}`);
  const domain = (condition: boolean, rule: string): void => {
    if (!condition) throw new ReadingError(`${what}: ${feature.transform} needs ${rule}, got ${raw}`);
  };
  switch (feature.transform) {
    case "identity":
      return raw;
    case "log":
      domain(raw > 0, `"${input}" > 0`);
      return Math.log(raw);
    case "log1p":
      domain(raw > -1, `"${input}" > -1`);
      return Math.log1p(raw);
    case "sqrt":
      domain(raw >= 0, `"${input}" >= 0`);
      return Math.sqrt(raw);
    case "exp": {
      const value = Math.exp(raw);
      domain(Number.isFinite(value), `e^"${input}" to be finite`);
      return value;
    }
    case "reciprocal":
      domain(raw !== 0, `"${input}" != 0`);
      return 1 / raw;
    case "power":
      return raw ** feature.exponent;
    case "one-hot":
      domain(feature.categories.includes(raw), `"${input}" to be one of ${feature.categories.join(", ")}`);
      return raw === feature.category ? 1 : 0;
  }
}

/** (value - mean) / std, refused when it leaves the range an encrypted tuple may hold. */
function standardise(value: number, entry: { name: string; mean: number; std: number }, raw: string): number {
  const z = (value - entry.mean) / entry.std;
  // A reading this far from the training data is a unit or entry error, and would leave the encrypted range.
  if (!(Math.abs(z) <= MAX_ABS_TUPLE_VALUE)) {
    throw new ReadingError(
      `"${entry.name}" = ${raw} is ${z.toFixed(1)} standard deviations from the training mean (limit ${MAX_ABS_TUPLE_VALUE}); check its units`,
    );
  }
  return z;
}

/**
 * First client stage: raw readings -> round 0's standardised tuple, in the model's feature order.
 * Refuses missing, non-finite or out-of-domain values rather than encrypting garbage the patient would never notice.
 */
export function buildTuple(model: Model, reading: Reading): number[] {
  return model.features.map((feature) => {
    const value = transformReading(feature, reading);
    const input = featureInput(feature);
    const shown = feature.transform === "identity" ? String(value) : `${value} (from "${input}" = ${reading[input]})`;
    return standardise(value, feature, shown);
  });
}

/** Rounds in the model: hidden rounds plus the final one. */
export function roundCount(model: Model): number {
  return (model.hidden?.length ?? 0) + 1;
}

function checkRound(model: Model, round: number): void {
  if (!Number.isInteger(round) || round < 0 || round >= roundCount(model)) {
    throw new RangeError(`round must be an integer in [0, ${roundCount(model) - 1}], got ${round}`);
  }
}

export function isFinalRound(model: Model, round: number): boolean {
  checkRound(model, round);
  return round === roundCount(model) - 1;
}

/** The server's work in one round: weights.length independent dot products over the same tuple, each plus its bias. */
export interface ServerStage {
  weights: number[][];
  bias: number[];
}

/** Round `round`'s linear stage as a matrix; the final round's is one row, [server.weights] with [server.bias]. */
export function serverStage(model: Model, round: number): ServerStage {
  checkRound(model, round);
  const hidden = model.hidden?.[round];
  if (hidden) return { weights: hidden.server.weights, bias: hidden.server.bias };
  return { weights: [model.server.weights], bias: [model.server.bias] };
}

/** Names of the entries of round `round`'s tuple, in tuple order. */
export function tupleNames(model: Model, round: number): string[] {
  checkRound(model, round);
  if (round === 0) return model.features.map((f) => f.name);
  return model.hidden![round - 1]!.client.outputs.map((o) => o.name);
}

export function activate(activation: Activation, t: number): number {
  switch (activation) {
    case "tanh":
      return Math.tanh(t);
    case "sigmoid":
      return sigmoid(t);
    case "softplus":
      // log(1 + e^t) without overflow for large t.
      return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
  }
}

/**
 * Client side of a round: the plaintext tuple to encrypt for round `round`. Round 0 takes the patient's reading
 * (as buildTuple); round r >= 1 takes the decrypted outputs of round r - 1, applies that round's activation and
 * standardisation, and refuses values the encrypted tuple could not hold.
 */
export function roundInput(model: Model, round: 0, previous: Reading): number[];
export function roundInput(model: Model, round: number, previous: readonly number[]): number[];
export function roundInput(model: Model, round: number, previous: Reading | readonly number[]): number[] {
  checkRound(model, round);
  if (round === 0) {
    if (Array.isArray(previous)) throw new ReadingError("round 0 takes the patient's reading, not a list of values");
    return buildTuple(model, previous as Reading);
  }
  if (!Array.isArray(previous)) throw new ReadingError(`round ${round} takes the decrypted outputs of round ${round - 1}`);
  const values = previous as readonly number[];
  const { activation, outputs } = model.hidden![round - 1]!.client;
  if (values.length !== outputs.length) {
    throw new ReadingError(`round ${round - 1} has ${outputs.length} outputs, got ${values.length} values`);
  }
  return outputs.map((output, j) => {
    const t = values[j]!;
    if (typeof t !== "number" || !Number.isFinite(t)) throw new ReadingError(`output "${output.name}" of round ${round - 1} is not a finite number: ${String(t)}`);
    return standardise(activate(activation, t), output, `${activation}(${t})`);
  });
}

/** Server side of a round, in plaintext: the values the encrypted evaluation of `serverStage(model, round)` must reproduce. */
export function roundOutput(model: Model, round: number, tuple: readonly number[]): number[] {
  const { weights, bias } = serverStage(model, round);
  const expected = weights[0]!.length;
  if (tuple.length !== expected) throw new ReadingError(`tuple has ${tuple.length} values, round ${round} expects ${expected}`);
  return weights.map((row, j) => {
    let t = bias[j]!;
    for (let i = 0; i < tuple.length; i++) t += row[i]! * tuple[i]!;
    return t;
  });
}

/** Final server stage in plaintext on the last round's tuple: the reference the encrypted evaluation must reproduce. */
export function linearLogit(model: Model, tuple: readonly number[]): number {
  return roundOutput(model, roundCount(model) - 1, tuple)[0]!;
}

export function sigmoid(t: number): number {
  // Split by sign so exp never overflows for large |t|.
  if (t >= 0) return 1 / (1 + Math.exp(-t));
  const e = Math.exp(t);
  return e / (1 + e);
}

export interface Prediction {
  logit: number;
  probability: number;
  predictedClass: 0 | 1;
}

/** Final client stage: the decrypted logit T -> p = sigmoid(T) -> class 1 when p >= threshold. */
export function finalPrediction(model: Model, logit: number): Prediction {
  const probability = sigmoid(logit);
  return { logit, probability, predictedClass: probability >= model.client.threshold ? 1 : 0 };
}

/** Every round in plaintext: each round's tuple and server outputs, then the final prediction. */
export function forwardPlaintext(model: Model, reading: Reading): Prediction & { rounds: { tuple: number[]; outputs: number[] }[] } {
  const rounds: { tuple: number[]; outputs: number[] }[] = [];
  let tuple = buildTuple(model, reading);
  for (let round = 0; ; round++) {
    const outputs = roundOutput(model, round, tuple);
    rounds.push({ tuple, outputs });
    if (isFinalRound(model, round)) return { ...finalPrediction(model, outputs[0]!), rounds };
    tuple = roundInput(model, round + 1, outputs);
  }
}

/** The whole model in plaintext, for reference and for the hospital's own evaluation. */
export function predictPlaintext(model: Model, reading: Reading): Prediction {
  const { logit, probability, predictedClass } = forwardPlaintext(model, reading);
  return { logit, probability, predictedClass };
}
