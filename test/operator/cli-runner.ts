import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A directory of its own for a CLI to run in, so it reads no developer's .env. */
export function emptyDirectory(): Promise<string> {
  return mkdtemp(join(tmpdir(), "pmhe-operator-cwd-"));
}

/**
 * A TypeScript entry point of the project (`governance/cli.ts`, `hospital/cli.ts`) as a child process, with only the
 * given PMHE_ settings (none of the test runner's leak in), in `cwd`.
 */
export async function runEntry(entry: string, args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("PMHE_")));
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--import", import.meta.resolve("tsx/esm"), join(ROOT, entry), ...args], {
      cwd,
      env: { ...clean, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === "number" ? failed.code : -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

/** Success: exit 0 and nothing on stderr but warnings. */
export function expectSuccess(run: Run): void {
  expect(run.code, `exit code; stderr: ${run.stderr}; stdout: ${run.stdout}`).to.equal(0);
}

/** A failure as the CLIs promise it: non-zero exit, the error named, and a line saying what to do next. */
export function expectFailure(run: Run, ...fragments: string[]): void {
  expect(run.code, `exit code; stdout: ${run.stdout}`).to.not.equal(0);
  expect(run.stderr).to.match(/^error: /m);
  for (const fragment of fragments) expect(run.stderr).to.contain(fragment);
  expect(run.stderr).to.match(/^next: /m);
  // Never raw revert data or ethers' internals.
  expect(run.stderr).to.not.match(/data="0x|unknown custom error|could not coalesce|missing revert data|at async /);
}

export function json<T = Record<string, unknown>>(run: Run): T {
  expectSuccess(run);
  return JSON.parse(run.stdout) as T;
}
