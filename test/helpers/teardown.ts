/** The undo steps of a test set-up, run last first: when the set-up fails half-way, and when it is stopped. */
export class Teardown {
  private readonly steps: Array<() => unknown> = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  /** Runs every step added so far, last first; a step runs at most once. */
  async run(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) await step();
  }

  /** `start()`'s result; if it throws, the steps added so far run before the error is rethrown. */
  async guard<T>(start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (err) {
      await this.run();
      throw err;
    }
  }
}
