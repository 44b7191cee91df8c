import { expect } from "chai";
import { accuracy, accuracyAtThreshold, rocAuc } from "../../hospital/metrics.js";
import { expectClose } from "../helpers/close.js";

describe("hospital/metrics", () => {
  it("accuracy counts matches; the threshold is inclusive like the client's p >= threshold", () => {
    expect(accuracy([1, 0, 1, 1], [1, 0, 0, 1])).to.equal(0.75);
    // predicted 1, 0, 0, 1 (0.5 counts as class 1)
    expect(accuracyAtThreshold([1, 0, 1, 1], [0.5, 0.49, 0.2, 0.9], 0.5)).to.equal(0.75);
    expect(accuracyAtThreshold([0, 0], [0.5, 0.7], 0.8)).to.equal(1);
  });

  it("AUC is 1 for a perfect ranking, 0 for a reversed one, 1/2 when everything ties", () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])).to.equal(1);
    expect(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4])).to.equal(0);
    expect(rocAuc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3])).to.equal(0.5);
  });

  it("AUC counts a tied positive/negative pair as 1/2 (hand-counted)", () => {
    // positives 0.5, 0.9; negatives 0.1, 0.5. Pairs: (0.5,0.1)=1 (0.5,0.5)=1/2 (0.9,0.1)=1 (0.9,0.5)=1 -> 3.5/4
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9])).to.equal(0.875);
    // positives 0.8, 0.3, 0.3; negatives 0.8, 0.1.
    // (0.8,0.8)=1/2 (0.8,0.1)=1 (0.3,0.8)=0 (0.3,0.1)=1 (0.3,0.8)=0 (0.3,0.1)=1 -> 3.5/6
    expectClose(rocAuc([1, 0, 1, 0, 1], [0.8, 0.8, 0.3, 0.1, 0.3]), 3.5 / 6, 1e-15);
    // Same rows in another order.
    expectClose(rocAuc([1, 1, 0, 1, 0], [0.3, 0.8, 0.1, 0.3, 0.8]), 3.5 / 6, 1e-15);
    // Three-way tie across classes: pos {2, 2, 3}, neg {1, 2, 2}.
    // pos 2: vs 1 -> 1, vs 2 -> 1/2, vs 2 -> 1/2 = 2 (twice: 4); pos 3: 3. Total 7/9.
    expectClose(rocAuc([1, 1, 1, 0, 0, 0], [2, 2, 3, 1, 2, 2]), 7 / 9, 1e-15);
  });

  it("AUC needs both classes and 0/1 labels", () => {
    expect(() => rocAuc([1, 1], [0.2, 0.3])).to.throw(RangeError);
    expect(() => rocAuc([0, 2], [0.2, 0.3])).to.throw(RangeError);
    expect(() => rocAuc([0, 1], [0.2])).to.throw(RangeError);
  });
});
