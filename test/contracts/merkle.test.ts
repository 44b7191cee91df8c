import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { network } from "hardhat";

import type { Hash } from "../../protocol/hash.js";
import { buildRecordTree, hashPair, recordLeaf, verifyRecordProof } from "../../protocol/merkle.js";

const { ethers, networkHelpers } = await network.create();
const { loadFixture } = networkHelpers;

/** Deterministic, distinct test record hashes. */
const records = (n: number, tag = "record"): Hash[] =>
  Array.from({ length: n }, (_, i) => ethers.id(`${tag}-${i}`) as Hash);

/** Independent re-derivations of the conventions, written from the Solidity expressions rather than merkle.ts. */
const expectedLeaf = (recordHash: string): string =>
  ethers.keccak256(ethers.getBytes(ethers.keccak256(ethers.getBytes(recordHash))));
const expectedPair = (a: string, b: string): string =>
  BigInt(a) < BigInt(b) ? ethers.keccak256(ethers.concat([a, b])) : ethers.keccak256(ethers.concat([b, a]));

/** Flips the lowest bit of a hash. */
const flip = (value: string): Hash => {
  const bytes = ethers.getBytes(value);
  bytes[31] = bytes[31]! ^ 1;
  return ethers.hexlify(bytes) as Hash;
};

/** The library's tree over the same values, built here independently of merkle.ts. */
const standardTree = (input: readonly string[]) => StandardMerkleTree.of(input.map((r) => [r.toLowerCase()]), ["bytes32"]);

/** Sizes with every shape of last level: a lone leaf, full levels (2, 4) and partly filled ones (3, 5, 7, 100). */
const SIZES = [1, 2, 3, 4, 5, 7, 100] as const;

