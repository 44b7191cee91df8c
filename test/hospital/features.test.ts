import { expect } from "chai";
import { DatasetError } from "../../hospital/csv.js";
import { loadDataset } from "../../hospital/dataset.js";
import { planFeatures, transformedName, transformRows } from "../../hospital/features.js";
import { expectClose } from "../helpers/close.js";

const csv = "age,cp,chol,oldpeak,target\n50,1,200,0,0\n60,4,250,1.5,1\n40,2,180,0.5,0\n";
const ds = loadDataset(csv, "target");

describe("hospital/features", () => {
  it("names each tuple entry after its transform", () => {
    expect(["identity", "log", "log1p", "sqrt", "exp", "reciprocal", "power2", "power3"].map((t) => transformedName("x", t as never))).to.deep.equal([
      "x",
      "log(x)",
      "log1p(x)",
      "sqrt(x)",
      "exp(x)",
      "1/x",
      "x^2",
      "x^3",
    ]);
  });

  it("defaults to every column but the target, identity, in file order", () => {
    const plan = planFeatures(ds);
    expect(plan.map((d) => d.name)).to.deep.equal(["age", "cp", "chol", "oldpeak"]);
    expect(plan.every((d) => d.transform === "identity" && d.input === d.name)).to.equal(true);
  });

  it("orders entries by the chosen columns, then each column's transforms, one-hot categories as listed", () => {
    const plan = planFeatures(ds, {
      columns: ["chol", "cp", "age", "oldpeak"],
      transforms: { chol: ["log"], age: ["identity", "power2"], oldpeak: ["log1p"] },
      oneHot: { cp: [4, 1, 2, 3] },
    });
    expect(plan.map((d) => d.name)).to.deep.equal(["log(chol)", "cp=4", "cp=1", "cp=2", "cp=3", "age", "age^2", "log1p(oldpeak)"]);
    expect(plan[6]).to.deep.equal({ name: "age^2", input: "age", transform: "power", exponent: 2 });
    expect(plan[1]).to.deep.equal({ name: "cp=4", input: "cp", transform: "one-hot", categories: [4, 1, 2, 3], category: 4 });
  });

  it("computes the transformed values per row exactly as the client does", () => {
    const plan = planFeatures(ds, { columns: ["chol", "cp"], transforms: { chol: ["log"] }, oneHot: { cp: [1, 2, 4] } });
    const values = transformRows(ds, plan);
    expect(values).to.have.length(3);
    expectClose(values[0]![0]!, Math.log(200), 1e-15);
    expect(values.map((row) => row.slice(1))).to.deep.equal([[1, 0, 0], [0, 0, 1], [0, 1, 0]]);
  });

  it("refuses values outside a transform's domain, naming the row and the column", () => {
    const plan = planFeatures(ds, { columns: ["oldpeak"], transforms: { oldpeak: ["log"] } });
    try {
      transformRows(ds, plan);
      expect.fail("log(0) accepted");
    } catch (err) {
      expect(err).to.be.instanceOf(DatasetError);
      expect((err as DatasetError).row).to.equal(1);
      expect((err as DatasetError).column).to.equal("oldpeak");
      expect((err as Error).message).to.contain("log(oldpeak)");
    }
    const oneHot = planFeatures(ds, { columns: ["cp"], oneHot: { cp: [1, 2, 3] } });
    expect(() => transformRows(ds, oneHot)).to.throw(DatasetError, /row 2.*"cp"/);
  });

  it("refuses unknown or target columns, repeats, transforms of unselected columns and more than 256 entries", () => {
    expect(() => planFeatures(ds, { columns: ["age", "weight"] })).to.throw(RangeError, /"weight"/);
    expect(() => planFeatures(ds, { columns: ["age", "target"] })).to.throw(RangeError, /target/);
    expect(() => planFeatures(ds, { columns: ["age", "age"] })).to.throw(RangeError, /twice/);
    expect(() => planFeatures(ds, { columns: ["age"], transforms: { chol: ["log"] } })).to.throw(RangeError, /"chol"/);
    expect(() => planFeatures(ds, { transforms: { chol: ["log10" as never] } })).to.throw(RangeError, /unknown transform/);
    expect(() => planFeatures(ds, { transforms: { chol: ["log", "log"] } })).to.throw(RangeError, /twice/);
    expect(() => planFeatures(ds, { transforms: { cp: ["log"] }, oneHot: { cp: [1, 2] } })).to.throw(RangeError, /not both/);
    expect(() => planFeatures(ds, { oneHot: { cp: [1] } })).to.throw(RangeError, /two categories/);
    expect(() => planFeatures(ds, { oneHot: { cp: [1, 1, 2] } })).to.throw(RangeError, /twice/);
    const many = { age: ["identity", "log", "sqrt", "power2", "power3"], chol: ["identity", "log", "sqrt", "power2", "power3"], oldpeak: ["identity", "sqrt", "power2", "power3", "exp"] } as const;
    expect(planFeatures(ds, { columns: ["age", "chol", "oldpeak", "cp"], transforms: many })).to.have.length(16);
    // The widest tuple any parameter set takes is 256 entries: 255 one-hot categories and the other columns pass it.
    const categories = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    expect(planFeatures(ds, { columns: ["age", "cp"], oneHot: { cp: categories(255) } })).to.have.length(256);
    expect(() => planFeatures(ds, { columns: ["age", "chol", "cp"], oneHot: { cp: categories(255) } })).to.throw(RangeError, /257 entries.*at most 256/);
  });
});
