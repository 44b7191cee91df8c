import { InputSourceSchema } from "./intake/input-source.js";
import { VITAL_SIGNS } from "./intake/vital-signs.js";
import { z } from "zod";
import { canonicalJsonBytes } from "./canonical-json.js";
import { linearResultBound, MAX_ABS_RESULT_VALUE, MAX_ABS_TUPLE_VALUE } from "./fhe/bounds.js";
import { layoutProblem, MAX_TUPLE_VALUES, maxTupleValues } from "./fhe/layouts.js";
import { PARAMETER_SET_NAMES, parameterSet } from "./fhe/params.js";
import { polynomialDepth } from "./fhe/polynomial-depth.js";
import { evaluateSigmoidPolynomial } from "./fhe/sigmoid.js";
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
 *
 * `inputs` (optional, pmhe-model/2) says how a person enters each input column: label, UCUM unit, kind, plausible
 * range or labelled choices. It changes nothing the server evaluates, and a document without it has the same bytes
 * and so the same hash (its on-chain identity) as before the field existed, so the format id stays pmhe-model/2.
 *
 * `missing` (optional, pmhe-model/2) is the model's missing-value policy, the one its training data was prepared
 * with: "drop" (rows lacking an input the model reads were left out of training; a reading lacking one cannot be
 * predicted) or "median" (an empty cell was filled with its column's median over the training rows; a reading
 * lacking an input is filled with the recorded median). Like `inputs`, a document without it hashes as before.
 */
export const MODEL_FORMAT = "pmhe-model/2";
export const MODEL_FORMATS = ["pmhe-model/1", MODEL_FORMAT] as const;

/**
 * Entries per tuple: the widest any parameter set takes (`maxTupleValues`, protocol/fhe/layouts.ts, where it is
 * derived from the slots); a model's own set may take fewer, which the schema checks.
 */
export const MAX_FEATURES = MAX_TUPLE_VALUES;
/** Hidden values per round: a hidden round evaluates h copies of its tuple packed in one ciphertext. */
export const MAX_HIDDEN_UNITS = 16;
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

/**
 * How a person (or later a device) supplies one raw input column: what a form shows for it and the readings the
 * client accepts. One entry per input column of the features, in the order a form shows them. Kinds:
 *   number    a measurement in `unit`, min <= x <= max; `step` is the form's increment (a hint, not a rule)
 *   integer   a whole number (a count, an age in years) in `unit`, min <= x <= max
 *   choice    a coded category: x must be one of `choices`' values, each shown by its label; for an input with
 *             one-hot features, the values are exactly the one-hot categories
 * `unit` is a UCUM code as FHIR's Quantity.code writes it ("mm[Hg]", "mg/dL", "/min", "a" for years, "1" for a
 * pure number, an annotation such as "{vessels}" for a count). min and max are the range a reading may plausibly
 * take (an entry error lies outside), not the training data's extremes.
 * An optional `source` says where the value can come from without the form (a wearable series by LOINC code over a
 * window with an aggregation and a gap policy, a lab Observation, or the patient's profile): see
 * protocol/intake/input-source.ts. Entries are keyed by `name`, the reading key.
 */
const ucum = z.string().regex(/^[!-~]+$/, "a UCUM code: printable ASCII without spaces, e.g. mm[Hg], mg/dL, /min, 1");
const inputBase = {
  /** The reading key: the `input` of the features computed from it. */
  name: entryName,
  /** What a form shows, e.g. "Resting blood pressure". */
  label: z.string().min(1),
  /** Longer help for the form, e.g. how the value is measured. */
  description: z.string().min(1).optional(),
  /** Where the value can come from without the form: a wearable series, a lab value or the profile (intake/input-source.ts). */
  source: InputSourceSchema.optional(),
};
export const InputChoiceSchema = z.strictObject({ value: finite, label: z.string().min(1) });
export type InputChoice = z.infer<typeof InputChoiceSchema>;

