import { expect } from "chai";
import { keccak256 } from "ethers";
import { canonicalJson, canonicalJsonBytes } from "../../protocol/canonical-json.js";
import { decodeEnvelope, encodeEnvelope, EnvelopeError, looksLikeEnvelope, requireSection, type BlobKind } from "../../protocol/envelope.js";
import { contentHash, isHash, parseHash } from "../../protocol/hash.js";

const MAGIC = [0x50, 0x4d, 0x48, 0x45]; // "PMHE"

/** Assembles a container by hand from the documented layout, independently of encodeEnvelope. */
function rawBlob(headerText: string, body: Uint8Array = new Uint8Array(0), options: { version?: number; headerLength?: number } = {}): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const out = new Uint8Array(9 + header.length + body.length);
  out.set(MAGIC, 0);
  out[4] = options.version ?? 1;
  new DataView(out.buffer).setUint32(5, options.headerLength ?? header.length, false);
  out.set(header, 9);
  out.set(body, 9 + header.length);
  return out;
}

function bytesOf(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

function envelopeErrorOf(fn: () => unknown): EnvelopeError {
  try {
    fn();
  } catch (err) {
    if (err instanceof EnvelopeError) {
      expect(err.name).to.equal("EnvelopeError");
      return err;
    }
    expect.fail(`expected an EnvelopeError, got ${String(err)}`);
  }
  expect.fail("expected an EnvelopeError, but nothing was thrown");
}

function expectEnvelopeError(bytes: Uint8Array, kind: BlobKind, message: RegExp): void {
  expect(envelopeErrorOf(() => decodeEnvelope(bytes, kind)).message).to.match(message);
}

describe("protocol/envelope", function () {
  const alpha = bytesOf(1, 2, 3, 4, 5);
  const empty = new Uint8Array(0);
  const beta = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);

  it("round-trips a header and several sections, including an empty one", function () {
    const header = { parameterSet: "ckks-n8192-d3", values: 13, nested: { b: [1, 2], a: "x" } };
    const blob = encodeEnvelope("record", header, [["alpha", alpha], ["empty", empty], ["beta", beta]]);
    const envelope = decodeEnvelope(blob, "record");
    expect(envelope.kind).to.equal("record");
    expect(envelope.header).to.deep.equal(header);
    expect([...envelope.sections.keys()]).to.deep.equal(["alpha", "empty", "beta"]);
    expect([...envelope.sections.get("alpha")!]).to.deep.equal([...alpha]);
    expect(envelope.sections.get("empty")!.length).to.equal(0);
    expect([...envelope.sections.get("beta")!]).to.deep.equal([...beta]);
    expect([...requireSection(envelope, "beta")]).to.deep.equal([...beta]);
    expect(() => requireSection(envelope, "gamma")).to.throw(EnvelopeError, /record blob has no "gamma" section/);
  });

  it("lays bytes out as magic | version | u32 BE header length | canonical header | sections", function () {
    const blob = encodeEnvelope("result", { z: 1, a: 2 }, [["s", alpha]]);
    expect([...blob.subarray(0, 4)]).to.deep.equal(MAGIC);
    expect(blob[4]).to.equal(1);
    const headerText =
      '{\n  "a": 2,\n  "kind": "result",\n  "sections": [\n    {\n      "length": 5,\n      "name": "s"\n    }\n  ],\n  "z": 1\n}\n';
    const headerBytes = new TextEncoder().encode(headerText);
    const length = (blob[5]! << 24) | (blob[6]! << 16) | (blob[7]! << 8) | blob[8]!;
    expect(length).to.equal(headerBytes.length);
    expect(new TextDecoder().decode(blob.subarray(9, 9 + length))).to.equal(headerText);
    expect([...blob.subarray(9 + length)]).to.deep.equal([...alpha]);
    expect(blob.length).to.equal(9 + headerBytes.length + alpha.length);
  });

  it("decodes a blob that sits at a non-zero offset inside a larger buffer", function () {
    const blob = encodeEnvelope("key-bundle", { n: 1 }, [["a", alpha], ["b", beta]]);
    const big = new Uint8Array(blob.length + 37);
    big.set(blob, 13);
    const view = big.subarray(13, 13 + blob.length);
    const envelope = decodeEnvelope(view, "key-bundle");
    expect(envelope.header).to.deep.equal({ n: 1 });
    expect([...envelope.sections.get("b")!]).to.deep.equal([...beta]);
  });

  it("accepts a hand-built container whose header is the canonical JSON of its content", function () {
    const canonical = '{\n  "kind": "record",\n  "sections": [\n    {\n      "length": 5,\n      "name": "a"\n    }\n  ],\n  "x": true\n}\n';
    const blob = rawBlob(canonical, alpha);
    const envelope = decodeEnvelope(blob, "record");
    expect(envelope.header).to.deep.equal({ x: true });
    expect([...envelope.sections.get("a")!]).to.deep.equal([...alpha]);
    expect([...blob]).to.deep.equal([...encodeEnvelope("record", { x: true }, [["a", alpha]])]);
  });

  it("refuses a header with the same content in any other serialisation: one content, one hash", function () {
    const content = { x: true, n: 13, s: "é" };
    const sections = [{ length: 5, name: "a" }];
    const good = encodeEnvelope("record", content, [["a", alpha]]);
    expect(decodeEnvelope(good, "record").header).to.deep.equal(content);
    const variants: [string, string][] = [
      ["compact", JSON.stringify({ kind: "record", n: 13, s: "é", sections, x: true })],
      ["other key order", JSON.stringify({ x: true, s: "é", sections, n: 13, kind: "record" }, null, 2) + "\n"],
      ["no trailing newline", canonicalJson({ ...content, kind: "record", sections }).trimEnd()],
      ["tabs", JSON.stringify({ kind: "record", n: 13, s: "é", sections, x: true }, null, "\t") + "\n"],
      ["a number spelt otherwise", canonicalJson({ ...content, kind: "record", sections }).replace('"n": 13', '"n": 13.0')],
      ["an escaped character", canonicalJson({ ...content, kind: "record", sections }).replace('"é"', '"\\u00e9"')],
      ["a key given twice", canonicalJson({ ...content, kind: "record", sections }).replace('"n": 13', '"n": 12,\n  "n": 13')],
      ["a number beyond doubles", canonicalJson({ ...content, kind: "record", sections }).replace('"n": 13', '"n": 1e999')],
    ];
    for (const [what, text] of variants) {
      const bytes = rawBlob(text, alpha);
      const err = envelopeErrorOf(() => decodeEnvelope(bytes, "record"));
      expect(err.message, what).to.equal("header is not in canonical form");
      expect(err.reason, what).to.equal("non-canonical");
    }
  });

  it("names the reason of every refusal for callers that answer with one", function () {
    const blob = encodeEnvelope("record", {}, [["a", alpha]]);
    expect(envelopeErrorOf(() => decodeEnvelope(blob.subarray(0, 4), "record")).reason).to.equal("not-an-envelope");
    expect(envelopeErrorOf(() => decodeEnvelope(blob, "result")).reason).to.equal("wrong-kind");
    expect(envelopeErrorOf(() => decodeEnvelope(blob.subarray(0, blob.length - 1), "record")).reason).to.equal("bad-sections");
    expect(envelopeErrorOf(() => requireSection(decodeEnvelope(blob, "record"), "b")).reason).to.equal("bad-sections");
    expect(looksLikeEnvelope(blob)).to.equal(true);
    expect(looksLikeEnvelope(new TextEncoder().encode('{"format":"pmhe-model/2"}'))).to.equal(false);
  });

  it("rejects a blob too short for the prefix", function () {
    for (const n of [0, 4, 8]) expectEnvelopeError(new Uint8Array(n).fill(0x50), "record", new RegExp(`${n} bytes is too short`));
  });

  it("rejects bad magic", function () {
    const blob = encodeEnvelope("record", {}, [["a", alpha]]);
    for (const at of [0, 3]) {
      const bad = blob.slice();
      bad[at] = bad[at]! ^ 0x20;
      expectEnvelopeError(bad, "record", /bad magic/);
    }
  });

  it("rejects an unsupported version", function () {
    for (const version of [0, 2, 255]) {
      const bad = rawBlob('{"kind":"record","sections":[]}', empty, { version });
      expectEnvelopeError(bad, "record", new RegExp(`unsupported envelope version ${version}`));
    }
  });

  it("rejects a header length that overflows the blob or the header limit", function () {
    const text = '{"kind":"record","sections":[]}';
    expectEnvelopeError(rawBlob(text, empty, { headerLength: text.length + 1 }), "record", /header length .* does not fit/);
    expectEnvelopeError(rawBlob(text, empty, { headerLength: 0xffffffff }), "record", /header length 4294967295 does not fit/);
    // Larger than the 64 KiB limit even though the bytes are there.
    const padded = `{"kind":"record","sections":[],"pad":"${"x".repeat(70_000)}"}`;
    expectEnvelopeError(rawBlob(padded), "record", /header length \d+ does not fit/);
    expect(() => encodeEnvelope("record", { pad: "x".repeat(70_000) }, [])).to.throw(EnvelopeError, /too large/);
  });

  it("rejects unreadable headers", function () {
    expectEnvelopeError(rawBlob('{"kind":"record",'), "record", /unreadable header/);
    expectEnvelopeError(rawBlob("[1,2]"), "record", /unreadable header: header is not an object/);
    expectEnvelopeError(rawBlob("null"), "record", /unreadable header/);
    const invalidUtf8 = rawBlob('{"kind":"record","sections":[],"x":"??"}');
    const at = invalidUtf8.indexOf(0x3f);
    invalidUtf8[at] = 0xff;
    expectEnvelopeError(invalidUtf8, "record", /unreadable header/);
  });

  it("rejects trailing bytes after the last section", function () {
    const blob = encodeEnvelope("record", {}, [["a", alpha]]);
    const longer = new Uint8Array(blob.length + 3);
    longer.set(blob);
    expectEnvelopeError(longer, "record", /3 trailing bytes after the last section/);
  });

  it("rejects a section that runs past the end", function () {
    expectEnvelopeError(rawBlob('{"kind":"record","sections":[{"name":"ct","length":6}]}', alpha), "record", /section "ct" runs past the end/);
    const blob = encodeEnvelope("record", {}, [["a", alpha], ["b", beta]]);
    expectEnvelopeError(blob.subarray(0, blob.length - 1), "record", /section "b" runs past the end/);
  });

  it("rejects duplicate section names, both when writing and when reading", function () {
    expect(() => encodeEnvelope("record", {}, [["ct", alpha], ["ct", alpha]])).to.throw(EnvelopeError, /unique/);
    expect(() => encodeEnvelope("record", {}, [["", alpha]])).to.throw(EnvelopeError, /1 to 64/);
    const header = '{"kind":"record","sections":[{"name":"ct","length":' + alpha.length + '},{"name":"ct","length":' + alpha.length + "}]}";
    expectEnvelopeError(rawBlob(header, new Uint8Array([...alpha, ...alpha])), "record", /section "ct" appears twice/);
  });

  it("rejects a missing or malformed section list", function () {
    expectEnvelopeError(rawBlob('{"kind":"record"}'), "record", /no valid section list/);
    expectEnvelopeError(rawBlob('{"kind":"record","sections":[{"name":"","length":0}]}'), "record", /no valid section list/);
    expectEnvelopeError(rawBlob('{"kind":"record","sections":[{"name":"a","length":-1}]}'), "record", /no valid section list/);
    expectEnvelopeError(rawBlob('{"kind":"record","sections":[{"name":"a","length":1.5}]}', alpha), "record", /no valid section list/);
  });

  it("rejects the wrong kind, naming what was expected and what was found", function () {
    const blob = encodeEnvelope("key-bundle", {}, [["a", alpha]]);
    expectEnvelopeError(blob, "record", /expected a record blob, got "key-bundle"/);
    expectEnvelopeError(blob, "result", /expected a result blob, got "key-bundle"/);
    expectEnvelopeError(rawBlob('{"sections":[]}'), "record", /expected a record blob, got undefined/);
  });

  it("refuses to let the header set kind or sections", function () {
    expect(() => encodeEnvelope("record", { kind: "result" }, [])).to.throw(EnvelopeError, /kind or sections/);
    expect(() => encodeEnvelope("record", { sections: [] }, [])).to.throw(EnvelopeError, /kind or sections/);
  });
});

