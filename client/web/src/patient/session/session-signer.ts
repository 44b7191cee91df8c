import { AbstractSigner, type JsonRpcSigner, type Provider, type TransactionRequest, type TransactionResponse, type TypedDataDomain, type TypedDataField } from "ethers";
import { DEFAULT_UPLOAD_SESSION_SECONDS, UploadSessionKeeper } from "../../../../../protocol/upload-session.js";
import { checkKeyBackupSignature, KEY_BACKUP_DOMAIN_NAME, keyBackupDomain } from "../../../../../protocol/key-backup.js";

/** What the wallet is being asked for right now, for views that say "confirm in your wallet". */
export type WalletPrompt = { kind: "signature"; what: string } | { kind: "transaction"; what: string };
type PromptListener = (prompt: WalletPrompt | undefined) => void;

/** Key-backup signatures of this page's session, by wallet and deployment: in memory only, gone on reload. */
const sessionSignatures = new Map<string, string>();

const TYPE_WORDS: Record<string, string> = {
  Upload: "an upload to the blob store",
  Delete: "a deletion from the blob store",
  KeyBackup: "unlocking your keys",
  UploadSession: `letting this page upload your encrypted data for the next ${DEFAULT_UPLOAD_SESSION_SECONDS / 3600} hours`,
};

/** Upload sessions of this page, by wallet and deployment: in memory only, gone on reload or lock. */
const uploadSessions = new Map<string, UploadSessionKeeper>();

/**
 * The upload session keeper of `address` on the deployment `scope` names: one per wallet, so that unlocking again (or
 * another tab of the same view) reuses a running session instead of asking the wallet again.
 */
export function uploadSessionsOf(scope: string, address: string): UploadSessionKeeper {
  const key = `${scope}:${address.toLowerCase()}`;
  let keeper = uploadSessions.get(key);
  if (!keeper) uploadSessions.set(key, (keeper = new UploadSessionKeeper()));
  return keeper;
}

/**
 * The patient's wallet as the patient core uses it. Every request still goes to the wallet; two things are added:
 * - the key-backup signature (protocol/key-backup.ts: its bytes are the key of the patient's sealed secret key) is
 *   asked once per session and kept in memory, so unlocking, backing up and restoring cost one prompt in all;
 * - listeners hear when the wallet is being asked for something, so a view can say so while it waits.
 */
export class SessionSigner extends AbstractSigner {
  private readonly listeners = new Set<PromptListener>();

  constructor(private readonly inner: JsonRpcSigner, private readonly scope: string) {
    super(inner.provider as Provider);
  }

  onPrompt(listener: PromptListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The upload sessions of `address` on this signer's deployment (see uploadSessionsOf). */
  uploadSessions(address: string): UploadSessionKeeper {
    return uploadSessionsOf(this.scope, address);
  }

  /** The cached key-backup signature, if this session has one already. */
  hasBackupSignature(address: string): boolean {
    return sessionSignatures.has(`${this.scope}:${address.toLowerCase()}`);
  }

  private async prompting<T>(prompt: WalletPrompt, action: () => Promise<T>): Promise<T> {
    for (const listener of this.listeners) listener(prompt);
    try {
      return await action();
    } finally {
      for (const listener of this.listeners) listener(undefined);
    }
  }

  override getAddress(): Promise<string> {
    return this.inner.getAddress();
  }

  override connect(): never {
    throw new Error("the session signer stays on the wallet's provider");
  }

  override signTransaction(tx: TransactionRequest): Promise<string> {
    return this.prompting({ kind: "transaction", what: "a transaction" }, () => this.inner.signTransaction(tx));
  }

  override signMessage(message: string | Uint8Array): Promise<string> {
    return this.prompting({ kind: "signature", what: "a message" }, () => this.inner.signMessage(message));
  }

  override async signTypedData(domain: TypedDataDomain, types: Record<string, TypedDataField[]>, value: Record<string, unknown>): Promise<string> {
    const primary = Object.keys(types).find((name) => name !== "EIP712Domain") ?? "data";
    if (domain.name === KEY_BACKUP_DOMAIN_NAME && primary === "KeyBackup") {
      const key = `${this.scope}:${(await this.getAddress()).toLowerCase()}`;
      const cached = sessionSignatures.get(key);
      if (cached) return cached;
      const signature = await this.prompting({ kind: "signature", what: TYPE_WORDS.KeyBackup! }, () => this.inner.signTypedData(domain, types, value));
      // Only a signature that checks out is kept (a wallet that answers wrongly is asked again next time).
      checkKeyBackupSignature(keyBackupDomain(BigInt(domain.chainId ?? 0), String(domain.verifyingContract)), await this.getAddress(), signature);
      sessionSignatures.set(key, signature);
      return signature;
    }
    return this.prompting({ kind: "signature", what: TYPE_WORDS[primary] ?? primary }, () => this.inner.signTypedData(domain, types, value));
  }

  override sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    return this.prompting({ kind: "transaction", what: "a transaction" }, () => this.inner.sendTransaction(tx));
  }
}

/** Forgets this session's key-backup signatures (the person locked the app, or switched accounts). */
export function forgetSessionSignatures(): void {
  sessionSignatures.clear();
  for (const keeper of uploadSessions.values()) keeper.forget();
  uploadSessions.clear();
}
