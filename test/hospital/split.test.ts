import { expect } from "chai";
import { readFileSync } from "node:fs";
import { loadDataset } from "../../hospital/dataset.js";
import { mulberry32, stratifiedKFold, stratifiedSplit } from "../../hospital/split.js";
import { expectClose } from "../helpers/close.js";

const heartLabels = loadDataset(readFileSync(new URL("../../data/statlog_heart.csv", import.meta.url), "utf8"), "target").labels;
// Three classes of uneven size, interleaved so row order says nothing about the class.
const threeClass = Array.from({ length: 41 }, (_, i) => (i % 7 === 0 ? 2 : i % 3 === 0 ? 1 : 0));

function count(labels: readonly number[], indices: readonly number[], label: number): number {
  return indices.filter((i) => labels[i] === label).length;
}

function expectPartition(parts: readonly (readonly number[])[], n: number): void {
  const all = parts.flat();
  expect(all).to.have.length(n, "every row exactly once");
  expect(new Set(all).size).to.equal(n);
  expect([...all].sort((a, b) => a - b)).to.deep.equal(Array.from({ length: n }, (_, i) => i));
}

describe("hospital/split", () => {
  it("mulberry32 is deterministic per seed and uniform-looking in [0, 1)", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).to.deep.equal(xs);
    expect(c()).to.not.equal(xs[0]);
    expect(xs.every((x) => x >= 0 && x < 1)).to.equal(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expectClose(mean, 0.5, 0.01);
    expect(xs.filter((x) => x < 0.1).length).to.be.within(900, 1100);
  });

  for (const [name, labels, fraction] of [
    ["Statlog (Heart), 20%", heartLabels, 0.2],
    ["three uneven classes, 30%", threeClass, 0.3],
  ] as const) {
    it(`stratifiedSplit is a sorted, disjoint cover with class shares within one row (${name})`, () => {
      const { train, test } = stratifiedSplit(labels, fraction, 42);
      expectPartition([train, test], labels.length);
      expect(train).to.deep.equal([...train].sort((a, b) => a - b));
      expect(test).to.deep.equal([...test].sort((a, b) => a - b));
      expect(test).to.have.length(Math.round(labels.length * fraction));
      for (const label of new Set(labels)) {
        const classSize = labels.filter((l) => l === label).length;
        expect(Math.abs(count(labels, test, label) - classSize * fraction), `class ${label}`).to.be.at.most(1);
      }
    });
  }

  it("Statlog (Heart) 80/20 has exactly 30 of 150 negatives and 24 of 120 positives held out", () => {
    const { train, test } = stratifiedSplit(heartLabels, 0.2, 42);
    expect([count(heartLabels, test, 0), count(heartLabels, test, 1)]).to.deep.equal([30, 24]);
    expect(train).to.have.length(216);
  });

  it("stratifiedSplit is deterministic for a seed and differs for another seed", () => {
    expect(stratifiedSplit(heartLabels, 0.2, 42)).to.deep.equal(stratifiedSplit(heartLabels, 0.2, 42));
    expect(stratifiedSplit(heartLabels, 0.2, 7).test).to.not.deep.equal(stratifiedSplit(heartLabels, 0.2, 42).test);
  });

  it("stratifiedSplit rejects bad fractions, seeds and splits that leave a side empty", () => {
    expect(() => stratifiedSplit(heartLabels, 0, 1)).to.throw(RangeError);
    expect(() => stratifiedSplit(heartLabels, 1, 1)).to.throw(RangeError);
    expect(() => stratifiedSplit(heartLabels, 0.2, 1.5)).to.throw(RangeError);
    expect(() => stratifiedSplit([0, 1], 0.1, 1)).to.throw(RangeError);
  });

  it("stratifiedKFold partitions the rows into balanced, stratified folds", () => {
    for (const labels of [heartLabels, threeClass]) {
      const folds = stratifiedKFold(labels, 5, 42);
      expect(folds).to.have.length(5);
      expectPartition(folds.map((f) => f.test), labels.length);
      const sizes = folds.map((f) => f.test.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).to.be.at.most(1);
      for (const fold of folds) {
        expectPartition([fold.train, fold.test], labels.length);
      }
      for (const label of new Set(labels)) {
        const perFold = folds.map((f) => count(labels, f.test, label));
        expect(Math.max(...perFold) - Math.min(...perFold), `class ${label}`).to.be.at.most(1);
      }
    }
    expect(stratifiedKFold(heartLabels, 5, 42)).to.deep.equal(stratifiedKFold(heartLabels, 5, 42));
    expect(stratifiedKFold(heartLabels, 5, 1)).to.not.deep.equal(stratifiedKFold(heartLabels, 5, 42));
    expect(() => stratifiedKFold(heartLabels, 1, 42)).to.throw(RangeError);
  });
});
