import { expect } from "chai";
import { keccak256 } from "ethers";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson } from "../../protocol/canonical-json.js";
import { modelBytes, modelHash, parseModelBytes } from "../../protocol/model.js";

/**
 * The model hash as models/README.md defines it for other tooling: keccak256 of the file's bytes, the file being the
 * document's canonical JSON (keys sorted by UTF-16 code units at every depth, ECMAScript number text, two-space
 * indentation, UTF-8, one trailing newline). The expected text below is written by hand from that definition.
 */
describe("the model file's hash, as other tooling must compute it", function () {
  it("writes canonical JSON exactly as defined: sorted keys (code units), ECMAScript numbers, two spaces, UTF-8, a newline", function () {
    const document = { f: [1, { z: 1, Z: 2, é: 3, "a b": 4 }], e: "é\u2028\"\\", d: 5e-7, c: -0, b: 0.1, a: 1e21, g: undefined };
    const expected = [
      "{",
      '  "a": 1e+21,',
      '  "b": 0.1,',
      '  "c": 0,',
      '  "d": 5e-7,',
      '  "e": "é\u2028\\"\\\\",',
      '  "f": [',
      "    1,",
      "    {",
      '      "Z": 2,',
      '      "a b": 4,',
      '      "z": 1,',
      '      "é": 3',
      "    }",
      "  ]",
      "}",
      "",
    ].join("\n");
    expect(canonicalJson(document)).to.equal(expected);
    // The hash of those bytes as UTF-8, pinned: what another language's keccak256 of the same text must give.
    expect(keccak256(new TextEncoder().encode(canonicalJson(document)))).to.equal("0x18cbd2ffac61a19903cf7200256d6e55a5528695d8b2161ac0937076cf8d85ea");
  });

  for (const file of ["statlog-heart-logreg.v1.json", "statlog-heart-mlp.v1.json", "wdbc-logreg.v1.json"]) {
    it(`${file}: the hash is keccak256 of the file's bytes, and the file is its own canonical form`, function () {
      const bytes = readFileSync(join(import.meta.dirname, "..", "..", "models", file));
      const model = parseModelBytes(bytes);
      expect(Buffer.from(modelBytes(model)).equals(bytes), "re-serialised bytes equal the file").to.equal(true);
      expect(modelHash(model)).to.equal(keccak256(bytes));
      const table = readFileSync(join(import.meta.dirname, "..", "..", "models", "README.md"), "utf8");
      expect(table, "models/README.md lists the hash").to.contain(`| \`${file}\` | \`${keccak256(bytes)}\` |`);
    });
  }
});
