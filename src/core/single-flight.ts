/**
 * Collapses concurrent loads of one key into one. The waiters do not await the
 * leader's promise: in workerd a request may not continue on I/O another request
 * started (its continuation is cancelled and the request hangs). They poll, on their
 * own timers, a plain record the leader fills in — which works in every runtime.
 */
interface Flight {
  done: boolean;
  failed: boolean;
  value: unknown;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SingleFlight {
  private readonly flights = new Map<string, Flight>();

  constructor(
    private readonly pollMs = 2,
    /** A waiter gives up on a slow leader after this long and loads by itself. */
    private readonly maxWaitMs = 2_000,
  ) {}

  async run<T>(key: string, load: () => Promise<T>): Promise<T> {
    const existing = this.flights.get(key);
    if (existing) {
      for (let waited = 0; !existing.done && waited < this.maxWaitMs; waited += this.pollMs) await sleep(this.pollMs);
      if (existing.done && !existing.failed) return existing.value as T;
      return load();
    }
    const flight: Flight = { done: false, failed: false, value: undefined };
    this.flights.set(key, flight);
    try {
      flight.value = await load();
      return flight.value as T;
    } catch (error) {
      flight.failed = true;
      throw error;
    } finally {
      flight.done = true;
      this.flights.delete(key);
    }
  }
}
