/**
 * A deliberately small CSV reader for numeric data sets: a header row of column names, then rows of numbers.
 * Quoted fields are not supported; anything that is not a plain decimal number is rejected with the row and
 * column it was found in, rather than silently becoming NaN or 0 (which `Number("")` would give). An empty cell is
 * refused the same way, unless the caller asks for empty cells (`{ emptyCells: true }`): then it is NaN, the one
 * way a missing value appears in the table.
 */

export interface NumericTable {
  columns: string[];
  /** One array per data row, in file order, each with one number per column. */
  rows: number[][];
}

export class DatasetError extends Error {
  /** 1-based data row (the header is row 0), when the problem is in a data row. */
  readonly row: number | undefined;
  readonly column: string | undefined;

  constructor(message: string, location: { row?: number; column?: string } = {}) {
    super(message);
    this.name = "DatasetError";
    this.row = location.row;
    this.column = location.column;
  }
}

/** Plain decimal numbers with an optional exponent: no hex, no Infinity, no NaN, no blanks. */
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export interface CsvOptions {
  /** Accept empty cells as NaN (missing) instead of refusing them. Default false. */
  emptyCells?: boolean;
}

export function parseCsv(text: string, options: CsvOptions = {}): NumericTable {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const lines = body.split(/\r?\n/);
  // One trailing newline (or several) is normal; blank lines elsewhere are not.
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();

  const headerLine = lines[0];
  if (headerLine === undefined) throw new DatasetError("CSV is empty: expected a header row");
  if (headerLine.includes('"')) throw new DatasetError("header row: quoted fields are not supported", { row: 0 });
  const columns = headerLine.split(",").map((name) => name.trim());
  const seen = new Set<string>();
  columns.forEach((name, index) => {
    if (name === "") throw new DatasetError(`header row: column ${index + 1} has no name`, { row: 0 });
    if (seen.has(name)) throw new DatasetError(`header row: column "${name}" appears twice`, { row: 0, column: name });
    seen.add(name);
  });

  const rows: number[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const row = i; // data rows are numbered from 1, after the header
    const where = `row ${row} (line ${i + 1})`;
    if (line.trim() === "") throw new DatasetError(`${where} is empty`, { row });
    if (line.includes('"')) throw new DatasetError(`${where}: quoted fields are not supported`, { row });
    const cells = line.split(",");
    if (cells.length !== columns.length) {
      throw new DatasetError(`${where} has ${cells.length} cells, the header has ${columns.length}`, { row });
    }
    rows.push(
      cells.map((raw, c) => {
        const column = columns[c]!;
        const cell = raw.trim();
        if (cell === "" && options.emptyCells === true) return Number.NaN;
        if (cell === "") throw new DatasetError(`${where}, column "${column}": empty cell`, { row, column });
        if (!NUMBER.test(cell)) {
          throw new DatasetError(`${where}, column "${column}": ${JSON.stringify(cell)} is not a number`, { row, column });
        }
        const value = Number(cell);
        if (!Number.isFinite(value)) {
          throw new DatasetError(`${where}, column "${column}": ${JSON.stringify(cell)} is out of range`, { row, column });
        }
        return value;
      }),
    );
  }
  if (rows.length === 0) throw new DatasetError("CSV has a header but no data rows");
  return { columns, rows };
}
