import { expect } from "chai";
import { DatasetError } from "../../hospital/csv.js";
import { fitStandardiser, standardiseRow, ZeroVarianceError } from "../../hospital/standardise.js";
import { expectClose } from "../helpers/close.js";

describe("hospital/standardise", () => {
  it("uses the mean and the population standard deviation (ddof = 0)", () => {
    // Column a = 1, 3, 5: mean 3, variance (4 + 0 + 4) / 3 = 8/3. Column b = 10, 10, 13: mean 11, variance (1+1+4)/3 = 2.
    const s = fitStandardiser([[1, 10], [3, 10], [5, 13]], ["a", "b"]);
    expect(s.mean).to.deep.equal([3, 11]);
    expectClose(s.std[0]!, Math.sqrt(8 / 3), 1e-15);
    expectClose(s.std[1]!, Math.sqrt(2), 1e-15);
    const z = standardiseRow(s, [5, 11]);
    expectClose(z[0]!, 2 / Math.sqrt(8 / 3), 1e-15);
    expect(z[1]!).to.equal(0);
  });

  it("rejects a constant column by name, even when rounding leaves a tiny residue", () => {
    for (const constant of [7, 0.1, 1e6 + 0.3]) {
      try {
        fitStandardiser([[1, constant], [2, constant], [4, constant]], ["a", "flat"]);
        expect.fail(`accepted constant ${constant}`);
      } catch (err) {
        expect(err).to.be.instanceOf(ZeroVarianceError);
        expect(err).to.be.instanceOf(DatasetError);
        expect((err as ZeroVarianceError).column).to.equal("flat");
        expect((err as Error).message).to.contain('"flat"');
      }
    }
  });
});
