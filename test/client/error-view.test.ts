import { expect } from "chai";
import { BrowserProvider, Interface, keccak256, toUtf8Bytes, Wallet, type Eip1193Provider } from "ethers";
import { errorView } from "../../client/error-view.js";
import {
  DisputedResultError,
  ForeignKeyBundleError,
  KeyOwnerMismatchError,
  PredictionExpiredError,
  PredictionFailedError,
  PredictionTimeoutError,
  ResultVerificationError,
} from "../../client/errors.js";
import { nextStep } from "../../client/node/cli-errors.js";
import { KeystoreError } from "../../client/node/keystore.js";
import { BlobStoreError } from "../../protocol/blob-client.js";
import { DeploymentError, WrongChainError } from "../../protocol/chain.js";
import { ContractCallError, decodeRevertData } from "../../protocol/contract-errors.js";
import { FailureReason } from "../../protocol/failure-reasons.js";
import { FheError } from "../../protocol/fhe/errors.js";
import type { Hash } from "../../protocol/hash.js";
import { KeyBackupError, keyBackupDomain, signKeyBackup } from "../../protocol/key-backup.js";
import { PMHE__factory } from "../../types/ethers-contracts/factories/PMHE__factory.js";
import { NetworkError } from "../../protocol/rpc.js";
import { rejectionOf } from "../helpers/rejection.js";

const JOB = keccak256(toUtf8Bytes("job")) as Hash;
const RPC = "http://127.0.0.1:8545";
const API = "http://127.0.0.1:8080";

/** A contract refusal as the contract encodes it, decoded by the project's one decoder. */
function refusal(name: string, args: unknown[], action = "requestPrediction"): ContractCallError {
  const data = new Interface(PMHE__factory.abi).encodeErrorResult(name, args);
  return new ContractCallError(decodeRevertData(data)!, action);
}

/** An EIP-1193 wallet (what MetaMask injects) that knows one account and answers typed-data requests as told. */
function wallet(account: string, onSign: () => Promise<unknown>): Eip1193Provider {
  return {
    async request({ method }: { method: string }) {
      if (method === "eth_chainId") return "0x7a69";
      if (method === "eth_accounts" || method === "eth_requestAccounts") return [account];
      if (method === "eth_signTypedData_v4") return onSign();
      throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 });
    },
  };
}

