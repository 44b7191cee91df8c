import { expect } from "chai";
import { keccak256, toUtf8Bytes } from "ethers";
import { contentHash, isHash, parseHash } from "../../protocol/hash.js";

describe("content hash (keccak256)", function () {
  it("matches ethers' keccak256 and the known digests, for empty, small, block-edge and ciphertext-sized inputs", function () {
    // Known answers: keccak256("") and keccak256("abc"), as Ethereum defines them (not FIPS SHA3-256).
    expect(contentHash(new Uint8Array())).to.equal("0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    expect(contentHash(toUtf8Bytes("abc"))).to.equal("0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    let seed = 7;
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0xff));
    for (const size of [1, 135, 136, 137, 272, 4096, 206_000]) {
      const input = bytes(size);
      expect(contentHash(input), `${size} bytes`).to.equal(keccak256(input));
    }
  });

  it("gives the same digest when called again after other inputs (the hasher is reset each time)", function () {
    const a = toUtf8Bytes("a".repeat(500));
    const first = contentHash(a);
    contentHash(toUtf8Bytes("something else"));
    expect(contentHash(a)).to.equal(first);
  });

  it("accepts only 0x and 64 lower-case hex digits as a hash, and normalises case when parsing", function () {
    const hash = contentHash(toUtf8Bytes("x"));
    expect(isHash(hash)).to.equal(true);
    expect(isHash(hash.toUpperCase().replace("0X", "0x"))).to.equal(false);
    expect(parseHash(hash.toUpperCase().replace("0X", "0x"))).to.equal(hash);
    expect(() => parseHash("0x1234", "record hash")).to.throw(TypeError, /record hash must be 0x/);
  });
});
