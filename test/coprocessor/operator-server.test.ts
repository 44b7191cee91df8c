import { expect } from "chai";
import { Wallet } from "ethers";
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { Queue } from "bullmq";
import { closeServer, createHttpServer, listen } from "../../coprocessor/api/http-server.js";
import { createOperatorApp, type OperatorOptions } from "../../coprocessor/api/operator-app.js";
import { CoprocessorMetrics } from "../../coprocessor/metrics.js";
import { uploadDomain } from "../../protocol/upload-auth.js";
import { metricSample } from "../helpers/prometheus.js";
import { blobApisOnRedis, errorOf, hashOf, keyBundleOf, signedPut, signedPutHeaders } from "./blob-fixtures.js";

/**
 * The operator server: /healthz, /readyz (checks run at most once per PMHE_READY_CACHE_MS, however many probes),
 * /metrics and the queue dashboard, on a listener of their own. Real HTTP servers and a real Redis.
 */
const DOMAIN = uploadDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");

describe("operator server", function () {
  const apis = blobApisOnRedis();
  const servers: Server[] = [];

  async function serve(options: OperatorOptions): Promise<string> {
    const server = createHttpServer(undefined, createOperatorApp(options));
    servers.push(server);
    return `http://127.0.0.1:${await listen(server, "127.0.0.1", 0)}`;
  }

  afterEach(async function () {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await closeServer(server);
    }
  });

  describe("/readyz", function () {
    it("runs its checks once per interval however many probes arrive, together or one after another", async function () {
      let clock = 0;
      const calls = { redis: 0, chain: 0 };
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const url = await serve({
        readiness: {
          timeoutMs: 5_000,
          checks: {
            redis: async () => {
              calls.redis++;
              await gate; // the first round is still running while the flood arrives
            },
            chain: async () => {
              calls.chain++;
            },
          },
        },
        readyCacheMs: 1_000,
        now: () => clock,
      });
      const flood = Array.from({ length: 200 }, () => fetch(`${url}/readyz`));
      await new Promise((resolve) => setTimeout(resolve, 100));
      release();
      const answers = await Promise.all(flood);
      expect(answers.every((r) => r.status === 200)).to.equal(true);
      expect(calls).to.deep.equal({ redis: 1, chain: 1 });

      for (let i = 0; i < 50; i++) expect((await fetch(`${url}/readyz`)).status).to.equal(200);
      clock += 999;
      expect((await fetch(`${url}/readyz`)).status).to.equal(200);
      expect(calls).to.deep.equal({ redis: 1, chain: 1 });
      clock += 1;
      const fresh = await fetch(`${url}/readyz`);
      expect(await fresh.json()).to.include({ status: "ready" });
      expect(calls).to.deep.equal({ redis: 2, chain: 2 });
      expect(fresh.headers.get("cache-control")).to.equal("no-store");
    });

    it("answers 503 naming the check that timed out or failed, without its error text, and caches that too", async function () {
      let clock = 0;
      let brokenCalls = 0;
      const url = await serve({
        readiness: {
          timeoutMs: 150,
          checks: {
            fine: async () => 1,
            stuck: () => new Promise(() => undefined),
            broken: async () => {
              brokenCalls++;
              throw Object.assign(new Error("request to https://rpc.example/v3/SECRETKEY failed"), { code: "ECONNREFUSED" });
            },
          },
        },
        readyCacheMs: 1_000,
        now: () => clock,
      });
      const response = await fetch(`${url}/readyz`);
      expect(response.status).to.equal(503);
      const text = await response.text();
      expect(text).to.not.include("SECRETKEY");
      const body = JSON.parse(text) as { status: string; error: string; failed: string[]; checks: Record<string, { ok: boolean; error?: string }> };
      expect(body.status).to.equal("not_ready");
      expect(body.error).to.equal("not_ready");
      expect(body.failed).to.deep.equal(["stuck", "broken"]);
      expect(body.checks.fine!.ok).to.equal(true);
      expect(body.checks.stuck).to.include({ ok: false, error: "no answer within 150 ms" });
      expect(body.checks.broken).to.include({ ok: false, error: "ECONNREFUSED" });
      await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/readyz`)));
      expect(brokenCalls).to.equal(1);
      clock += 1_000;
      expect((await fetch(`${url}/readyz`)).status).to.equal(503);
      expect(brokenCalls).to.equal(2);
    });

    it("checks on every probe with PMHE_READY_CACHE_MS=0, and is ready with no checks", async function () {
      let calls = 0;
      const url = await serve({ readiness: { timeoutMs: 1_000, checks: { one: async () => calls++ } }, readyCacheMs: 0 });
      for (let i = 0; i < 3; i++) await fetch(`${url}/readyz`);
      expect(calls).to.equal(3);
      const bare = await serve({});
      expect(await (await fetch(`${bare}/readyz`)).json()).to.deep.equal({ status: "ready", checks: {} });
      expect(await (await fetch(`${bare}/healthz`)).json()).to.deep.equal({ status: "ok" });
    });
  });

  it("serves the blob store's metrics: refusals by code, pending bytes, deletions, transfers in flight", async function () {
    const metrics = new CoprocessorMetrics({ processMetrics: false });
    const uploads = { domain: DOMAIN, hasRole: async () => false, currentKeyBundle: async () => undefined };
    const api = await apis.start({ uploads, api: { metrics } });
    // The ledger is the harness's: its pending bytes are what the gauge reads.
    const withPending = new CoprocessorMetrics({ processMetrics: false, pendingBlobBytes: () => api.ledger.pendingBytes() });
    const url = await serve({ metrics: withPending });
    const signer = Wallet.createRandom();
    const bundle = keyBundleOf(signer.address);
    expect((await signedPut(api.url, signer, DOMAIN, bundle, "key-bundle")).status).to.equal(201);
    const hash = hashOf(bundle);
    await fetch(`${api.url}/blobs/${hash}`, { method: "PUT", headers: { ...(await signedPutHeaders(signer, DOMAIN, hash, "key-bundle")), "content-encoding": "gzip" }, body: bundle as Uint8Array<ArrayBuffer> });
    await errorOf(await signedPut(api.url, signer, DOMAIN, keyBundleOf(Wallet.createRandom().address), "key-bundle"), 422, "owner_mismatch");
    await fetch(`${api.url}/blobs/${hash}`, { method: "PUT" });

    const apiSide = await metrics.scrape();
    expect(metricSample(apiSide.body, "pmhe_blob_upload_rejections_total", { code: "compressed_body_refused" })).to.equal(1);
    expect(metricSample(apiSide.body, "pmhe_blob_upload_rejections_total", { code: "owner_mismatch" })).to.equal(1);
    expect(metricSample(apiSide.body, "pmhe_blob_upload_rejections_total", { code: "signature_required" })).to.equal(1);
    expect(metricSample(apiSide.body, "pmhe_blob_uploads_total", { purpose: "key-bundle", status: "201" })).to.equal(1);
    expect(metricSample(apiSide.body, "pmhe_blob_transfers_in_flight", { direction: "upload" })).to.equal(0);

    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get("content-type")).to.match(/^text\/plain/);
    const text = await response.text();
    expect(metricSample(text, "pmhe_blob_pending_bytes")).to.equal(bundle.length);
    withPending.blobDeletions.inc({ reason: "gc" }, 2);
    expect(metricSample(await (await fetch(`${url}/metrics`)).text(), "pmhe_blob_deletions_total", { reason: "gc" })).to.equal(2);
    await api.keeper.referenced([{ hash, kind: "key-bundle" }]);
    expect(metricSample(await (await fetch(`${url}/metrics`)).text(), "pmhe_blob_pending_bytes")).to.equal(0);
  });

  it("mounts the queue dashboard only with an admin token, behind it", async function () {
    const queue = new Queue(`operator-test-${randomBytes(4).toString("hex")}`, { connection: { url: apis.redisUrl } });
    try {
      const token = randomBytes(24).toString("hex");
      const url = await serve({ admin: { token, queues: [queue] } });
      await errorOf(await fetch(`${url}/admin/queues`), 401, "unauthorized");
      await errorOf(await fetch(`${url}/admin/queues`, { headers: { authorization: "Bearer wrong-token-wrong-token" } }), 401, "unauthorized");
      const page = await fetch(`${url}/admin/queues`, { headers: { authorization: `Bearer ${token}` } });
      expect(page.status).to.equal(200);
      expect(page.headers.get("content-type")).to.match(/^text\/html/);
      const bare = await serve({});
      await errorOf(await fetch(`${bare}/admin/queues`), 404, "not_found");
      await errorOf(await fetch(`${bare}/metrics`), 404, "not_found");
    } finally {
      await queue.close();
    }
  });

  it("keeps the public API free of operator routes", async function () {
    const api = await apis.start({ uploads: { domain: DOMAIN, hasRole: async () => false }, api: { metrics: new CoprocessorMetrics({ processMetrics: false }) } });
    expect((await fetch(`${api.url}/healthz`)).status).to.equal(200);
    for (const path of ["/metrics", "/readyz", "/admin/queues"]) await errorOf(await fetch(`${api.url}${path}`), 404, "not_found");
  });
});