describe("ErrorView: every error of the patient's flows as a title, a sentence and a next step (client/error-view.ts)", function () {
  it("tells a user's refusal in the wallet (EIP-1193 4001, as ethers reports it through a browser wallet) as nothing sent", async function () {
    const account = Wallet.createRandom().address;
    const provider = new BrowserProvider(wallet(account, () => Promise.reject(Object.assign(new Error("User rejected the request."), { code: 4001 }))));
    const signer = await provider.getSigner(account);
    const err = await rejectionOf(signKeyBackup(signer, keyBackupDomain(31337, account)));
    const view = errorView(err);
    expect(view).to.include({ kind: "user-rejected", title: "Declined in the wallet", retryable: true, code: "4001" });
    expect(view.sentence).to.equal("The request was declined in the wallet, so nothing was signed or sent.");
    // A raw provider error with the code, too.
    expect(errorView(Object.assign(new Error("denied"), { code: 4001 })).kind).to.equal("user-rejected");
  });

  it("tells a wrong chain, a wallet that does not know the chain (4902), and a missing deployment apart", function () {
    const wrong = errorView(new WrongChainError(31337n, 1n, ` at ${RPC}`));
    expect(wrong).to.include({ kind: "wrong-chain", title: "Wrong network" });
    expect(wrong.sentence).to.contain("chain id 1, but 31337 is configured");
    expect(wrong.next).to.contain("network 31337");
    expect(errorView(Object.assign(new Error("Unrecognized chain ID"), { code: 4902 })).kind).to.equal("wrong-chain");
    const missing = errorView(new DeploymentError("there is no contract at 0x12 on chain 31337"), { surface: "cli" });
    expect(missing).to.include({ kind: "deployment", next: "set PMHE_CONTRACT_ADDRESS to the address PMHE was deployed at, on the chain of PMHE_RPC_URL" });
  });

  it("names the URL that did not answer, chain or coprocessor, and turns an address-less socket failure into the chain's", function () {
    const api = errorView(new NetworkError(`${API}/blobs/0x12`, "the coprocessor's blob store", "ECONNREFUSED"), { rpcUrl: RPC, apiUrl: API });
    expect(api).to.include({ kind: "network", title: "Coprocessor unreachable", url: `${API}/blobs/0x12`, retryable: true });
    expect(api.sentence).to.contain(`${API}/blobs/0x12`);
    const socket = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    const chain = errorView(socket, { rpcUrl: RPC, surface: "cli" });
    expect(chain).to.include({ kind: "network", title: "Chain unreachable", url: RPC, next: "start the chain, or point PMHE_RPC_URL at a running one" });
    expect(chain.sentence).to.contain(RPC);
  });

  it("gives contract refusals their error name, blob-store refusals their code, failures their reason name, with each surface's next step", function () {
    const noConsent = refusal("NoConsent", [Wallet.createRandom().address, Wallet.createRandom().address]);
    expect(errorView(noConsent)).to.include({ kind: "contract", title: "Refused by the contract: NoConsent", code: "NoConsent", next: "grant the hospital consent first (Consents page)" });
    expect(errorView(noConsent, { surface: "cli" }).next).to.equal("grant the hospital consent first: npm run client -- consent grant <hospital> --results");
    expect(errorView(noConsent).sentence).to.contain("has no active consent for hospital");

    const quota = new BlobStoreError(429, "quota_exceeded", "upload of 0x12 failed with 429 quota_exceeded: pending");
    expect(errorView(quota)).to.include({ kind: "blob-store", title: "Upload quota reached", code: "quota_exceeded", retryable: true, next: "try again later" });
    const notRegistered = new BlobStoreError(403, "not_registered", "upload failed with 403 not_registered");
    expect(errorView(notRegistered, { surface: "cli" }).next).to.equal("register this key set first: npm run client -- register");

    const failed = errorView(new PredictionFailedError(JOB, FailureReason.RecordOwnerMismatch));
    expect(failed).to.include({ kind: "failed", title: "Prediction failed: RecordOwnerMismatch", code: "RecordOwnerMismatch", retryable: false });
    expect(errorView(new PredictionExpiredError(JOB))).to.include({ kind: "expired", retryable: true });
    expect(errorView(new PredictionTimeoutError(JOB, 1000), { surface: "cli" }).next).to.equal(`wait longer (--timeout), or look the job up: npm run audit -- --job ${JOB}`);
  });

  it("says plainly what a disputed or unverifiable result, other keys and a key backup problem mean", function () {
    const disputed = errorView(new DisputedResultError(JOB, JOB, 1, 2, [{ coprocessor: Wallet.createRandom().address, resultHash: null, reason: 11, reasonName: "EvaluationError" }]));
    expect(disputed).to.include({ kind: "disputed", title: "Result disputed" });
    expect(disputed.next).to.match(/^do not rely on it/);
    expect(errorView(new ResultVerificationError(JOB, "the blob hashes to 0x1")).kind).to.equal("unverified");
    expect(errorView(new KeyOwnerMismatchError("0x1", "0x2")).kind).to.equal("keys");
    expect(errorView(new ForeignKeyBundleError(JOB, JOB, JOB)).title).to.equal("Encrypted under other keys");
    expect(errorView(new KeyBackupError("no_backup", "no backup for this address (0x1)"))).to.include({ kind: "key-backup", title: "No key backup", code: "no_backup" });
    expect(errorView(new FheError("MalformedSecretKey", "cannot load"))).to.include({ kind: "crypto", code: "MalformedSecretKey" });
    expect(errorView("a string")).to.include({ kind: "unknown", sentence: "a string", retryable: true });
  });

  it("is the CLI's next step, with the CLI's own Node-only errors on top", function () {
    expect(nextStep(new KeystoreError("no key set in x; create one"))).to.contain("npm run client -- restore");
    expect(nextStep(refusal("PatientNotRegistered", [Wallet.createRandom().address]))).to.equal("register your key bundle first: npm run client -- register");
    expect(nextStep(new NetworkError(RPC, "the chain's JSON-RPC endpoint", "ECONNREFUSED"), { rpcUrl: RPC })).to.equal("start the chain, or point PMHE_RPC_URL at a running one");
  });
});
