import { expect } from "chai";
import { ConfigError, loadCoprocessorConfig } from "../../coprocessor/config.js";

const REQUIRED = {
  PMHE_CONTRACT_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  PMHE_COPROCESSOR_KEY: `0x${"11".repeat(32)}`,
};

describe("coprocessor settings of the blob store, the API and the operator server", function () {
  it("has bounded defaults: quota, cap, collection, transfers, deadlines, an operator server on loopback", function () {
    const config = loadCoprocessorConfig(REQUIRED);
    expect(config).to.include({
      PMHE_UPLOAD_QUOTA_BYTES: 64 * 1024 * 1024,
      PMHE_PENDING_BYTES_MAX: 2 * 1024 * 1024 * 1024,
      PMHE_BLOB_GC_INTERVAL_MS: 60_000,
      PMHE_BLOB_GC_AFTER_SECONDS: 3_600,
      PMHE_MAX_CONCURRENT_UPLOADS: 8,
      PMHE_MAX_CONCURRENT_DOWNLOADS: 64,
      PMHE_HEADERS_TIMEOUT_MS: 10_000,
      PMHE_REQUEST_TIMEOUT_MS: 120_000,
      PMHE_IDLE_TIMEOUT_MS: 30_000,
      PMHE_KEEP_ALIVE_TIMEOUT_MS: 5_000,
      PMHE_KEY_BUNDLE_CACHE_MS: 2_000,
      PMHE_OPERATOR_HOST: "127.0.0.1",
      PMHE_OPERATOR_PORT: 9464,
      PMHE_READY_CACHE_MS: 1_000,
    });
    expect(config.PMHE_MAX_BLOB_BYTES).to.equal(undefined); // each purpose's own limit
    expect(loadCoprocessorConfig({ ...REQUIRED, PMHE_OPERATOR_PORT: "0", PMHE_MAX_BLOB_BYTES: "2048" })).to.include({ PMHE_OPERATOR_PORT: 0, PMHE_MAX_BLOB_BYTES: 2048 });
  });

  for (const [name, value, env] of [
    ["PMHE_BLOB_GC_AFTER_SECONDS", "600", {}], // below the default upload signature TTL (3600)
    ["PMHE_BLOB_GC_AFTER_SECONDS", "7000", { PMHE_UPLOAD_MAX_TTL_SECONDS: "7200" }],
    ["PMHE_HEADERS_TIMEOUT_MS", "20000", { PMHE_REQUEST_TIMEOUT_MS: "10000" }],
    ["PMHE_UPLOAD_QUOTA_BYTES", "1000", {}],
    ["PMHE_MAX_CONCURRENT_UPLOADS", "0", {}],
    ["PMHE_OPERATOR_PORT", "70000", {}],
    ["PMHE_READY_CACHE_MS", "-1", {}],
  ] as const) {
    it(`refuses ${name}=${value}${Object.keys(env).length ? ` with ${JSON.stringify(env)}` : ""} at start with a ConfigError naming it`, function () {
      expect(() => loadCoprocessorConfig({ ...REQUIRED, ...env, [name]: value })).to.throw(ConfigError, name);
    });
  }
});
