/** Clock port: the only source of "now" in the core, so tests can move time. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/**
 * What durations are measured with: monotonic milliseconds from an arbitrary origin, with
 * sub-millisecond resolution where the runtime has it (Node: nanoseconds; workerd's timers
 * advance only across I/O). Never wall time: use the Clock for that.
 */
export interface Stopwatch {
  now(): number;
}

/** `performance.now()`: a web-standard global in Node, workerd and browsers alike. */
export const systemStopwatch: Stopwatch = { now: () => performance.now() };
