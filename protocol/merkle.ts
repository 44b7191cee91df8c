import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { AbiCoder, concat, keccak256 } from "ethers";

import type { Hash } from "./hash.js";

/**
 * Merkle batches of record hashes, the one implementation shared by the patient (who builds the tree and anchors
 * its root with `anchorBatch`), the coprocessor and auditors (who check proofs), and the contract, which checks
 * the same proofs with OpenZeppelin's `MerkleProof.verifyCalldata` in `batchIncludes`, `requestBatchPrediction`
 * and `eraseBatchRecord`.
 *
 * The tree is OpenZeppelin's `StandardMerkleTree` over one `bytes32` value per record (`@openzeppelin/merkle-tree`),
 * the off-chain counterpart that library maintains for `MerkleProof`: its shape, proofs and hashing are reviewed
 * and tested there, any tool that speaks the `standard-v1` format can rebuild a batch's root or check its proofs,
 * and this module keeps only what the protocol adds (input checks, one leaf per record, lower-case hashes).
 *
 * What the contract checks, for a proof of `recordHash` under an anchored `root`:
 *  - leaf = keccak256(bytes.concat(keccak256(abi.encode(recordHash)))). Hashing twice makes a leaf a hash of 32
 *    bytes while inner nodes are hashes of 64 bytes, so no inner node can be presented as a record (second-preimage
 *    guard);
 *  - inner node = keccak256 of its two children in ascending order (sorted pairs, `Hashes.commutativeKeccak256`),
 *    so a proof is just the list of sibling hashes from the leaf up, with no left/right flags;
 *  - folding the proof into the leaf that way gives `root`.
 * The contract does not depend on the tree's shape, only on these two hashing rules, which are `StandardMerkleTree`'s.
 *
 * Leaves are sorted by hash before the tree is built (the library's default), so the same set of record hashes
 * always gives the same root whatever order, or letter case, it comes in.
 * Browser-safe: depends on `ethers` and `@openzeppelin/merkle-tree` (pure JavaScript: `ethereum-cryptography` and
 * `@metamask/abi-utils`), no Node built-in.
 */

const HASH_PATTERN = /^0x[0-9a-fA-F]{64}$/;
/** The leaf encoding of a record: one `bytes32`. */
const LEAF_ENCODING = ["bytes32"];

export interface RecordTree {
  /** The root to anchor with `anchorBatch(root, count)`. */
  readonly root: Hash;
  /** The number of record hashes under the root. */
  readonly count: number;
  /** The proof for one of the tree's record hashes; throws for a hash that is not in the tree. */
  proofOf(recordHash: Hash): Hash[];
}

function normalise(value: string, what: string): Hash {
  if (typeof value !== "string" || !HASH_PATTERN.test(value)) {
    throw new TypeError(`${what} must be 0x followed by 64 hex digits, got ${JSON.stringify(value)}`);
  }
  return value.toLowerCase() as Hash;
}

/** The leaf of a record hash: keccak256(bytes.concat(keccak256(abi.encode(recordHash)))). */
export function recordLeaf(recordHash: Hash): Hash {
  const encoded = AbiCoder.defaultAbiCoder().encode(["bytes32"], [normalise(recordHash, "recordHash")]);
  return keccak256(keccak256(encoded)) as Hash;
}

/** The parent of two nodes: keccak256 of the pair in ascending order (OpenZeppelin `Hashes.commutativeKeccak256`). */
export function hashPair(a: Hash, b: Hash): Hash {
  const x = normalise(a, "node");
  const y = normalise(b, "node");
  return keccak256(x < y ? concat([x, y]) : concat([y, x])) as Hash;
}

/**
 * Builds the tree over a set of record hashes. Throws on an empty input, a malformed hash or a duplicate (compared
 * case-insensitively): a batch anchors each record once.
 */
export function buildRecordTree(recordHashes: readonly Hash[]): RecordTree {
  if (recordHashes.length === 0) throw new RangeError("a record tree needs at least one record hash");
  /** Each record hash (lower case) to its index among the tree's values. */
  const indexOf = new Map<Hash, number>();
  for (const [i, value] of recordHashes.entries()) {
    const recordHash = normalise(value, `recordHashes[${i}]`);
    if (indexOf.has(recordHash)) throw new RangeError(`duplicate record hash ${recordHash}`);
    indexOf.set(recordHash, indexOf.size);
  }

  const tree = StandardMerkleTree.of([...indexOf.keys()].map((recordHash) => [recordHash]), LEAF_ENCODING);
  const root = tree.root.toLowerCase() as Hash;

  return {
    root,
    count: indexOf.size,
    proofOf(recordHash: Hash): Hash[] {
      const index = indexOf.get(normalise(recordHash, "recordHash"));
      if (index === undefined) throw new RangeError(`record hash ${recordHash} is not in the tree`);
      return tree.getProof(index).map((node) => node.toLowerCase() as Hash);
    },
  };
}

/** Whether `proof` shows that `recordHash` is in the tree of `root`; false (never a throw) for malformed input. */
export function verifyRecordProof(root: Hash, recordHash: Hash, proof: readonly Hash[]): boolean {
  try {
    const siblings = proof.map((node, i) => normalise(node, `proof[${i}]`));
    const leaf = [normalise(recordHash, "recordHash")];
    return StandardMerkleTree.verify(normalise(root, "root"), LEAF_ENCODING, leaf, siblings);
  } catch {
    return false;
  }
}