describe("protocol/merkle", function () {
  describe("recordLeaf / hashPair", function () {
    it("hashes a record twice, as keccak256(bytes.concat(keccak256(abi.encode(recordHash))))", function () {
      const [recordHash] = records(1);
      expect(recordLeaf(recordHash!)).to.equal(expectedLeaf(recordHash!));
      expect(recordLeaf(recordHash!)).to.not.equal(ethers.keccak256(recordHash!));
    });

    it("gives the same leaf for upper- and lower-case input", function () {
      const [recordHash] = records(1);
      expect(recordLeaf(recordHash!.toUpperCase().replace("0X", "0x") as Hash)).to.equal(recordLeaf(recordHash!));
    });

    it("hashes pairs in ascending order, so the order of the arguments does not matter", function () {
      const [a, b] = records(2);
      expect(hashPair(a!, b!)).to.equal(expectedPair(a!, b!));
      expect(hashPair(b!, a!)).to.equal(expectedPair(a!, b!));
    });

    it("refuses malformed hashes", function () {
      expect(() => recordLeaf("0x1234" as Hash)).to.throw(TypeError, /64 hex digits/);
      expect(() => hashPair("nope" as Hash, ethers.ZeroHash as Hash)).to.throw(TypeError, /64 hex digits/);
    });
  });

  describe("buildRecordTree / verifyRecordProof", function () {
    it("uses the leaf itself as the root of a one-record tree, with an empty proof", function () {
      const [only] = records(1);
      const tree = buildRecordTree([only!]);
      expect(tree.root).to.equal(expectedLeaf(only!));
      expect(tree.count).to.equal(1);
      expect(tree.proofOf(only!)).to.deep.equal([]);
    });

    it("roots a two-record tree at the sorted pair of the two leaves", function () {
      const [a, b] = records(2);
      const tree = buildRecordTree([a!, b!]);
      expect(tree.root).to.equal(expectedPair(expectedLeaf(a!), expectedLeaf(b!)));
      expect(tree.proofOf(a!)).to.deep.equal([expectedLeaf(b!)]);
      expect(tree.proofOf(b!)).to.deep.equal([expectedLeaf(a!)]);
    });

    it("lays five records out as StandardMerkleTree does: sorted leaves filling a complete tree from the right", function () {
      const input = records(5);
      const [l0, l1, l2, l3, l4] = input.map(expectedLeaf).sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1));
      // Leaves l0..l4 sit at the array slots 8..4 of the 9-node tree; the nodes above them are 3 = (l0, l1),
      // 2 = (l2, l3), 1 = (node 3, l4) and the root (node 1, node 2).
      const n3 = expectedPair(l0!, l1!);
      const n2 = expectedPair(l2!, l3!);
      const n1 = expectedPair(n3, l4!);
      const tree = buildRecordTree(input);
      expect(tree.root).to.equal(expectedPair(n1, n2));
      const last = input.find((r) => expectedLeaf(r) === l4)!;
      expect(tree.proofOf(last)).to.deep.equal([n3, n2]);
      const first = input.find((r) => expectedLeaf(r) === l0)!;
      expect(tree.proofOf(first)).to.deep.equal([l1, l4, n2]);
    });

    for (const n of SIZES) {
      it(`has the root and proofs of StandardMerkleTree.of(records, ["bytes32"]) for a ${n}-record tree`, function () {
        const input = records(n);
        const tree = buildRecordTree(input);
        const standard = standardTree(input);
        expect(tree.root).to.match(/^0x[0-9a-f]{64}$/);
        expect(tree.root).to.equal(standard.root);
        for (const recordHash of input) {
          const proof = tree.proofOf(recordHash);
          for (const node of proof) expect(node).to.match(/^0x[0-9a-f]{64}$/);
          expect(proof).to.deep.equal(standard.getProof([recordHash]));
          expect(StandardMerkleTree.verify(standard.root, ["bytes32"], [recordHash], proof)).to.equal(true);
        }
      });
    }

    it("gives lower-case roots and proofs for upper-case input, and takes upper-case queries", function () {
      const input = records(5);
      const upper = input.map((r) => r.toUpperCase().replace("0X", "0x") as Hash);
      const tree = buildRecordTree(upper);
      expect(tree.root).to.equal(standardTree(input).root);
      expect(tree.proofOf(upper[2]!)).to.deep.equal(buildRecordTree(input).proofOf(input[2]!));
    });

    for (const n of SIZES) {
      it(`round-trips every proof of a ${n}-record tree`, function () {
        const input = records(n);
        const tree = buildRecordTree(input);
        expect(tree.count).to.equal(n);
        const maxDepth = Math.ceil(Math.log2(n));
        for (const recordHash of input) {
          const proof = tree.proofOf(recordHash);
          expect(proof.length).to.be.at.most(maxDepth);
          expect(verifyRecordProof(tree.root, recordHash, proof), `proof of ${recordHash}`).to.equal(true);
        }
      });
    }

    it("is deterministic: the same set in any order, or in upper case, gives the same root", function () {
      const input = records(7);
      const root = buildRecordTree(input).root;
      expect(buildRecordTree([...input].reverse()).root).to.equal(root);
      expect(buildRecordTree([input[3]!, ...input.filter((_, i) => i !== 3)]).root).to.equal(root);
      expect(buildRecordTree(input.map((r) => r.toUpperCase().replace("0X", "0x") as Hash)).root).to.equal(root);
      expect(buildRecordTree(records(7, "other")).root).to.not.equal(root);
      expect(buildRecordTree(input.slice(1)).root).to.not.equal(root);
      for (const recordHash of input) {
        expect(buildRecordTree([...input].reverse()).proofOf(recordHash)).to.deep.equal(buildRecordTree(input).proofOf(recordHash));
      }
    });

    it("refuses a record that is not in the tree, with its proof or another's", function () {
      const input = records(7);
      const tree = buildRecordTree(input);
      const outsider = ethers.id("outsider") as Hash;
      expect(verifyRecordProof(tree.root, outsider, tree.proofOf(input[0]!))).to.equal(false);
      expect(verifyRecordProof(tree.root, input[1]!, tree.proofOf(input[0]!))).to.equal(false);
      expect(() => tree.proofOf(outsider)).to.throw(RangeError, /not in the tree/);
    });

    it("refuses tampered, truncated, extended and foreign proofs, and a wrong root", function () {
      const input = records(7);
      const tree = buildRecordTree(input);
      const target = input[2]!;
      const proof = tree.proofOf(target);
      expect(proof.length).to.be.greaterThan(1);
      for (let i = 0; i < proof.length; i++) {
        const tampered = proof.map((p, j) => (j === i ? flip(p) : p));
        expect(verifyRecordProof(tree.root, target, tampered), `sibling ${i} flipped`).to.equal(false);
      }
      expect(verifyRecordProof(tree.root, target, proof.slice(0, -1))).to.equal(false);
      expect(verifyRecordProof(tree.root, target, [...proof, proof[0]!])).to.equal(false);
      expect(verifyRecordProof(tree.root, target, [])).to.equal(false);
      const other = buildRecordTree(records(7, "other"));
      expect(verifyRecordProof(other.root, target, proof)).to.equal(false);
      expect(verifyRecordProof(flip(tree.root), target, proof)).to.equal(false);
    });

    it("refuses an inner node presented as a record (second preimage)", function () {
      const input = records(4);
      const tree = buildRecordTree(input);
      const proof = tree.proofOf(input[0]!);
      // The parent of input[0]'s leaf and its sibling, with the remaining proof above it, reaches the root...
      const parent = hashPair(recordLeaf(input[0]!), proof[0]!);
      expect(hashPair(parent, proof[1]!)).to.equal(tree.root);
      // ...but not when that inner node is passed as a record, because leaves are hashed twice.
      expect(verifyRecordProof(tree.root, parent, proof.slice(1))).to.equal(false);
    });

    it("returns false rather than throwing for malformed input", function () {
      const input = records(3);
      const tree = buildRecordTree(input);
      expect(verifyRecordProof(tree.root, "0x12" as Hash, tree.proofOf(input[0]!))).to.equal(false);
      expect(verifyRecordProof(tree.root, input[0]!, ["0xzz" as Hash])).to.equal(false);
      expect(verifyRecordProof("root" as Hash, input[0]!, tree.proofOf(input[0]!))).to.equal(false);
    });

    it("refuses an empty input", function () {
      expect(() => buildRecordTree([])).to.throw(RangeError, /at least one/);
    });

    it("refuses duplicate record hashes, whatever their case", function () {
      const [a, b] = records(2);
      expect(() => buildRecordTree([a!, b!, a!])).to.throw(RangeError, /duplicate/);
      expect(() => buildRecordTree([a!, a!.toUpperCase().replace("0X", "0x") as Hash])).to.throw(RangeError, /duplicate/);
    });

    it("refuses malformed record hashes, naming the offending index", function () {
      const [a] = records(1);
      expect(() => buildRecordTree([a!, "0xabc" as Hash])).to.throw(TypeError, /recordHashes\[1\]/);
    });
  });

  describe("agreement with the contract's batchIncludes", function () {
    /** A registered patient with one anchored batch per size. */
    async function batchesFixture() {
      const [admin, patient] = await ethers.getSigners();
      if (!admin || !patient) throw new Error("not enough signers");
      const pmhe = await ethers.deployContract("PMHE", [admin.address, 1, 3600]);
      await pmhe.connect(patient).registerKeys(ethers.id("keys"), "blob://keys");
      const trees = new Map<number, { input: Hash[]; tree: ReturnType<typeof buildRecordTree> }>();
      for (const n of SIZES) {
        const input = records(n, `batch-${n}`);
        const tree = buildRecordTree(input);
        await pmhe.connect(patient).anchorBatch(tree.root, tree.count);
        trees.set(n, { input, tree });
      }
      return { pmhe, patient: patient.address, trees };
    }

    for (const n of SIZES) {
      it(`accepts on-chain every proof merkle.ts gives for a ${n}-record batch, and no tampered or misplaced one`, async function () {
        const { pmhe, patient, trees } = await loadFixture(batchesFixture);
        const { input, tree } = trees.get(n)!;
        // Another anchored batch of this patient, so that batchIncludes answers rather than reverting.
        const otherRoot = trees.get(n === 7 ? 100 : 7)!.tree.root;
        for (const recordHash of input) {
          const proof = tree.proofOf(recordHash);
          expect(await pmhe.batchIncludes(patient, tree.root, recordHash, proof), `proof of ${recordHash}`).to.equal(true);
          expect(await pmhe.batchIncludes(patient, otherRoot, recordHash, proof), `under another root`).to.equal(false);
          for (let i = 0; i < proof.length; i++) {
            const tampered = proof.map((p, j) => (j === i ? flip(p) : p));
            expect(await pmhe.batchIncludes(patient, tree.root, recordHash, tampered), `sibling ${i} flipped`).to.equal(false);
          }
        }
      });
    }

    it("refuses on-chain what merkle.ts refuses: wrong record, tampered proof, proof of another batch", async function () {
      const { pmhe, patient, trees } = await loadFixture(batchesFixture);
      const { input, tree } = trees.get(7)!;
      const { tree: other, input: otherInput } = trees.get(100)!;
      const proof = tree.proofOf(input[0]!);
      const cases: [Hash, Hash, Hash[]][] = [
        [tree.root, input[1]!, proof],
        [tree.root, input[0]!, proof.map((p, i) => (i === 0 ? flip(p) : p))],
        [tree.root, input[0]!, proof.slice(1)],
        [tree.root, otherInput[0]!, other.proofOf(otherInput[0]!)],
        [other.root, input[0]!, proof],
      ];
      for (const [root, recordHash, p] of cases) {
        expect(verifyRecordProof(root, recordHash, p)).to.equal(false);
        expect(await pmhe.batchIncludes(patient, root, recordHash, p)).to.equal(false);
      }
    });

    it("eraseBatchRecord takes the proofs merkle.ts gives and refuses the ones it refuses", async function () {
      const { pmhe, patient, trees } = await loadFixture(batchesFixture);
      const { input, tree } = trees.get(100)!;
      const signer = await ethers.getSigner(patient);
      const [first, second] = input as [Hash, Hash];
      const foreign = tree.proofOf(second);
      expect(verifyRecordProof(tree.root, first, foreign)).to.equal(false);
      await expect(pmhe.connect(signer).eraseBatchRecord(tree.root, first, foreign))
        .to.be.revertedWithCustomError(pmhe, "InvalidProof")
        .withArgs(tree.root, first);
      await expect(pmhe.connect(signer).eraseBatchRecord(tree.root, first, tree.proofOf(first)))
        .to.emit(pmhe, "RecordErased")
        .withArgs(patient, first);
      expect(await pmhe.isErased(patient, first)).to.equal(true);
      expect(await pmhe.isErased(patient, second)).to.equal(false);
    });

    it("answers only in the namespace of the patient who anchored the root", async function () {
      const { pmhe, trees } = await loadFixture(batchesFixture);
      const [, , other] = await ethers.getSigners();
      const { input, tree } = trees.get(3)!;
      await expect(pmhe.batchIncludes(other!.address, tree.root, input[0]!, tree.proofOf(input[0]!)))
        .to.be.revertedWithCustomError(pmhe, "UnknownBatch")
        .withArgs(other!.address, tree.root);
    });
  });
});
