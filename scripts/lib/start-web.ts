import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";

/**
 * The web app's production build, for `npm start`. The app (client/web) is optional at run time: without a
 * vite.config.ts or package.json there, nothing is built and a placeholder page is served. With one, the build
 * (`vite build`, or the app's own `npm run build` when it has a package.json with a build script) runs when
 * dist/index.html is missing or older than any source it depends on.
 */

export interface WebApp {
  /** The app's directory (client/web). */
  root: string;
  /** Where its production build lands. */
  dist: string;
  /** Is there an app to build at all? */
  present: boolean;
  /** How it is built, when present. */
  build?: { command: string; args: string[]; cwd: string };
}

const IGNORED = new Set(["node_modules", "dist", ".git", ".vite"]);

export function findWebApp(projectRoot: string, webRoot: string): WebApp {
  const dist = join(webRoot, "dist");
  const packageJson = join(webRoot, "package.json");
  const viteConfig = ["vite.config.ts", "vite.config.mts", "vite.config.js"].map((f) => join(webRoot, f)).find((f) => existsSync(f));
  if (existsSync(packageJson)) {
    return { root: webRoot, dist, present: true, build: { command: "npm", args: ["run", "build", "--prefix", webRoot], cwd: projectRoot } };
  }
  if (viteConfig) {
    const vite = join(projectRoot, "node_modules", "vite", "bin", "vite.js");
    if (!existsSync(vite)) return { root: webRoot, dist, present: false };
    return { root: webRoot, dist, present: true, build: { command: process.execPath, args: [vite, "build", "--config", viteConfig, "--logLevel", "warn"], cwd: projectRoot } };
  }
  return { root: webRoot, dist, present: false };
}

/** The newest modification time under `dir` (ignoring node_modules and build output), ms; 0 for a missing dir. */
async function newestMtime(dir: string): Promise<{ mtimeMs: number; file?: string }> {
  let newest: { mtimeMs: number; file?: string } = { mtimeMs: 0 };
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return newest;
  }
  for (const entry of entries) {
    if (IGNORED.has(entry.name)) continue;
    const path = join(dir, entry.name);
    const found = entry.isDirectory() ? await newestMtime(path) : { mtimeMs: (await stat(path)).mtimeMs, file: path };
    if (found.mtimeMs > newest.mtimeMs) newest = found;
  }
  return newest;
}

/**
 * Why the build must run (undefined: dist is up to date). Sources: the app's directory, and the code it imports
 * from the project (`protocol/`, `client/`, `hospital/`) when the app lives in this project.
 */
export async function staleReason(app: WebApp, projectRoot: string): Promise<string | undefined> {
  const index = join(app.dist, "index.html");
  if (!existsSync(index)) return "no production build yet";
  const built = (await stat(index)).mtimeMs;
  const sources = [app.root];
  if (!relative(projectRoot, app.root).startsWith("..")) sources.push(...["protocol", "client", "hospital", "package-lock.json"].map((part) => join(projectRoot, part)));
  for (const source of sources) {
    const newest = existsSync(source) && (await stat(source)).isFile() ? { mtimeMs: (await stat(source)).mtimeMs, file: source } : await newestMtime(source);
    if (newest.mtimeMs > built) return `${relative(projectRoot, newest.file ?? source)} changed since the last build`;
  }
  return undefined;
}

/** Runs the build; resolves with its exit code and the last lines it wrote. Aborting the signal stops it. */
export function buildWebApp(app: WebApp, signal?: AbortSignal): Promise<{ ok: boolean; output: string }> {
  const build = app.build!;
  return new Promise((resolve) => {
    const child = spawn(build.command, build.args, { cwd: build.cwd, stdio: ["ignore", "pipe", "pipe"], env: process.env, signal, killSignal: "SIGTERM" });
    const lines: string[] = [];
    const keep = (chunk: Buffer) => {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      if (lines.length > 40) lines.splice(0, lines.length - 40);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.once("error", (err) => resolve({ ok: false, output: `${lines.join("\n")}\n${err.message}` }));
    child.once("close", (code) => resolve({ ok: code === 0, output: lines.join("\n") }));
  });
}
