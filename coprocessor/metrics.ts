import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** Queue states reported as `pmhe_queue_jobs{state}`. */
export const QUEUE_STATES = ["waiting", "prioritized", "active", "delayed", "failed"] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface MetricsOptions {
  /** Job counts by state, read on every scrape (BullMQ's `getJobCounts`). */
  queueCounts?: (states: readonly QueueState[]) => Promise<Partial<Record<string, number>>>;
  /** How long a scrape waits for the queue counts before it reports none. */
  collectTimeoutMs?: number;
  /** Evaluation threads busy right now, read on every scrape. */
  busyThreads?: () => number;
  /** Also export Node's process metrics (CPU, memory, event loop). Default true. */
  processMetrics?: boolean;
  /** Bytes of uploads pending in the blob store (not yet referenced on-chain), read on every scrape. */
  pendingBlobBytes?: () => Promise<number>;
}

/**
 * The Prometheus metrics of one coprocessor, in a registry of its own (not prom-client's global one), so several
 * coprocessors can run in one process, as the tests do. Labels carry reason names, purposes and statuses only:
 * never job ids, hashes or addresses.
 */
export class CoprocessorMetrics {
  readonly registry = new Registry();
  readonly queueJobs: Gauge<"state">;
  readonly queueScrapeErrors: Counter;
  /** From the job entering the queue (right after the chain listener saw its request) until it is settled on-chain. */
  readonly jobLatency: Histogram<"outcome">;
  /** Time of the homomorphic evaluation itself, per job. */
  readonly evaluationSeconds: Histogram;
  /** Jobs failed on-chain, by reason code name. */
  readonly jobFailures: Counter<"reason">;
  /** Evaluation threads busy with a job, read on scrape. */
  readonly evaluationThreadsBusy: Gauge;
  /** Evaluation threads that died (a SEAL abort, out of memory) and were replaced. */
  readonly evaluationThreadDeaths: Counter;
  /** Blob upload requests by purpose (`none`/`invalid` when unsigned or unknown) and HTTP status. */
  readonly blobUploads: Counter<"purpose" | "status">;
  /** Blob uploads refused, by the error code of the answer. */
  readonly blobUploadRejections: Counter<"code">;
  /** Bytes of uploads not yet referenced on-chain (they count against their uploaders' quotas), read on scrape. */
  readonly blobPendingBytes: Gauge;
  /** Blobs deleted, by reason: `gc` (never referenced), `erasure` (erased on-chain), `owner` (deleted by their patient). */
  readonly blobDeletions: Counter<"reason">;
  /** Bytes of the blobs deleted, by the same reasons. */
  readonly blobDeletedBytes: Counter<"reason">;
  /** Blob transfers in progress, by direction (`upload`, `download`). */
  readonly blobTransfersInFlight: Gauge<"direction">;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    const timeoutMs = options.collectTimeoutMs ?? 2_000;
    const { queueCounts } = options;
    const scrapeErrors = (this.queueScrapeErrors = new Counter({
      name: "pmhe_queue_scrape_errors_total",
      help: "Scrapes that could not read the queue's job counts",
      registers,
    }));
    this.queueJobs = new Gauge({
      name: "pmhe_queue_jobs",
      help: "Prediction jobs in the queue, by state (read from BullMQ on scrape)",
      labelNames: ["state"],
      registers,
      async collect() {
        if (!queueCounts) return;
        let timer: NodeJS.Timeout | undefined;
        try {
          const counts = await Promise.race([
            queueCounts(QUEUE_STATES),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
            }),
          ]);
          for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
        } catch {
          // Report no value rather than a stale one.
          this.reset();
          scrapeErrors.inc();
        } finally {
          clearTimeout(timer);
        }
      },
    });
    this.jobLatency = new Histogram({
      name: "pmhe_job_latency_seconds",
      help: "Seconds from a job being enqueued to this coprocessor settling it on-chain, by outcome",
      labelNames: ["outcome"],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.evaluationSeconds = new Histogram({
      name: "pmhe_evaluation_seconds",
      help: "Seconds spent in the homomorphic evaluation of one job",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.jobFailures = new Counter({
      name: "pmhe_job_failures_total",
      help: "Jobs this coprocessor reported as failed on-chain, by reason",
      labelNames: ["reason"],
      registers,
    });
    const { busyThreads } = options;
    this.evaluationThreadsBusy = new Gauge({
      name: "pmhe_evaluation_threads_busy",
      help: "Evaluation threads evaluating a job right now",
      registers,
      collect() {
        if (busyThreads) this.set(busyThreads());
      },
    });
    this.evaluationThreadDeaths = new Counter({
      name: "pmhe_evaluation_thread_deaths_total",
      help: "Evaluation threads that died and were replaced (their job is retried)",
      registers,
    });
    this.blobUploads = new Counter({
      name: "pmhe_blob_uploads_total",
      help: "Blob upload requests by purpose and HTTP status",
      labelNames: ["purpose", "status"],
      registers,
    });
    this.blobUploadRejections = new Counter({
      name: "pmhe_blob_upload_rejections_total",
      help: "Blob uploads refused, by error code",
      labelNames: ["code"],
      registers,
    });
    const { pendingBlobBytes } = options;
    this.blobPendingBytes = new Gauge({
      name: "pmhe_blob_pending_bytes",
      help: "Bytes of uploads not yet referenced on-chain, counted against their uploaders' quotas (read on scrape)",
      registers,
      async collect() {
        if (!pendingBlobBytes) return;
        let timer: NodeJS.Timeout | undefined;
        try {
          this.set(
            await Promise.race([
              pendingBlobBytes(),
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
              }),
            ]),
          );
        } catch {
          this.reset(); // no value rather than a stale one
        } finally {
          clearTimeout(timer);
        }
      },
    });
    this.blobDeletions = new Counter({
      name: "pmhe_blob_deletions_total",
      help: "Blobs deleted from the store, by reason (gc, erasure, owner)",
      labelNames: ["reason"],
      registers,
    });
    this.blobDeletedBytes = new Counter({
      name: "pmhe_blob_deleted_bytes_total",
      help: "Bytes of the blobs deleted from the store, by reason (gc, erasure, owner)",
      labelNames: ["reason"],
      registers,
    });
    this.blobTransfersInFlight = new Gauge({
      name: "pmhe_blob_transfers_in_flight",
      help: "Blob uploads and downloads in progress, by direction",
      labelNames: ["direction"],
      registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text and its content type, for GET /metrics. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
