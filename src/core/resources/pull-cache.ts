/**
 * The read-through cache of the pull path: isolate memory → shared cache (Redis) → database.
 *
 * Coherence: every repository has a generation, a random token in the shared cache.
 * Each cached entry records the generation it was filled under and is used only
 * while that generation is current. Writers change the generation after their
 * commit (`bump`), so entries filled before — even by a fill racing the write — are
 * never used again. The generation is read in the same round trip as the entry, so a
 * warm read costs one round trip and no query. The isolate layer has no way to hear
 * about writes made elsewhere; its TTL is the staleness bound (STALENESS.md).
 *
 * The shared cache is an optimisation: a failing or slow cache is bypassed within
 * `timeoutMs`, then skipped for `cooldownMs`, and reads go to the database.
 */
import type { Cache } from "../ports/cache.js";
import type { Clock } from "../ports/clock.js";
import { SingleFlight } from "../single-flight.js";

export interface PullCacheOptions {
  cache: Cache;
  clock: Clock;
  /** How long an isolate keeps an answer without asking the shared cache: the staleness bound. */
  isolateTtlMs?: number;
  /** Lifetime of positive entries in the shared cache (they are also generation-checked). */
  sharedTtlSeconds?: number;
  /** Lifetime of "does not exist" entries. */
  negativeTtlSeconds?: number;
  /** A shared-cache call slower than this counts as a failure. */
  timeoutMs?: number;
  /** After a shared-cache failure, the isolate leaves it alone this long. */
  cooldownMs?: number;
  maxIsolateEntries?: number;
  /** Told the outcome of every lookup, per layer (for metrics). */
  onLookup?: (layer: "isolate" | "shared", result: "hit" | "miss") => void;
}

/** What a loader found: a value, and how long it stays true (e.g. until a tag expires). */
export interface Loaded<T> {
  value: T;
  /** Absolute time (ms) after which the value must not be served; null when unbounded. */
  validUntil: number | null;
  /** True for "not found" answers, which get the short negative TTL. */
  negative: boolean;
}

interface SharedEntry<T> {
  g: string;
  /** Absolute expiry (ms) from the value itself, or 0 when unbounded. */
  u: number;
  v: T;
}

/** Entries larger than this stay out of the shared cache (Upstash request limits). */
const MAX_SHARED_ENTRY_BYTES = 512 * 1024;
/** Generations outlive every entry; one that expires simply starts a new one. */
const GENERATION_TTL_SECONDS = 30 * 24 * 3600;

export const DEFAULT_ISOLATE_TTL_MS = 5_000;

export function generationKey(repository: string): string {
  return `pier:gen:${repository}`;
}

function randomGeneration(): string {
  return crypto.randomUUID();
}

function timeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`cache call exceeded ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

export class PullCache {
  private readonly isolate = new Map<string, { value: unknown; until: number }>();
  private readonly flights = new SingleFlight();
  private sharedDownUntil = 0;
  private readonly isolateTtlMs: number;
  private readonly sharedTtlSeconds: number;
  private readonly negativeTtlSeconds: number;
  private readonly timeoutMs: number;
  private readonly cooldownMs: number;
  private readonly maxIsolateEntries: number;

  constructor(private readonly options: PullCacheOptions) {
    this.isolateTtlMs = options.isolateTtlMs ?? DEFAULT_ISOLATE_TTL_MS;
    this.sharedTtlSeconds = options.sharedTtlSeconds ?? 3600;
    this.negativeTtlSeconds = options.negativeTtlSeconds ?? 30;
    this.timeoutMs = options.timeoutMs ?? 250;
    this.cooldownMs = options.cooldownMs ?? 5_000;
    this.maxIsolateEntries = options.maxIsolateEntries ?? 10_000;
  }

  /**
   * The value under `key` (which belongs to `repository`), from the first layer that
   * has a current one; `load` runs at most once per isolate for concurrent misses.
   */
  async read<T>(repository: string, key: string, load: () => Promise<Loaded<T>>): Promise<T> {
    const now = this.options.clock.now();
    const local = this.isolate.get(key);
    if (local && local.until > now) {
      this.options.onLookup?.("isolate", "hit");
      return local.value as T;
    }
    this.options.onLookup?.("isolate", "miss");

    return this.flights.run(key, () => this.readShared(repository, key, load));
  }

  /** Makes every entry of `repository` stale; writers call this after they commit. */
  async bump(repository: string): Promise<void> {
    const prefix = `${repository}\u0000`;
    for (const key of this.isolate.keys()) if (key.startsWith(prefix)) this.isolate.delete(key);
    await this.options.cache.set(generationKey(repository), randomGeneration(), GENERATION_TTL_SECONDS);
  }

  /** Key of an entry: the repository first, so `bump` finds the isolate's copies. */
  static key(repository: string, ...parts: string[]): string {
    return [repository, ...parts].join("\u0000");
  }

  private async readShared<T>(repository: string, key: string, load: () => Promise<Loaded<T>>): Promise<T> {
    const genKey = generationKey(repository);
    const sharedKey = `pier:e:${key}`;
    let generation: string | null = null;
    let sharedUsable = this.sharedAvailable();
    if (sharedUsable) {
      try {
        const [gen, raw] = await timeout(this.options.cache.getMany([genKey, sharedKey]), this.timeoutMs);
        generation = gen ?? null;
        const entry = raw ? (JSON.parse(raw) as SharedEntry<T>) : null;
        const now = this.options.clock.now();
        if (entry && generation !== null && entry.g === generation && (entry.u === 0 || entry.u > now)) {
          this.options.onLookup?.("shared", "hit");
          this.remember(key, entry.v, entry.u === 0 ? null : entry.u);
          return entry.v;
        }
        this.options.onLookup?.("shared", "miss");
      } catch {
        this.markSharedDown();
        sharedUsable = false;
      }
    }

    const loaded = await load();
    this.remember(key, loaded.value, loaded.validUntil);
    if (sharedUsable) await this.fill(genKey, sharedKey, generation, loaded);
    return loaded.value;
  }

  private async fill<T>(genKey: string, sharedKey: string, generation: string | null, loaded: Loaded<T>): Promise<void> {
    const now = this.options.clock.now();
    const ttlSeconds = loaded.negative ? this.negativeTtlSeconds : this.sharedTtlSeconds;
    const untilSeconds = loaded.validUntil === null ? ttlSeconds : Math.floor((loaded.validUntil - now) / 1000);
    const ttl = Math.min(ttlSeconds, untilSeconds);
    if (ttl < 1) return;
    try {
      if (generation === null) {
        // No generation yet: start one. Losing the race means another filler started
        // it after our read, so our answer may predate a write; skip this fill.
        generation = randomGeneration();
        if (!(await timeout(this.options.cache.setIfAbsent(genKey, generation, GENERATION_TTL_SECONDS), this.timeoutMs))) return;
      }
      const entry: SharedEntry<T> = { g: generation, u: loaded.validUntil ?? 0, v: loaded.value };
      const text = JSON.stringify(entry);
      if (text.length > MAX_SHARED_ENTRY_BYTES) return;
      await timeout(this.options.cache.set(sharedKey, text, ttl), this.timeoutMs);
    } catch {
      this.markSharedDown();
    }
  }

  private remember(key: string, value: unknown, validUntil: number | null): void {
    const until = Math.min(this.options.clock.now() + this.isolateTtlMs, validUntil ?? Number.POSITIVE_INFINITY);
    this.isolate.delete(key);
    this.isolate.set(key, { value, until });
    if (this.isolate.size > this.maxIsolateEntries) this.isolate.delete(this.isolate.keys().next().value as string);
  }

  private sharedAvailable(): boolean {
    return this.options.clock.now() >= this.sharedDownUntil;
  }

  private markSharedDown(): void {
    this.sharedDownUntil = this.options.clock.now() + this.cooldownMs;
  }
}
