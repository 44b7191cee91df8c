import { AbiCoder, concat, keccak256 } from "ethers";

import type { Hash } from "./hash.js";

/**
 * Merkle batches of record hashes, the one implementation shared by the patient (who builds the tree and anchors
 * its root with `anchorBatch`), the coprocessor and auditors (who check proofs), and the contract, which checks
 * the same proofs with OpenZeppelin's `MerkleProof` in `batchIncludes` and `requestBatchPrediction`.
 *
 * Hashing conventions (those of OpenZeppelin's `StandardMerkleTree` for a single `bytes32` value):
 *  - leaf = keccak256(keccak256(abi.encode(recordHash))). Hashing twice makes a leaf a hash of 32 bytes while inner
 *    nodes are hashes of 64 bytes, so no inner node can be presented as a record (second-preimage guard);
 *  - inner node = keccak256 of its two children in ascending order (sorted pairs), so a proof is just the list of
 *    sibling hashes from the leaf up, with no left/right flags.
 *
 * The tree shape is this module's own, and deterministic: leaves are sorted, paired left to right, and an unpaired
 * node is carried up to the next level unchanged, so the same set of record hashes always gives the same root
 * whatever order it comes in. (Roots are therefore not meant to match `StandardMerkleTree`'s for the same values;
 * proofs of either verify the same way.)
 * Browser-safe: depends on `ethers` only.
 */

const HASH_PATTERN = /^0x[0-9a-fA-F]{64}$/;

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
  const leafOf = new Map<Hash, Hash>();
  for (const [i, value] of recordHashes.entries()) {
    const recordHash = normalise(value, `recordHashes[${i}]`);
    if (leafOf.has(recordHash)) throw new RangeError(`duplicate record hash ${recordHash}`);
    leafOf.set(recordHash, recordLeaf(recordHash));
  }

  // Lower-case hex strings of equal length sort like the numbers they encode.
  const levels: Hash[][] = [[...leafOf.values()].sort()];
  for (let level = levels[0]!; level.length > 1; ) {
    const next: Hash[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i]!;
      const right = level[i + 1];
      next.push(right === undefined ? left : hashPair(left, right));
    }
    levels.push(next);
    level = next;
  }
  const root = levels[levels.length - 1]![0]!;

  return {
    root,
    count: leafOf.size,
    proofOf(recordHash: Hash): Hash[] {
      const leaf = leafOf.get(normalise(recordHash, "recordHash"));
      if (leaf === undefined) throw new RangeError(`record hash ${recordHash} is not in the tree`);
      let index = levels[0]!.indexOf(leaf);
      const proof: Hash[] = [];
      for (const level of levels.slice(0, -1)) {
        const sibling = level[index ^ 1];
        if (sibling !== undefined) proof.push(sibling);
        index >>= 1;
      }
      return proof;
    },
  };
}

/** Whether `proof` shows that `recordHash` is in the tree of `root`; false (never a throw) for malformed input. */
export function verifyRecordProof(root: Hash, recordHash: Hash, proof: readonly Hash[]): boolean {
  try {
    let node = recordLeaf(recordHash);
    for (const sibling of proof) node = hashPair(node, sibling);
    return node === normalise(root, "root");
  } catch {
    return false;
  }
}
