import { gcm } from "@noble/ciphers/aes.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { randomBytes } from "@noble/hashes/utils.js";
import { backupKeyFromSignature } from "../../../../../protocol/key-backup.js";

/**
 * Encryption of what the app keeps on this device besides the key set (the decrypted history), under a key derived
 * from the same wallet signature as the key backup (protocol/key-backup.ts), but for another purpose (HKDF info):
 * nothing the app stores is readable without the wallet. AES-256-GCM with a fresh 12-byte nonce per write.
 */
const utf8 = (text: string) => new TextEncoder().encode(text);

export interface SealedValue {
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

export class VaultKey {
  private readonly key: Uint8Array;

  constructor(signature: string, purpose: string) {
    this.key = hkdf(sha256, backupKeyFromSignature(signature), utf8("PMHE web app local data/1"), utf8(purpose), 32);
  }

  seal(value: unknown, associated: string): SealedValue {
    const nonce = randomBytes(12);
    return { nonce, ciphertext: gcm(this.key, nonce, utf8(associated)).encrypt(utf8(JSON.stringify(value))) };
  }

  /** Throws when the data was altered, or sealed under another wallet's key. */
  open<T>(sealed: SealedValue, associated: string): T {
    const plain = gcm(this.key, sealed.nonce, utf8(associated)).decrypt(sealed.ciphertext);
    return JSON.parse(new TextDecoder().decode(plain)) as T;
  }
}
