import { keccak256, Transaction, TransactionResponse, type BaseWallet, type JsonRpcApiProvider, type Signature } from "ethers";
import type { Hash } from "./hash.js";

/**
 * Sending a transaction whose every field is already known as one `eth_sendRawTransaction`. ethers' own
 * `sendTransaction` also asks the node for the nonce (even under a NonceManager) and the block number, and
 * recovers the sender from the signature it has just made (an elliptic-curve recovery, ~1.8 ms on these
 * machines): three requests and a recovery per transaction where a busy sender needs one request. Browser-safe.
 */

/** An EIP-1559 transaction with nothing left for a provider to fill in. */
export interface CompleteTransaction {
  to: string;
  data: string;
  nonce: number;
  gasLimit: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  chainId: bigint;
}

/** A transaction signed by a known sender: its serialised form, and its hash as the node will report it. */
export interface SignedTransaction {
  from: string;
  fields: CompleteTransaction;
  serialized: string;
  hash: Hash;
  signature: Signature;
}

export async function signComplete(wallet: BaseWallet, fields: CompleteTransaction): Promise<SignedTransaction> {
  const tx = Transaction.from({ type: 2, value: 0n, ...fields });
  tx.signature = wallet.signingKey.sign(tx.unsignedHash);
  const serialized = tx.serialized;
  return { from: wallet.address, fields, serialized, hash: keccak256(serialized) as Hash, signature: tx.signature };
}

/**
 * Hands a signed transaction to the node. A refusal comes back as ethers' error for `eth_sendRawTransaction`
 * (NONCE_EXPIRED, INSUFFICIENT_FUNDS, a revert...), exactly as from `sendTransaction`.
 */
export async function broadcastSigned(provider: JsonRpcApiProvider, signed: SignedTransaction): Promise<Hash> {
  const reported = String(await provider.send("eth_sendRawTransaction", [signed.serialized])).toLowerCase();
  if (reported !== signed.hash) throw new Error(`the node reported transaction hash ${reported} for ${signed.hash}`);
  return signed.hash;
}

/**
 * The TransactionResponse ethers' `sendTransaction` would have returned, without recovering the sender: `wait()`
 * works, and reports a replacement by another transaction of the same nonce mined from `startBlock` on.
 */
export function pendingResponse(provider: JsonRpcApiProvider, signed: SignedTransaction, startBlock: number): TransactionResponse {
  const { fields } = signed;
  const response = new TransactionResponse(
    {
      blockNumber: null,
      blockHash: null,
      hash: signed.hash,
      index: 0,
      type: 2,
      to: fields.to,
      from: signed.from,
      nonce: fields.nonce,
      gasLimit: fields.gasLimit,
      gasPrice: fields.maxFeePerGas,
      maxPriorityFeePerGas: fields.maxPriorityFeePerGas,
      maxFeePerGas: fields.maxFeePerGas,
      maxFeePerBlobGas: null,
      data: fields.data,
      value: 0n,
      chainId: fields.chainId,
      signature: signed.signature,
      accessList: [],
      blobVersionedHashes: null,
      authorizationList: null,
    },
    provider,
  );
  return response.replaceableTransaction(startBlock);
}