/** Keys that belong to another kind are refused by name: choices only for "choice", unit and range only for the others. */
const kindKeys = (kind: string) => ({
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === "unrecognized_keys"
      ? `${kind} inputs have no ${issue.keys!.join(", ")}` +
        (kind === "choice" ? " (a choice input accepts exactly its choices' values)" : issue.keys!.includes("choices") ? ' (choices are only for kind "choice")' : "")
      : undefined,
});

export const ModelInputSchema = z
  .discriminatedUnion("kind", [
    z.strictObject(
      { ...inputBase, kind: z.literal("number"), unit: ucum, min: finite, max: finite, step: finite.positive().optional() },
      kindKeys("number"),
    ),
    z.strictObject(
      {
        ...inputBase,
        kind: z.literal("integer"),
        unit: ucum,
        min: z.number().int(),
        max: z.number().int(),
        step: z.number().int().positive().optional(),
      },
      kindKeys("integer"),
    ),
    z.strictObject(
      { ...inputBase, kind: z.literal("choice"), choices: z.array(InputChoiceSchema).min(2, "a choice input lists at least two choices") },
      kindKeys("choice"),
    ),
  ])
  .superRefine((input, ctx) => {
    const source = input.source;
    if (source?.from === "profile" && (source.field === "sex") !== (input.kind === "choice")) {
      ctx.addIssue({ code: "custom", path: ["source"], message: source.field === "sex" ? "sex comes from the profile only into a choice input" : "age comes from the profile only into a number or integer input" });
    }
    if ((source?.from === "wearable" || source?.from === "lab") && (input.kind === "choice" || VITAL_SIGNS[source.code]!.unit !== input.unit)) {
      ctx.addIssue({ code: "custom", path: ["source"], message: `${source.code} is kept in ${VITAL_SIGNS[source.code]!.unit}: the input's unit must be that one` });
    }
    if (input.kind === "choice") {
      const values = input.choices.map((c) => c.value);
      if (new Set(values).size !== values.length) ctx.addIssue({ code: "custom", path: ["choices"], message: "choice values must be distinct" });
      return;
    }
    if (!(input.min < input.max)) ctx.addIssue({ code: "custom", path: ["max"], message: `min (${input.min}) must be less than max (${input.max})` });
    else if (input.step !== undefined && input.step > input.max - input.min) {
      ctx.addIssue({ code: "custom", path: ["step"], message: `step ${input.step} is wider than the range ${input.min} to ${input.max}` });
    }
  });
export type ModelInput = z.infer<typeof ModelInputSchema>;

/**
 * The missing-value policy. "median" records one median per input column the features read (the column's median
 * over the training rows), which the client puts in place of a missing value.
 */
export const MISSING_POLICIES = ["drop", "median"] as const;
export type MissingPolicy = (typeof MISSING_POLICIES)[number];
export const MissingValuesSchema = z.discriminatedUnion("policy", [
  z.strictObject({ policy: z.literal("drop") }),
  z.strictObject({ policy: z.literal("median"), medians: z.record(entryName, finite) }),
]);
export type MissingValues = z.infer<typeof MissingValuesSchema>;

/**
 * The non-interactive variant's polynomial (protocol/fhe/sigmoid.ts): p(T) = Σ coefficients[k] u^k with
 * u = (2T − a − b)/(b − a) on the interval [a, b] of logits the fit covers, which must hold the training data's logits.
 * The degree is at most what the parameter set's depth leaves after the linear stage (3 at ckks-n8192-d3).
 */
export const SigmoidStageSchema = z.strictObject({
  degree: z.number().int().min(1).max(3),
  interval: z.tuple([finite, finite]),
  coefficients: z.array(finite),
  /** max |p(T) − σ(T)| over the interval, as fitted (for the reader; the server does not use it). */
  maxError: finite.nonnegative(),
});
export type SigmoidStage = z.infer<typeof SigmoidStageSchema>;

