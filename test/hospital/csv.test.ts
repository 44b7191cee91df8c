import { expect } from "chai";
import { readFileSync } from "node:fs";
import { DatasetError, parseCsv } from "../../hospital/csv.js";

function errorOf(text: string): DatasetError {
  try {
    parseCsv(text);
  } catch (err) {
    expect(err).to.be.instanceOf(DatasetError);
    return err as DatasetError;
  }
  expect.fail(`parseCsv accepted ${JSON.stringify(text)}`);
}

describe("hospital/csv", () => {
  it("parses a header and numeric rows, with LF or CRLF and a trailing newline", () => {
    const expected = { columns: ["a", "b", "c"], rows: [[1, -2.5, 300], [0.25, 1e-3, -4]] };
    expect(parseCsv("a,b,c\n1,-2.5,3e2\n.25,1E-3,-4\n")).to.deep.equal(expected);
    expect(parseCsv("a,b,c\r\n1,-2.5,3e2\r\n.25,1E-3,-4")).to.deep.equal(expected);
  });

  it("names the row and column of an empty cell", () => {
    const err = errorOf("age,chol,target\n50,200,1\n60,,0\n");
    expect(err.row).to.equal(2);
    expect(err.column).to.equal("chol");
    expect(err.message).to.contain("row 2").and.contain('"chol"').and.contain("empty");
  });

  it("names the row and column of a cell that is not a plain number", () => {
    for (const bad of ["abc", "0x10", "1e", "NaN", "Infinity", "1.2.3", "--1", "1 2"]) {
      const err = errorOf(`age,chol\n50,200\n51,210\n52,${bad}\n`);
      expect(err.row, bad).to.equal(3);
      expect(err.column, bad).to.equal("chol");
      expect(err.message, bad).to.contain("row 3").and.contain('"chol"');
    }
  });

  it("rejects a number too large for a double", () => {
    const err = errorOf("a\n1e400\n");
    expect(err.column).to.equal("a");
  });

  it("rejects rows with the wrong number of cells, naming the row", () => {
    expect(errorOf("a,b\n1,2\n3\n").message).to.contain("row 2").and.contain("1 cells");
    expect(errorOf("a,b\n1,2,3\n").message).to.contain("row 1").and.contain("3 cells");
  });

  it("rejects quoted fields, blank lines inside the data, and bad headers", () => {
    expect(errorOf('a,b\n1,"2"\n').message).to.contain("quoted");
    expect(errorOf('"a",b\n1,2\n').message).to.contain("quoted");
    expect(errorOf("a,b\n1,2\n\n3,4\n").message).to.contain("row 2").and.contain("empty");
    expect(errorOf("a,a\n1,2\n").message).to.contain("twice");
    expect(errorOf("a,,b\n1,2,3\n").message).to.contain("no name");
    expect(errorOf("").message).to.contain("empty");
    expect(errorOf("a,b\n").message).to.contain("no data rows");
  });

  it("reads the Statlog (Heart) file: 270 rows, 13 features and the target", () => {
    const table = parseCsv(readFileSync(new URL("../../data/statlog_heart.csv", import.meta.url), "utf8"));
    expect(table.columns).to.have.length(14);
    expect(table.columns[13]).to.equal("target");
    expect(table.rows).to.have.length(270);
    expect(table.rows.every((row) => row.length === 14 && row.every(Number.isFinite))).to.equal(true);
  });
});
