import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import type { Hash } from "../../../../../protocol/hash.js";
import { restoreKeys } from "../../../../key-backup.js";
import type { PatientClient } from "../../../../patient-client.js";
import { useApp, type ConnectedWallet } from "../../app/context.js";
import { backedUpBundle, registeredBundle } from "./chain-status.js";
import { forgetStoredKeys, loadStoredKeys, openStoredKeys, type StoredKeySet } from "./key-vault.js";
import { backupSignature, openKeys, type OpenedKeys } from "./open-session.js";
import { forgetSessionSignatures, SessionSigner, type WalletPrompt } from "./session-signer.js";
import { VaultKey } from "./vault-key.js";
import { DEFAULT_PARAMETER_SET } from "../../../../../protocol/fhe/params.js";
import { keyOptionsFor } from "../../../../../protocol/model-keys.js";
import { loadModel } from "../predict/model-file.js";

/** Where the patient's keys are, on this device. */
export type KeysState =
  | { phase: "checking" }
  | { phase: "locked"; stored: StoredKeySet }
  | { phase: "absent" }
  | { phase: "open"; stored: StoredKeySet };

/** A fact read from the chain or the blob store: unknown while reading, or when the source did not answer. */
export type Lookup<T> = { state: "checking" } | { state: "known"; value: T } | { state: "failed"; error: unknown };

export interface PatientSession {
  address: string;
  wallet: ConnectedWallet;
  signer: SessionSigner;
  keys: KeysState;
  /** The patient core on the open key set. */
  client: PatientClient | undefined;
  /** Encrypts what the app keeps on this device (the decrypted history) under the session's wallet signature. */
  vault: VaultKey | undefined;
  /** The key bundle registered on-chain for this wallet (undefined: never registered). */
  registered: Lookup<Hash | undefined>;
  /** The key bundle of the blob store's latest backup for this wallet (undefined: none). */
  backedUp: Lookup<Hash | undefined>;
  /** What the session is doing now, for a status line ("Making your keys…"). */
  busy: string | undefined;
  /** What the wallet is being asked for now. */
  prompt: WalletPrompt | undefined;
  error: unknown;
  clearError(): void;
  unlock(): Promise<void>;
  createKeys(): Promise<void>;
  restore(backup?: Uint8Array): Promise<void>;
  register(): Promise<void>;
  backUp(): Promise<void>;
  lock(): Promise<void>;
  forgetDevice(): Promise<void>;
  refreshStatus(): void;
}

/**
 * The patient's keys and client for the connected wallet: found on this device (sealed), opened with one wallet
 * signature per session, made in the FHE worker, restored from the blob store with the wallet alone, registered and
 * backed up. A new wallet account starts a new session (the previous key set is closed in the worker).
 */
