import SEAL, { type ClassHandle, type MainModule } from "node-seal";

export type Seal = MainModule;

let sealPromise: Promise<Seal> | undefined;

/** One WASM instance per JS realm (main thread or worker thread); loading it costs ~100 ms. */
export function loadSeal(): Promise<Seal> {
  sealPromise ??= SEAL();
  return sealPromise;
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
