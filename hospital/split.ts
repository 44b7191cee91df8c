/**
 * Seeded, reproducible data splits. The same labels and seed give the same split on every platform, so a
 * published model's training rows can be recomputed from the data set and the seed recorded in the model.
 */

/** mulberry32: a small 32-bit PRNG, uniform in [0, 1). Not cryptographic; used only to shuffle rows. */
export function mulberry32(seed: number): () => number {
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle in place. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}

/** Row indices grouped by label, classes in ascending label order, indices ascending within a class. */
function indicesByClass(labels: readonly number[]): number[][] {
  const groups = new Map<number, number[]>();
  labels.forEach((label, index) => {
    if (!Number.isFinite(label)) throw new RangeError(`label of row index ${index} is not a finite number`);
    const group = groups.get(label);
    if (group) group.push(index);
    else groups.set(label, [index]);
  });
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, indices]) => indices);
}

export interface Split {
  /** Row indices, ascending. */
  train: number[];
  /** Row indices, ascending. */
  test: number[];
}

/**
 * Stratified train/test split. The test set has round(n * testFraction) rows, shared among the classes by
 * largest remainder, so every class contributes within one row of its exact share n_c * testFraction.
 * Each class is shuffled with one seeded PRNG (classes in ascending label order) and its first rows go to test.
 */
export function stratifiedSplit(labels: readonly number[], testFraction: number, seed: number): Split {
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`testFraction must be in (0, 1), got ${testFraction}`);
  const random = mulberry32(seed);
  const classes = indicesByClass(labels);
  const total = labels.length;
  const testTotal = Math.round(total * testFraction);
  if (testTotal < 1 || testTotal >= total) {
    throw new RangeError(`a test fraction of ${testFraction} of ${total} rows leaves an empty train or test set`);
  }

  // Largest-remainder apportionment of testTotal among the classes; ties go to the lower label.
  const exact = classes.map((indices) => (indices.length * testTotal) / total);
  const counts = exact.map(Math.floor);
  let remaining = testTotal - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((value, c) => ({ c, remainder: value - Math.floor(value) })).sort((a, b) => b.remainder - a.remainder || a.c - b.c);
  for (const { c } of order) {
    if (remaining === 0) break;
    counts[c]! += 1;
    remaining -= 1;
  }

  const train: number[] = [];
  const test: number[] = [];
  classes.forEach((indices, c) => {
    const shuffled = shuffle([...indices], random);
    const n = counts[c]!;
    test.push(...shuffled.slice(0, n));
    train.push(...shuffled.slice(n));
  });
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/**
 * Stratified k-fold partition. Each class is shuffled with one seeded PRNG and dealt round-robin to the folds,
 * continuing from where the previous class stopped, so fold sizes differ by at most one row and so do each
 * class's counts per fold. Fold i uses fold i as test and the rest as train.
 */
export function stratifiedKFold(labels: readonly number[], k: number, seed: number): Split[] {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`k must be an integer >= 2, got ${k}`);
  if (k > labels.length) throw new RangeError(`k = ${k} folds need at least ${k} rows, got ${labels.length}`);
  const random = mulberry32(seed);
  const foldOf = new Array<number>(labels.length);
  let next = 0;
  for (const indices of indicesByClass(labels)) {
    for (const index of shuffle([...indices], random)) {
      foldOf[index] = next;
      next = (next + 1) % k;
    }
  }
  return Array.from({ length: k }, (_, fold) => {
    const train: number[] = [];
    const test: number[] = [];
    foldOf.forEach((f, index) => (f === fold ? test : train).push(index));
    return { train, test };
  });
}