export function usePatientSession(wallet: ConnectedWallet): PatientSession {
  const { config, blobs, contract, worker } = useApp();
  const address = wallet.address;
  const signer = useMemo(() => new SessionSigner(wallet.signer, `${config.chainId}:${config.contractAddress.toLowerCase()}`), [wallet.signer, config]);
  const [keys, setKeys] = useState<KeysState>({ phase: "checking" });
  const [opened, setOpened] = useState<OpenedKeys | undefined>(undefined);
  const [registered, setRegistered] = useState<Lookup<Hash | undefined>>({ state: "checking" });
  const [backedUp, setBackedUp] = useState<Lookup<Hash | undefined>>({ state: "checking" });
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [prompt, setPrompt] = useState<WalletPrompt | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [statusRound, setStatusRound] = useState(0);
  const openedRef = useRef<OpenedKeys | undefined>(undefined);

  useEffect(() => signer.onPrompt(setPrompt), [signer]);

  // A new wallet or deployment: look for this wallet's keys on the device; close what was open for another.
  useEffect(() => {
    let live = true;
    setKeys({ phase: "checking" });
    setError(undefined);
    loadStoredKeys(config, address).then(
      (stored) => live && setKeys(stored ? { phase: "locked", stored } : { phase: "absent" }),
      (err: unknown) => {
        if (!live) return;
        setKeys({ phase: "absent" });
        setError(err);
      },
    );
    return () => {
      live = false;
      const previous = openedRef.current;
      openedRef.current = undefined;
      setOpened(undefined);
      void previous?.crypto.dispose().catch(() => undefined);
    };
  }, [config, address]);

  // Registration and backup, read again after every change.
  useEffect(() => {
    let live = true;
    setRegistered({ state: "checking" });
    setBackedUp({ state: "checking" });
    registeredBundle(contract, address).then(
      (value) => live && setRegistered({ state: "known", value }),
      (err: unknown) => live && setRegistered({ state: "failed", error: err }),
    );
    backedUpBundle(blobs, address).then(
      (value) => live && setBackedUp({ state: "known", value }),
      (err: unknown) => live && setBackedUp({ state: "failed", error: err }),
    );
    return () => {
      live = false;
    };
  }, [contract, blobs, address, statusRound]);
  const refreshStatus = useCallback(() => setStatusRound((n) => n + 1), []);

  const adopt = useCallback((next: OpenedKeys) => {
    const previous = openedRef.current;
    openedRef.current = next;
    setOpened(next);
    setKeys({ phase: "open", stored: next.stored });
    if (previous && previous.crypto !== next.crypto) void previous.crypto.dispose().catch(() => undefined);
  }, []);

  /** Runs one action of the session, with its status line; its error is kept for the view and rethrown. */
  const act = useCallback(async (label: string, action: () => Promise<void>) => {
    setBusy(label);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err);
      throw err;
    } finally {
      setBusy(undefined);
    }
  }, []);

  const unlock = useCallback(
    () =>
      act("Unlocking your keys…", async () => {
        if (keys.phase !== "locked") return;
        const signature = await backupSignature(signer, config);
        const opened = openStoredKeys(keys.stored, config, address, signature);
        const unlocked = await openKeys({ worker: await worker(), keys: opened, signer, config, blobs, address, signature, stored: keys.stored });
        adopt(unlocked);
        // The upload session's signature now, with the unlock's: the next prediction asks for its transaction only.
        await unlocked.client.prepareUploads();
      }),
    [act, keys, signer, config, address, adopt, worker, blobs],
  );

  // The wallet already gave this session its signature (the page went to another network and back, or another
  // account and back): the keys open again without asking.
  useEffect(() => {
    if (keys.phase === "locked" && busy === undefined && signer.hasBackupSignature(address)) void unlock().catch(() => undefined);
  }, [keys.phase, busy, signer, address, unlock]);

  const createKeys = useCallback(
    () =>
      act("Making your keys in the encryption worker…", async () => {
        const signature = await backupSignature(signer, config);
        const host = await worker();
        // Keys that fit every model this deployment offers (its widest tuple, relinearization keys for a
        // non-interactive one); a model that cannot be fetched now is left out, and the flow refuses it by name later.
        const offered = await Promise.allSettled(config.models.map((m) => loadModel(m, blobs, contract)));
        const models = offered.flatMap((r) => (r.status === "fulfilled" ? [r.value.model] : []));
        const fresh = await host.generateKeys({ patient: address, ...keyOptionsFor(models, DEFAULT_PARAMETER_SET) });
        adopt(await openKeys({ worker: host, keys: fresh, signer, config, blobs, address, signature }));
      }),
    [act, signer, config, worker, address, adopt, blobs, contract],
  );

  const restore = useCallback(
    (backup?: Uint8Array) =>
      act("Restoring your keys from the backup…", async () => {
        const restored = await restoreKeys({ signer, contractAddress: config.contractAddress, blobs, ...(backup ? { backup } : {}) });
        const signature = await backupSignature(signer, config);
        const reopened = await openKeys({ worker: await worker(), keys: restored.keys, signer, config, blobs, address, signature });
        adopt(reopened);
        refreshStatus();
        await reopened.client.prepareUploads();
      }),
    [act, signer, config, blobs, worker, address, adopt, refreshStatus],
  );

  const register = useCallback(
    () =>
      act("Registering your public keys…", async () => {
        if (!opened) return;
        await opened.client.register();
        refreshStatus();
      }),
    [act, opened, refreshStatus],
  );

  const backUp = useCallback(
    () =>
      act("Backing up your sealed secret key…", async () => {
        if (!opened) return;
        await opened.client.backupKeys();
        refreshStatus();
      }),
    [act, opened, refreshStatus],
  );

  const lock = useCallback(async () => {
    const previous = openedRef.current;
    openedRef.current = undefined;
    setOpened(undefined);
    forgetSessionSignatures();
    await previous?.crypto.dispose().catch(() => undefined);
    const stored = await loadStoredKeys(config, address);
    setKeys(stored ? { phase: "locked", stored } : { phase: "absent" });
  }, [config, address]);

  const forgetDevice = useCallback(
    () =>
      act("Removing the keys from this device…", async () => {
        await lock();
        await forgetStoredKeys(config, address);
        setKeys({ phase: "absent" });
      }),
    [act, lock, config, address],
  );

  const vault = useMemo(() => (opened ? new VaultKey(opened.signature, "history") : undefined), [opened]);
  const clearError = useCallback(() => setError(undefined), []);

  return {
    address,
    wallet,
    signer,
    keys,
    client: opened?.client,
    vault,
    registered,
    backedUp,
    busy,
    prompt,
    error,
    clearError,
    unlock,
    createKeys,
    restore,
    register,
    backUp,
    lock,
    forgetDevice,
    refreshStatus,
  };
}
