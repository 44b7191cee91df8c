import type { BrowserContext, Page } from "playwright-core";

/**
 * A stand-in for a wallet extension, for browser tests only: MetaMask's extension cannot be installed here. The page
 * sees what it sees from a real wallet: an EIP-1193 provider announced through EIP-6963 (`eip6963:announceProvider`
 * in answer to `eip6963:requestProvider`), `accountsChanged` / `chainChanged` events, and user rejections as errors
 * with code 4001. Behind it, requests go to this test process (through an exposed binding, as an extension's page
 * script talks to its background), which forwards them to the Hardhat node, whose test accounts are unlocked and
 * which signs `personal_sign` and `eth_signTypedData_v4` itself (deterministically, as a wallet does).
 * The app must not be able to tell the difference; nothing here is imported by the app.
 */

export interface WalletControl {
  /** The account the wallet exposes (a Hardhat test account). */
  account: string;
  /** The chain id the wallet is on, as a number; switching chains changes it. */
  chainId: number;
  /** Methods the user "rejects": the next calls of these methods answer 4001. */
  rejectNext: Set<string>;
  /** Every request the page made, in order (method and params), for assertions. */
  requests: Array<{ method: string; params: unknown }>;
  /** Switches the exposed account and tells the page (accountsChanged). */
  switchAccount(account: string): Promise<void>;
  /** Moves the wallet to another chain and tells the page (chainChanged). */
  switchChain(chainId: number): Promise<void>;
}

/** What the binding answers the page with: a result, or an EIP-1193 error. */
type Answer = { result: unknown } | { error: { code: number; message: string; data?: unknown } };

const WALLET_INFO = {
  uuid: "5b3a5f6c-3e1e-4b8a-9a34-2d1a2b6c0e11",
  name: "Test Wallet",
  // A 1x1 transparent PNG: EIP-6963 requires an icon data URI.
  icon: "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=",
  rdns: "org.pmhe.test-wallet",
};

/**
 * Installs the wallet in every page of `context`: call before the page loads. `rpcUrl` is the Hardhat node's URL,
 * `chainId` its chain id (the one chain the wallet knows besides the one it starts on); `startChainId`, when given,
 * is the chain the wallet is on at first (another network, as a wallet that was last used elsewhere): it answers
 * `eth_` calls with 4901 until it is switched to `chainId`.
 */
export async function installInjectedWallet(
  context: BrowserContext,
  options: { rpcUrl: string; chainId: number; account: string; startChainId?: number },
): Promise<WalletControl> {
  const pages = new Set<Page>();
  const control: WalletControl = {
    account: options.account,
    chainId: options.startChainId ?? options.chainId,
    rejectNext: new Set(),
    requests: [],
    async switchAccount(account) {
      control.account = account;
      for (const page of pages) await page.evaluate((a) => (window as unknown as { __pmheWalletEmit(e: string, v: unknown): void }).__pmheWalletEmit("accountsChanged", [a]), account).catch(() => undefined);
    },
    async switchChain(chainId) {
      control.chainId = chainId;
      const hex = `0x${chainId.toString(16)}`;
      for (const page of pages) await page.evaluate((c) => (window as unknown as { __pmheWalletEmit(e: string, v: unknown): void }).__pmheWalletEmit("chainChanged", c), hex).catch(() => undefined);
    },
  };
  context.on("page", (page) => {
    pages.add(page);
    page.on("close", () => pages.delete(page));
  });
  for (const page of context.pages()) pages.add(page);

  let nextId = 1;
  const forward = async (method: string, params: unknown): Promise<Answer> => {
    const response = await fetch(options.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: nextId++, method, params: params ?? [] }),
    });
    const body = (await response.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
    return body.error ? { error: body.error } : { result: body.result };
  };

  await context.exposeBinding("__pmheWalletRequest", async (_source, method: string, params: unknown): Promise<Answer> => {
    control.requests.push({ method, params });
    if (control.rejectNext.delete(method)) return { error: { code: 4001, message: "User rejected the request." } };
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return { result: [control.account] };
      case "eth_chainId":
        return { result: `0x${control.chainId.toString(16)}` };
      case "net_version":
        return { result: String(control.chainId) };
      case "wallet_switchEthereumChain": {
        const wanted = Number.parseInt(String((params as Array<{ chainId: string }>)[0]?.chainId), 16);
        // Like a wallet that knows only the chains it was told about: the test's chain.
        if (wanted !== options.chainId) return { error: { code: 4902, message: `Unrecognized chain ID 0x${wanted.toString(16)}.` } };
        await control.switchChain(wanted);
        return { result: null };
      }
      case "wallet_addEthereumChain": {
        const wanted = Number.parseInt(String((params as Array<{ chainId: string }>)[0]?.chainId), 16);
        if (wanted !== options.chainId) return { error: { code: -32602, message: "the test wallet can only add the test chain" } };
        await control.switchChain(wanted);
        return { result: null };
      }
      case "wallet_requestPermissions":
      case "wallet_getPermissions":
        return { result: [{ parentCapability: "eth_accounts" }] };
      case "eth_sendTransaction": {
        // The wallet sends from the account it exposes, whatever the page put in `from`.
        const [tx] = params as [Record<string, unknown>];
        return forward(method, [{ ...tx, from: control.account }]);
      }
      default:
        if (control.chainId !== options.chainId && method.startsWith("eth_")) {
          return { error: { code: 4901, message: "The wallet is connected to another chain." } };
        }
        return forward(method, params);
    }
  });

  // A string, not a function: the test runner's TypeScript loader decorates functions with helpers (`__name`) that
  // do not exist in the page, and the page must not see anything of the test runner anyway.
  await context.addInitScript({ content: walletPageScript(WALLET_INFO) });

  return control;
}

/** The page's side of the wallet: plain JavaScript, run before the page's own scripts in every frame. */
function walletPageScript(info: typeof WALLET_INFO): string {
  return `(() => {
  const info = ${JSON.stringify(info)};
  const listeners = new Map();
  const provider = {
    isMetaMask: false,
    async request(args) {
      const method = args && args.method;
      const params = args ? args.params : undefined;
      const answer = await window.__pmheWalletRequest(method, params);
      if (answer.error) {
        const error = new Error(answer.error.message);
        error.code = answer.error.code;
        error.data = answer.error.data;
        throw error;
      }
      return answer.result;
    },
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(listener);
      return provider;
    },
    removeListener(event, listener) {
      const set = listeners.get(event);
      if (set) set.delete(listener);
      return provider;
    },
  };
  Object.defineProperty(window, "__pmheWalletEmit", {
    value: (event, value) => {
      for (const listener of listeners.get(event) || []) listener(value);
    },
  });
  const detail = Object.freeze({ info: Object.freeze(info), provider });
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();`;
}
