import { expect } from "chai";
import { DatasetError } from "../../hospital/csv.js";
import { loadDataset, readingFromRow } from "../../hospital/dataset.js";

describe("hospital/dataset", () => {
  it("splits the target column from the features, keeping column order", () => {
    const ds = loadDataset("x,target,y\n1,0,2\n3,1,4\n", "target");
    expect(ds.featureNames).to.deep.equal(["x", "y"]);
    expect(ds.features).to.deep.equal([[1, 2], [3, 4]]);
    expect(ds.labels).to.deep.equal([0, 1]);
  });

  it("rejects a missing target column and non-0/1 targets, naming row and column", () => {
    expect(() => loadDataset("x,y\n1,0\n", "target")).to.throw(DatasetError, /target/);
    try {
      loadDataset("x,target\n1,0\n2,2\n", "target");
      expect.fail("accepted target 2");
    } catch (err) {
      expect(err).to.be.instanceOf(DatasetError);
      expect((err as DatasetError).row).to.equal(2);
      expect((err as DatasetError).column).to.equal("target");
    }
  });

  it("readingFromRow keys values by column and can leave out the target", () => {
    expect(readingFromRow(["a", "b", "target"], [1, 2, 1])).to.deep.equal({ a: 1, b: 2, target: 1 });
    expect(readingFromRow(["a", "b", "target"], [1, 2, 1], ["target"])).to.deep.equal({ a: 1, b: 2 });
    expect(() => readingFromRow(["a", "b"], [1])).to.throw(RangeError);
  });
});