/** A hidden round: the server computes h = W x + b (h rows), the client decrypts and applies the activation. */
export const HiddenRoundSchema = z.strictObject({
  server: z.strictObject({
    stage: z.literal("linear"),
    /** One row per hidden value, each row one weight per entry of the round's tuple. */
    weights: z.array(z.array(finite)).min(1).max(MAX_HIDDEN_UNITS),
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
    /** How each input column is entered and which readings are accepted, in form order (pmhe-model/2, optional). */
    inputs: z.array(ModelInputSchema).min(1).max(MAX_FEATURES).optional(),
    /** How a missing value is handled, in training and in the client (pmhe-model/2, optional). */
    missing: MissingValuesSchema.optional(),
    /** Rounds before the final one (absent for a one-round model such as logistic regression). */
    hidden: z.array(HiddenRoundSchema).min(1).max(MAX_HIDDEN_ROUNDS).optional(),
    /**
     * Final server stage: T = w · x + b on the encrypted tuple of the last round; with `sigmoid` (the non-interactive
     * variant, one-round models only) the server goes on to p(T) ≈ σ(T) and the patient decrypts a probability.
     */
    server: z.strictObject({ stage: z.literal("linear"), weights: z.array(finite), bias: finite, sigmoid: SigmoidStageSchema.optional() }),
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
      if (m.inputs !== undefined) issue(["inputs"], "not part of pmhe-model/1; use pmhe-model/2");
      if (m.missing !== undefined) issue(["missing"], "not part of pmhe-model/1; use pmhe-model/2");
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

    if (m.inputs !== undefined) checkInputs(m.features, m.inputs, issue);
    if (m.missing?.policy === "median") checkMedians(m.features, m.inputs, m.missing.medians, issue);

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

    // Every round's tuple must fit the model's parameter set, and hidden rounds need a level to mask their h results.
    const set = m.fhe.parameterSet;
    const widest = maxTupleValues(set);
    const widths = [m.features.length, ...(m.hidden ?? []).map((round) => round.server.weights.length)];
    widths.forEach((width, r) => {
      if (width > widest) {
        issue(r === 0 ? ["features"] : ["hidden", r - 1, "server", "weights"], `round ${r}'s tuple has ${width} entries; ${set} takes at most ${widest} (a set with more slots takes wider tuples)`);
      }
    });
    const poly = m.server.sigmoid;
    if (poly !== undefined) {
      const levels = 1 + polynomialDepth(poly.degree);
      if (m.format === "pmhe-model/1") issue(["server", "sigmoid"], "not part of pmhe-model/1; use pmhe-model/2");
      if (m.hidden !== undefined) issue(["server", "sigmoid"], "the non-interactive variant is for one-round models (the hidden rounds' results are decrypted anyway)");
      if (parameterSet(set).depth < levels) {
        issue(["server", "sigmoid"], `${set} has depth ${parameterSet(set).depth}: the linear stage and a degree-${poly.degree} polynomial need ${levels} (use ckks-n8192-d3)`);
      }
      if (poly.coefficients.length !== poly.degree + 1) issue(["server", "sigmoid", "coefficients"], `a degree-${poly.degree} polynomial has ${poly.degree + 1} coefficients`);
      if (!(poly.interval[0] < poly.interval[1])) issue(["server", "sigmoid", "interval"], "the interval [a, b] needs a < b");
    }
    if (m.hidden !== undefined) {
      const problem = layoutProblem("packed-records", set);
      if (problem) issue(["fhe", "parameterSet"], `a model with hidden rounds evaluates them packed: ${problem}`);
    }

    if (m.server.weights.length !== tupleLength) {
      issue(["server", "weights"], `server.weights must have one weight per feature of the last round's tuple (${tupleLength})`);
    } else if (linearResultBound(m.server.weights, m.server.bias) > MAX_ABS_RESULT_VALUE) {
      issue(["server", "weights"], boundMessage);
    }

    const cv = m.metrics.crossValidation;
    if (cv !== undefined && cv.perFold.length !== cv.folds) issue(["metrics", "crossValidation", "perFold"], `needs one entry per fold (${cv.folds})`);
  });

/**
 * The inputs declare exactly the features' input columns; a one-hot input is a choice whose values are its
 * categories; and every reading the declared range (or the choices) admits lies in each of its transforms' domains,
 * so a reading the form accepts is never refused as, say, the log of 0.
 */
function checkInputs(
  features: readonly Feature[],
  inputs: readonly ModelInput[],
  issue: (path: (string | number)[], message: string) => void,
): void {
  uniqueNames(inputs.map((input) => input.name), ["inputs"], "input names must be unique", issue);
  const index = new Map(inputs.map((input, k) => [input.name, k]));
  const used = new Set<string>();
  features.forEach((f, i) => {
    const name = featureInput(f);
    const first = !used.has(name);
    used.add(name);
    const k = index.get(name);
    if (k === undefined) {
      if (first) issue(["features", i, "input"], `input "${name}" of feature "${f.name}" has no entry in inputs`);
      return;
    }
    const input = inputs[k]!;
    if (f.transform === "one-hot") {
      // One-hot features of one input share their categories (checked above): one verdict per input.
      if (!first && features.slice(0, i).some((g) => g.transform === "one-hot" && featureInput(g) === name)) return;
      if (input.kind !== "choice") {
        issue(["inputs", k, "kind"], `"${name}" has one-hot features, so it is a choice input, not ${input.kind}`);
        return;
      }
      const values = input.choices.map((c) => c.value);
      if (values.length !== f.categories.length || !f.categories.every((c) => values.includes(c))) {
        issue(["inputs", k, "choices"], `the choices of "${name}" (${values.join(", ")}) must be the one-hot categories of feature "${f.name}" (${f.categories.join(", ")})`);
      }
      return;
    }
    const domain = TRANSFORM_DOMAINS[f.transform as keyof typeof TRANSFORM_DOMAINS];
    if (domain === undefined) return;
    const outside =
      input.kind === "choice"
        ? input.choices.map((c) => c.value).filter((v) => !domain.admits(v))
        : domain.admitsRange(input.min, input.max)
          ? []
          : [input.min, input.max];
    if (outside.length > 0) {
      const range = input.kind === "choice" ? `choice ${outside.join(", ")}` : `range ${input.min} to ${input.max}`;
      issue(["inputs", k], `the ${range} of "${name}" leaves the domain of feature "${f.name}": ${f.transform} needs ${domain.rule(name)}`);
    }
  });
  inputs.forEach((input, k) => {
    if (!used.has(input.name)) issue(["inputs", k, "name"], `"${input.name}" is not the input of any feature`);
  });
}

/**
 * Exactly one median per input column the features read; each one a value the client may put in the tuple: inside
 * the input's range when the model declares inputs (for a choice input, the span of its values: the median of an
 * even count of coded values may lie between two codes), and in the domain of every transform of the input (for a
 * one-hot feature, one of its categories).
 */
function checkMedians(
  features: readonly Feature[],
  inputs: readonly ModelInput[] | undefined,
  medians: Readonly<Record<string, number>>,
  issue: (path: (string | number)[], message: string) => void,
): void {
  const read = [...new Set(features.map(featureInput))];
  for (const name of Object.keys(medians)) {
    if (!read.includes(name)) issue(["missing", "medians", name], `"${name}" is not the input of any feature`);
  }
  for (const name of read) {
    const median = medians[name];
    if (median === undefined) {
      issue(["missing", "medians"], `no median for "${name}": the median policy records one for every input the features read`);
      continue;
    }
    const input = inputs?.find((i) => i.name === name);
    if (input !== undefined) {
      const values = input.kind === "choice" ? input.choices.map((c) => c.value) : [input.min, input.max];
      const [min, max] = [Math.min(...values), Math.max(...values)];
      if (!(median >= min && median <= max)) issue(["missing", "medians", name], `the median ${median} of "${name}" is outside its range ${min} to ${max}`);
    }
    for (const f of features) {
      if (featureInput(f) !== name) continue;
      if (f.transform === "one-hot") {
        if (!f.categories.includes(median)) {
          issue(["missing", "medians", name], `the median ${median} of "${name}" is not one of the categories of feature "${f.name}" (${f.categories.join(", ")})`);
          break;
        }
        continue;
      }
      const domain = TRANSFORM_DOMAINS[f.transform as keyof typeof TRANSFORM_DOMAINS];
      if (domain !== undefined && !domain.admits(median)) {
        issue(["missing", "medians", name], `the median ${median} of "${name}" leaves the domain of feature "${f.name}": ${f.transform} needs ${domain.rule(name)}`);
        break;
      }
    }
  }
}

interface Domain {
  admits(x: number): boolean;
  /** Every x in [min, max] is admitted. */
  admitsRange(min: number, max: number): boolean;
  rule(input: string): string;
}

const interval = (admits: (x: number) => boolean, rule: (input: string) => string): Domain => ({
  admits,
  admitsRange: (min, max) => admits(min) && admits(max),
  rule,
});

/** Domains of the transforms that have one (identity and power take any finite x; one-hot its categories). */
const TRANSFORM_DOMAINS = {
  log: interval((x) => x > 0, (input) => `"${input}" > 0`),
  log1p: interval((x) => x > -1, (input) => `"${input}" > -1`),
  sqrt: interval((x) => x >= 0, (input) => `"${input}" >= 0`),
  exp: interval((x) => Number.isFinite(Math.exp(x)), (input) => `e^"${input}" to be finite`),
  reciprocal: {
    admits: (x: number) => x !== 0,
    admitsRange: (min: number, max: number) => min > 0 || max < 0,
    rule: (input: string) => `"${input}" != 0`,
  },
} satisfies Partial<Record<SimpleTransform, Domain>>;

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
  /** The input column the refused value belongs to, when it is one reading (a form shows the message at that field). */
  readonly input: string | undefined;

  constructor(message: string, input?: string) {
    super(message);
    this.name = "ReadingError";
    this.input = input;
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

/** The model's description of input column `name`, when the model declares its inputs. */
export function inputOf(model: Model, name: string): ModelInput | undefined {
  return model.inputs?.find((input) => input.name === name);
}

/** A UCUM code as a person reads it: "1" (a pure number) is nothing, an annotation "{vessels}" its text. */
export function displayUnit(unit: string): string {
  if (unit === "1") return "";
  return /^\{[^{}]*\}$/.test(unit) ? unit.slice(1, -1) : unit;
}

/** `"trestbps" (Resting blood pressure)`: how messages name an input. */
function inputTitle(input: ModelInput): string {
  return `"${input.name}" (${input.label})`;
}

/** What `input` accepts, as a message says it: "from 60 to 260 mm[Hg]", "one of 0 = female, 1 = male". */
export function describeAllowed(input: ModelInput): string {
  if (input.kind === "choice") return `one of ${input.choices.map((c) => `${c.value} = ${c.label}`).join(", ")}`;
  const unit = displayUnit(input.unit);
  const range = `from ${input.min} to ${input.max}${unit === "" ? "" : ` ${unit}`}`;
  return input.kind === "integer" ? `a whole number ${range}` : range;
}

/**
 * One reading of a declared input: refused with a ReadingError naming the input, its label and what it accepts
 * when it is not a finite number, lies outside [min, max], is not whole for an integer input, or is not one of a
 * choice input's values. Returns the value. For a form's field-by-field check as much as for the tuple builder.
 */
export function checkInputValue(input: ModelInput, value: unknown): number {
  const refuse = (what: string): never => {
    throw new ReadingError(`${inputTitle(input)} must be ${what}, got ${String(value)}`, input.name);
  };
  if (value === undefined) throw new ReadingError(`reading has no value for ${inputTitle(input)}, ${describeAllowed(input)}`, input.name);
  if (typeof value !== "number" || !Number.isFinite(value)) return refuse(`a finite number, ${describeAllowed(input)}`);
  if (input.kind === "choice") {
    if (!input.choices.some((c) => c.value === value)) refuse(describeAllowed(input));
    return value;
  }
  if (input.kind === "integer" && !Number.isInteger(value)) refuse(describeAllowed(input));
  if (!(value >= input.min && value <= input.max)) refuse(describeAllowed(input));
  return value;
}

/** A reading's value counts as missing when it is absent or NaN. */
export function isMissingValue(value: unknown): boolean {
  return value === undefined || (typeof value === "number" && Number.isNaN(value));
}

/**
 * What the model's missing-value policy puts in place of a missing value of input `name`: its median under
 * "median"; under "drop" a ReadingError naming the input (and its label, given its description) and the policy.
 */
function missingValue(name: string, input: ModelInput | undefined, missing: MissingValues): number {
  if (missing.policy === "median") {
    const median = missing.medians[name];
    if (median !== undefined) return median;
  }
  const title = input !== undefined ? inputTitle(input) : `"${name}"`;
  throw new ReadingError(
    `reading has no value for ${title}; this model's missing-value policy is "${missing.policy}": such a reading cannot be predicted`,
    name,
  );
}

/**
 * Every declared input of the reading, in form order (nothing to check for a model that declares none). A missing
 * value is accepted when the model's policy is "median" (the median takes its place), refused under "drop".
 */
export function checkReading(model: Model, reading: Reading): void {
  for (const input of model.inputs ?? []) {
    const value = reading[input.name];
    if (model.missing !== undefined && isMissingValue(value)) missingValue(input.name, input, model.missing);
    else checkInputValue(input, value);
  }
}

/**
 * A feature's client transform of the raw reading, before standardisation. Throws ReadingError, naming the
 * feature and its input, when the reading is missing, not a finite number, or outside the transform's domain;
 * given the input's description (`inputOf(model, ...)`, as buildTuple passes it), also when it lies outside
 * the input's range or choices. Given the model's missing-value policy (`model.missing`), a missing (absent or NaN)
 * value is its median (not checked against the input's description: the model's validation did that) or, under
 * "drop", a ReadingError naming the input and the policy.
 */
export function transformReading(feature: Feature, reading: Reading, input?: ModelInput, missing?: MissingValues): number {
  const name = featureInput(feature);
  let raw: unknown = reading[name];
  const what = feature.name === name ? `feature "${name}"` : `feature "${feature.name}" (input "${name}")`;
  if (input !== undefined && input.name !== name) throw new RangeError(`input "${input.name}" is not the input of ${what}`);
  const filled = missing !== undefined && isMissingValue(raw);
  if (filled) raw = missingValue(name, input, missing);
  if (input !== undefined && !filled) {
    if (raw === undefined) throw new ReadingError(`reading has no value for ${inputTitle(input)}, needed by ${what}`, name);
    checkInputValue(input, raw);
  }
  if (raw === undefined) throw new ReadingError(`reading has no value for "${name}", needed by ${what}`, name);
  if (typeof raw !== "number" || !Number.isFinite(raw)) throw new ReadingError(`${what} must be a finite number, got ${String(raw)}`, name);
  const domain = (condition: boolean, rule: string): void => {
    if (!condition) throw new ReadingError(`${what}: ${feature.transform} needs ${rule}, got ${raw}`, name);
  };
  if (feature.transform === "one-hot") {
    domain(feature.categories.includes(raw), `"${name}" to be one of ${feature.categories.join(", ")}`);
    return raw === feature.category ? 1 : 0;
  }
  if (feature.transform !== "identity" && feature.transform !== "power") {
    const rule = TRANSFORM_DOMAINS[feature.transform];
    domain(rule.admits(raw), rule.rule(name));
  }
  switch (feature.transform) {
    case "identity":
      return raw;
    case "log":
      return Math.log(raw);
    case "log1p":
      return Math.log1p(raw);
    case "sqrt":
      return Math.sqrt(raw);
    case "exp":
      return Math.exp(raw);
    case "reciprocal":
      return 1 / raw;
    case "power":
      return raw ** feature.exponent;
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
 * Refuses missing, non-finite or out-of-domain values, and values outside the range or choices the model declares
 * for the input, rather than encrypting garbage the patient would never notice; a missing value is filled with the
 * recorded median when the model's missing-value policy is "median".
 */
export function buildTuple(model: Model, reading: Reading): number[] {
  return model.features.map((feature) => {
    const input = featureInput(feature);
    const value = transformReading(feature, reading, inputOf(model, input), model.missing);
    const raw = reading[input];
    const from = model.missing?.policy === "median" && isMissingValue(raw) ? `the median ${model.missing.medians[input]}` : String(raw);
    const shown = feature.transform === "identity" ? String(value) : `${value} (from "${input}" = ${from})`;
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

/** The stage of the final round's result: "linear" (T), or "sigmoid-poly" (p(T)) for the non-interactive variant. */
export function finalResultStage(model: Model): "linear" | "sigmoid-poly" {
  return model.server.sigmoid ? "sigmoid-poly" : "linear";
}

/** The stage of round `round`'s result: hidden rounds are linear, the final one `finalResultStage`. */
export function roundResultStage(model: Model, round: number): "linear" | "sigmoid-poly" {
  return isFinalRound(model, round) ? finalResultStage(model) : "linear";
}

/** What the final round's result holds for a logit T: T itself, or p(T) for the non-interactive variant. */
export function finalServerValue(model: Model, logit: number): number {
  const poly = model.server.sigmoid;
  return poly ? evaluateSigmoidPolynomial(poly, logit) : logit;
}

/** Probabilities a polynomial gives just outside [0, 1] are clamped this far inside, so their logit stays finite. */
const PROBABILITY_FLOOR = 1e-9;

/**
 * Final client stage on the decrypted value of the final round: the logit T -> p = sigmoid(T), or for the
 * non-interactive variant the server's p(T) itself (clamped into [0, 1]; its logit is ln(p / (1 - p))). Class 1 when
 * p >= threshold.
 */
export function finalPrediction(model: Model, value: number): Prediction {
  if (model.server.sigmoid) {
    const probability = Math.min(1, Math.max(0, value));
    const inside = Math.min(1 - PROBABILITY_FLOOR, Math.max(PROBABILITY_FLOOR, probability));
    return { logit: Math.log(inside / (1 - inside)), probability, predictedClass: probability >= model.client.threshold ? 1 : 0 };
  }
  const probability = sigmoid(value);
  return { logit: value, probability, predictedClass: probability >= model.client.threshold ? 1 : 0 };
}

/** Every round in plaintext: each round's tuple and server outputs, then the final prediction. */
export function forwardPlaintext(model: Model, reading: Reading): Prediction & { rounds: { tuple: number[]; outputs: number[] }[] } {
  const rounds: { tuple: number[]; outputs: number[] }[] = [];
  let tuple = buildTuple(model, reading);
  for (let round = 0; ; round++) {
    const outputs = roundOutput(model, round, tuple);
    rounds.push({ tuple, outputs });
    if (isFinalRound(model, round)) return { ...finalPrediction(model, finalServerValue(model, outputs[0]!)), rounds };
    tuple = roundInput(model, round + 1, outputs);
  }
}

/** The whole model in plaintext, for reference and for the hospital's own evaluation. */
export function predictPlaintext(model: Model, reading: Reading): Prediction {
  const { logit, probability, predictedClass } = forwardPlaintext(model, reading);
  return { logit, probability, predictedClass };
}
