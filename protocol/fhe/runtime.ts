import SEAL, { type ClassHandle, type MainModule } from "node-seal";

export type Seal = MainModule;

let sealPromise: Promise<Seal> | undefined;
let sealMemory: WebAssembly.Memory | undefined;

type Instantiate = (...args: unknown[]) => Promise<WebAssembly.WebAssemblyInstantiatedSource | WebAssembly.Instance>;

/** One WASM instance per JS realm (main thread or worker thread); loading it costs ~100 ms. */
export function loadSeal(): Promise<Seal> {
  sealPromise ??= instantiateWatchingMemory();
  return sealPromise;
}

/**
 * node-seal keeps its WASM memory to itself (neither HEAP8 nor wasmMemory is exported). To measure the heap we note
 * the memory the module exports while it instantiates: `WebAssembly.instantiate` / `instantiateStreaming` are
 * wrapped for the duration of that one call and restored afterwards. Works the same in Node and in browsers.
 */
async function instantiateWatchingMemory(): Promise<Seal> {
  const wasm = WebAssembly as unknown as Record<"instantiate" | "instantiateStreaming", Instantiate | undefined>;
  const originals = { instantiate: wasm.instantiate, instantiateStreaming: wasm.instantiateStreaming };
  const note = (result: WebAssembly.WebAssemblyInstantiatedSource | WebAssembly.Instance) => {
    const instance = result instanceof WebAssembly.Instance ? result : result.instance;
    for (const value of Object.values(instance.exports)) {
      if (value instanceof WebAssembly.Memory) sealMemory ??= value;
    }
    return result;
  };
  for (const name of ["instantiate", "instantiateStreaming"] as const) {
    const original = originals[name];
    if (original) wasm[name] = (...args: unknown[]) => original.apply(WebAssembly, args).then(note);
  }
  try {
    return await SEAL();
  } finally {
    wasm.instantiate = originals.instantiate;
    wasm.instantiateStreaming = originals.instantiateStreaming;
  }
}

/**
 * Size of SEAL's WASM heap in bytes (undefined before the first `loadSeal`, or if the memory could not be seen).
 * The heap grows in large steps (Emscripten over-allocates by ~20%) and never shrinks, so a leak shows as growth
 * across many operations, not per call.
 */
export function sealHeapBytes(): number | undefined {
  return sealMemory?.buffer.byteLength;
}

/**
 * Every SEAL object lives on the WASM heap, which never shrinks: an object that is not deleted leaks for the life
 * of the process. A scope collects the objects made during one operation and deletes them all at its end.
 */
export class SealScope {
  private readonly handles: ClassHandle[] = [];

  track<T extends ClassHandle>(handle: T): T {
    this.handles.push(handle);
    return handle;
  }

  dispose(): void {
    for (let i = this.handles.length - 1; i >= 0; i--) {
      const handle = this.handles[i]!;
      if (!handle.isDeleted()) handle.delete();
    }
    this.handles.length = 0;
  }
}

export function withScope<T>(fn: (scope: SealScope) => T): T {
  const scope = new SealScope();
  try {
    return fn(scope);
  } finally {
    scope.dispose();
  }
}
