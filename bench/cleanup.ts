/**
 * Undo steps for everything a benchmark run starts or creates, run last-in first-out
 * once: at the end, on failure, and on Ctrl-C / SIGTERM. A step registered while the
 * steps are running (the run was interrupted mid-start) runs too, before exit.
 */

/** Signals closer together than this are one interruption (a terminal, npm and tsx each deliver Ctrl-C). */
const SAME_INTERRUPTION_MS = 2_000;

/** What `checkpoint()` throws: the run stops, its cleanup is already under way. */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
  }
}

export class Cleanup {
  private readonly steps: { label: string; run: () => Promise<void> }[] = [];
  private running: Promise<void> | null = null;
  private handler: ((signal: NodeJS.Signals) => void) | null = null;

  /** Registers an undo step; it runs before the steps registered earlier. */
  add(label: string, run: () => Promise<void>): void {
    this.steps.push({ label, run });
    if (this.running !== null) this.running = this.running.then(() => this.drain());
  }

  /** Runs every step (a failing step is reported and the rest still run); resolves when none is left. */
  async runAll(): Promise<void> {
    this.running ??= this.drain();
    for (let current = this.running; ; current = this.running) {
      await current;
      if (current === this.running) return;
    }
  }

  /** Throws once the steps have started running (the run was interrupted or failed): nothing new should start. */
  checkpoint(): void {
    if (this.running !== null) throw new Interrupted();
  }

  /** On SIGINT/SIGTERM: run the steps, then exit 130; a later signal exits at once. */
  onSignals(): void {
    let firstAt: number | null = null;
    this.handler = (signal: NodeJS.Signals) => {
      if (firstAt !== null) {
        if (Date.now() - firstAt > SAME_INTERRUPTION_MS) process.exit(130);
        return;
      }
      firstAt = Date.now();
      console.error(`\n${signal}: cleaning up…`);
      void this.runAll().finally(() => process.exit(130));
    };
    process.on("SIGINT", this.handler);
    process.on("SIGTERM", this.handler);
  }

  /**
   * Removes every other SIGINT/SIGTERM listener. Miniflare registers one that kills
   * workerd and exits the process at once, which would skip the remaining steps (they
   * dispose Miniflare too); call it after starting Miniflare.
   */
  claimSignals(): void {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      for (const listener of process.listeners(signal)) if (listener !== this.handler) process.off(signal, listener);
    }
  }

  private async drain(): Promise<void> {
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.run();
      } catch (error) {
        console.error(`cleanup: ${step.label} failed:`, error);
      }
    }
  }
}