describe("protocol/canonical-json", function () {
  it("sorts keys independently of insertion order, at every depth", function () {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, "": "empty" };
    const b = { "": "empty", a: { c: null, d: [3, { y: 2, z: 1 }] }, b: 1 };
    expect(canonicalJson(a)).to.equal(canonicalJson(b));
    expect(canonicalJson(a)).to.equal(
      '{\n  "": "empty",\n  "a": {\n    "c": null,\n    "d": [\n      3,\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n',
    );
  });

  it("gives the same text for integer-like keys in any insertion order", function () {
    const a = canonicalJson({ b: 1, "10": 2, "2": 3 });
    const b = canonicalJson({ "2": 3, b: 1, "10": 2 });
    expect(a).to.equal(b);
    expect(JSON.parse(a)).to.deep.equal({ b: 1, "10": 2, "2": 3 });
  });

  it("keeps array order and drops undefined properties", function () {
    expect(canonicalJson([3, 1, 2])).to.equal("[\n  3,\n  1,\n  2\n]\n");
    expect(canonicalJson({ a: undefined, b: 1 })).to.equal('{\n  "b": 1\n}\n');
  });

  it("rejects NaN and ±Infinity, also when nested", function () {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => canonicalJson(bad)).to.throw(TypeError, /cannot hold/);
      expect(() => canonicalJson({ a: { b: bad } })).to.throw(TypeError, /cannot hold/);
      expect(() => canonicalJson({ a: [1, bad] })).to.throw(TypeError, /cannot hold/);
    }
  });

  it("gives a stable keccak256 for the same document in any key order", function () {
    const text = '{\n  "a": 1,\n  "b": {\n    "c": [\n      true,\n      "x"\n    ]\n  }\n}\n';
    const expected = keccak256(new TextEncoder().encode(text));
    const one = contentHash(canonicalJsonBytes({ a: 1, b: { c: [true, "x"] } }));
    const two = contentHash(canonicalJsonBytes({ b: { c: [true, "x"] }, a: 1 }));
    expect(one).to.equal(expected);
    expect(two).to.equal(expected);
    expect(isHash(one)).to.equal(true);
    expect(contentHash(canonicalJsonBytes({ a: 2, b: { c: [true, "x"] } }))).to.not.equal(expected);
  });
});

describe("protocol/hash", function () {
  it("contentHash is keccak256 as lower-case 0x hex; isHash and parseHash accept only that form", function () {
    const bytes = bytesOf(0xde, 0xad, 0xbe, 0xef);
    // keccak256 of 0xdeadbeef, a published test vector.
    expect(contentHash(bytes)).to.equal("0xd4fd4e189132273036449fc9e11198c739161b4c0116a9a2dccdfa1c492006f1");
    const upper = "0x" + "AB".repeat(32);
    expect(isHash(upper)).to.equal(false);
    expect(parseHash(upper)).to.equal("0x" + "ab".repeat(32));
    for (const bad of ["", "0x", "ab".repeat(32), "0x" + "ab".repeat(31), "0x" + "ab".repeat(33), "0x" + "zz".repeat(32)]) {
      expect(isHash(bad), bad).to.equal(false);
      expect(() => parseHash(bad, "recordHash")).to.throw(TypeError, /recordHash must be 0x followed by 64 hex digits/);
    }
  });
});
