import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The patient core runs in a browser: every module under client/ but client/node/ and client/cli.ts (and the web app,
 * which has its own build) must load without Node. This walks each one's import graph as the bundler would (type-only
 * imports are erased and load nothing) and refuses Node's built-in modules and Node's globals. The page's modules
 * must not load SEAL either: it runs in a worker there (client/crypto/worker-host.ts), and only the worker's side
 * and the in-process one may reach the engine.
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLIENT = join(ROOT, "client");
const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
/** What SEAL is made of: the engine, its runtime and circuits, and node-seal itself. */
const SEAL_MODULES = /(^node-seal$|protocol\/fhe\/(engine|runtime|circuits)\.ts$)/;
/** Modules that must reach SEAL: they run it (in-process for Node, inside the browser's worker). */
const SEAL_SIDE = new Set(["client/crypto/local.ts", "client/crypto/worker-host.ts"]);

interface Graph {
  files: Set<string>;
  packages: Set<string>;
}

const IMPORT_PATTERNS = [
  /^(?:import|export)\s(?!type\s)[^;]*?from\s+"([^"]+)"/gms, // import x from "y", export { x } from "y"
  /^import\s+"([^"]+)"/gm, // import "y" (side effects)
  /\bimport\(\s*"([^"]+)"\s*\)/g, // import("y")
];

function importGraph(entry: string): Graph {
  const graph: Graph = { files: new Set(), packages: new Set() };
  const visit = (file: string): void => {
    if (graph.files.has(file)) return;
    graph.files.add(file);
    const source = readFileSync(file, "utf8");
    for (const pattern of IMPORT_PATTERNS) {
      for (const [, spec] of source.matchAll(pattern)) {
        if (spec!.startsWith(".")) visit(resolve(dirname(file), spec!.replace(/\.js$/, ".ts")));
        else graph.packages.add(spec!);
      }
    }
  };
  visit(entry);
  return graph;
}

/** Every module of the browser-safe core: client/**\/*.ts but client/node/, client/web/ and client/cli.ts. */
function coreModules(directory = CLIENT): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    const rel = relative(CLIENT, path);
    if (entry.isDirectory()) return rel === "node" || rel === "web" ? [] : coreModules(path);
    return entry.name.endsWith(".ts") && rel !== "cli.ts" ? [path] : [];
  });
}

const name = (file: string) => relative(ROOT, file).replaceAll("\\", "/");

describe("the patient core is browser-safe (import graphs of client/ but client/node/ and client/cli.ts)", function () {
  const modules = coreModules();

  it("finds the core's modules, the crypto worker's and the page's sides among them", function () {
    const names = modules.map(name);
    for (const expected of ["client/patient-client.ts", "client/error-view.ts", "client/key-backup.ts", "client/crypto/worker-host.ts", "client/crypto/remote.ts", "client/crypto/local.ts"]) {
      expect(names).to.include(expected);
    }
  });

  for (const module of modules) {
    it(`${name(module)} loads no Node built-in module, no Node-only file, and no Node global`, function () {
      const graph = importGraph(module);
      const builtins = [...graph.packages].filter((spec) => NODE_BUILTINS.has(spec) || spec.startsWith("node:"));
      expect(builtins, `${name(module)} reaches ${builtins.join(", ")}`).to.deep.equal([]);
      const nodeOnly = [...graph.files].map(name).filter((file) => file.startsWith("client/node/") || file === "client/cli.ts" || file.startsWith("local/") || file.startsWith("coprocessor/"));
      expect(nodeOnly, `${name(module)} reaches Node-only files`).to.deep.equal([]);
      for (const file of graph.files) {
        const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, "");
        expect(code, `${name(file)} uses a Node global`).to.not.match(/\bprocess\.(env|exit|argv|cwd|on)\b|\bBuffer\.|\bNodeJS\.|\b__dirname\b|\brequire\(/);
      }
    });
  }

  it("keeps SEAL off the page: only the in-process and worker sides reach the engine", function () {
    for (const module of modules) {
      const graph = importGraph(module);
      const seal = [...graph.files].map(name).filter((f) => SEAL_MODULES.test(f)).concat([...graph.packages].filter((p) => SEAL_MODULES.test(p)));
      if (SEAL_SIDE.has(name(module))) expect(seal, `${name(module)} must run SEAL`).to.include("node-seal");
      else expect(seal, `${name(module)} would load SEAL on the page`).to.deep.equal([]);
    }
  });

  it("would catch a Node import: a graph through client/node/ shows node:fs", function () {
    const graph = importGraph(join(CLIENT, "node", "keystore.ts"));
    expect([...graph.packages]).to.include("node:fs/promises");
  });
});
