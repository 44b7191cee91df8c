/**
 * Rebuilds prediction jobs from the chain's events alone: who requested each job, which model (id, publisher,
 * version), which input and key bundle, which coprocessors voted what (and whether they are still in office, where
 * they disagreed, which batch votes were skipped), how it ended, and whether its record was erased since.
 *
 *   npm run audit -- --contract 0x… [--job 0x…] [--from-block N] [--json]
 */
import { existsSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import type { JsonRpcProvider } from "ethers";
import { auditJobs, type JobHistory } from "../protocol/job-history.js";
import { checkDeployment, connectPmhe } from "../protocol/chain.js";
import { decodeContractError } from "../protocol/contract-errors.js";
import { parseHash } from "../protocol/hash.js";
import { connectRpc } from "../protocol/rpc.js";
import { integerOption } from "./lib/cli-options.js";

if (existsSync(".env")) process.loadEnvFile(".env");

const program = new Command()
  .name("audit")
  .description("Rebuild PMHE job histories from contract events")
  .option("--rpc <url>", "JSON-RPC endpoint", process.env.PMHE_RPC_URL ?? "http://127.0.0.1:8545")
  .option("--contract <address>", "PMHE contract address", process.env.PMHE_CONTRACT_ADDRESS)
  .option("--job <jobId>", "one job only", (v) => {
    try {
      return parseHash(v, "job id");
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  })
  .option("--from-block <n>", "first block to read (the deployment block)", integerOption({ min: 0 }), Number(process.env.PMHE_START_BLOCK ?? 0))
  .option("--json", "print one JSON document")
  .parse();

const opts = program.opts<{ rpc: string; contract?: string; job?: `0x${string}`; fromBlock: number; json?: boolean }>();
if (!opts.contract || !/^0x[0-9a-fA-F]{40}$/.test(opts.contract)) {
  program.error("error: --contract (or PMHE_CONTRACT_ADDRESS) must be the PMHE contract address");
}

function describe(job: JobHistory): string {
  const short = (h: string) => `${h.slice(0, 10)}…`;
  const support = job.support ? ` with ${job.support.votes} of ${job.quorum} votes from operators in office` : "";
  const lines = [
    `job ${job.jobId}  ${job.status}${support}${job.support?.dissenters.length ? "  DISPUTED" : ""}`,
    `  requested  block ${job.requested.block} tx ${short(job.requested.tx)} by ${job.requester}${job.requester === job.patient ? " (the patient)" : ` for patient ${job.patient}`}`,
    `  model      ${job.model.name ?? "?"} v${job.model.version ?? "?"} id ${job.model.id} (content ${job.model.hash ?? "?"}) published by ${job.model.publisher ?? "?"}`,
    `  input      record ${job.recordHash}${job.batchRoot ? ` of batch ${job.batchRoot}` : ""}${job.recordErased ? " (erased)" : ""}`,
    `             key bundle ${job.keyBundleHash}`,
    `  quorum     ${job.quorum}${job.quorum === 1 ? " (one operator decides: it could forge)" : ""}, deadline ${new Date(job.deadline * 1000).toISOString()}`,
  ];
  for (const v of job.votes) {
    const what = v.resultHash ? `result ${v.resultHash}` : `failure ${v.reason} (${v.reasonName})`;
    lines.push(`  vote       ${v.coprocessor} → ${what} [${v.votes}] block ${v.block}${v.inOffice ? "" : " (operator revoked since: no longer counts)"}`);
  }
  for (const s of job.skipped) lines.push(`  skipped    ${s.coprocessor}'s vote: ${s.whyName} at block ${s.block}`);
  for (const c of job.conflicts) lines.push(`  CONFLICT   ${c.coprocessor} committed ${c.resultHash}, others ${c.conflictingWith}`);
  if (job.finalized) lines.push(`  final      ${job.finalized.resultHash} at block ${job.finalized.block}`);
  if (job.failed) lines.push(`  failed     reason ${job.failed.reason} (${job.failed.reasonName}) at block ${job.failed.block}`);
  if (job.expired) lines.push(`  expired    by ${job.expired.caller} at block ${job.expired.block}`);
  for (const s of job.shares) lines.push(`  shared     with ${s.hospital}: ${s.sharedHash} (${s.locator})`);
  return lines.join("\n");
}

let provider: JsonRpcProvider | undefined;
try {
  // An unreachable endpoint is named; a wrong address is said to be one, not audited as "no jobs".
  ({ provider } = await connectRpc(opts.rpc));
  await checkDeployment(provider, opts.contract!, { where: opts.rpc });
  const jobs = await auditJobs(connectPmhe(opts.contract!, provider), { fromBlock: opts.fromBlock, jobId: opts.job });
  if (opts.job && jobs.length === 0) {
    console.error(`no PredictionRequested event for job ${opts.job} since block ${opts.fromBlock}`);
    process.exitCode = 1;
  } else if (opts.json) {
    console.log(JSON.stringify({ contract: opts.contract, fromBlock: opts.fromBlock, jobs }, null, 2));
  } else {
    console.log(jobs.map(describe).join("\n\n") || "no jobs");
    const counts = jobs.reduce<Record<string, number>>((acc, j) => ({ ...acc, [j.status]: (acc[j.status] ?? 0) + 1 }), {});
    const disputed = jobs.filter((j) => (j.support?.dissenters.length ?? 0) > 0).length;
    console.log(
      `\n${jobs.length} job${jobs.length === 1 ? "" : "s"}: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ") || "none"}; ` +
        `${jobs.filter((j) => j.conflicts.length > 0).length} with conflicts, ${disputed} disputed by operators in office`,
    );
  }
} catch (err) {
  const decoded = decodeContractError(err);
  console.error(`audit failed: ${decoded ? `${decoded.name}: ${decoded.sentence}` : (err as Error).message}`);
  console.error("next: check --rpc and --contract (or PMHE_RPC_URL and PMHE_CONTRACT_ADDRESS)");
  process.exitCode = 1;
} finally {
  provider?.destroy();
}
