import { expect } from "chai";
import { parameterSetProblem, smallestParameterSet } from "../../protocol/fhe/choose-parameter-set.js";

describe("protocol/fhe/choose-parameter-set: the smallest 128-bit set that holds a model", function () {
  it("puts a linear model of up to 128 inputs on N=4096 and a wider one on N=8192", function () {
    expect(smallestParameterSet({ width: 13, depth: 1, packed: false })).to.equal("ckks-n4096-linear");
    expect(smallestParameterSet({ width: 128, depth: 1, packed: false })).to.equal("ckks-n4096-linear");
    expect(smallestParameterSet({ width: 129, depth: 1, packed: false })).to.equal("ckks-n8192-d3");
  });

  it("needs the depth-3 set for the sigmoid polynomial and for hidden rounds (evaluated packed)", function () {
    expect(smallestParameterSet({ width: 13, depth: 3, packed: false })).to.equal("ckks-n8192-d3");
    expect(smallestParameterSet({ width: 13, depth: 1, packed: true })).to.equal("ckks-n8192-d3");
    expect(parameterSetProblem("ckks-n4096-linear", { width: 13, depth: 3, packed: false })).to.match(/depth 1, the model needs 3/);
  });

  it("refuses a model no set holds, naming why for each", function () {
    expect(() => smallestParameterSet({ width: 300, depth: 1, packed: false })).to.throw(RangeError, /at most 128.*at most 256/);
    expect(() => smallestParameterSet({ width: 13, depth: 4, packed: false })).to.throw(RangeError, /depth 3, the model needs 4/);
  });
});
