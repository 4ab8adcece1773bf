/**
 * The read-through cache of the pull path: isolate memory → shared cache (Redis) → database.
 *
 * Coherence: every repository has a generation, a random token in the shared cache.
 * Each cached entry records the generation it was filled under and is used only
 * while that generation is current. Writers change the generation after their
 * commit (`bump`), so entries filled before — even by a fill racing the write — are
 * never used again. The generation is read in the same round trip as the entry, so a
 * warm read costs one round trip and no query. The isolate layer has no way to hear
 * about writes made elsewhere; its TTL is the staleness bound (docs/caching.md).
 *
 * Redis may lose generations (a bump that failed, a restart from an old snapshot), so
 * generations alone bound nothing: every entry also carries the time of the database
 * read it came from and is fresh for `maxAgeMs` after it, whatever Redis says. A bump
 * that fails never fails the write; it is retried with this isolate's next cache call.
 *
 * The shared cache is an optimisation: a failing or slow cache is bypassed within
 * `timeoutMs`, then skipped for `cooldownMs`, and reads go to the database. When the
 * database is unreachable, an answer still current by generation is served past its
 * freshness (stale-if-error), for as long as the shared cache keeps positive entries.
 */
import type { Cache } from "../ports/cache.js";
import type { Clock } from "../ports/clock.js";
import { SingleFlight } from "../single-flight.js";

export interface PullCacheOptions {
  cache: Cache;
  clock: Clock;
  /** How long an isolate keeps an answer without asking the shared cache: the staleness bound. */
  isolateTtlMs?: number;
  /** How long an answer is served without asking the database again: the bound when generations are lost. */
  maxAgeMs?: number;
  /**
   * The same bound for answers that change while their key stays (a tag's manifest, a
   * repository's settings and permissions); default `maxAgeMs`. The strangler front lowers
   * it: writes that reach the legacy Quay without passing the front bump nothing.
   * Digest-addressed answers (manifests and blobs by digest) keep `maxAgeMs`.
   */
  mutableMaxAgeMs?: number;
  /** Lifetime of positive entries in the shared cache: how long they can serve while the database is down. */
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
  /**
   * Awaited after each bump: other processes serving the same port (the origin's
   * workers) drop their isolate copies of the repository, so the write is seen at once
   * there too rather than within the isolate TTL.
   */
  onBump?: (repository: string) => Promise<void>;
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
  /** When the database read this answer came from started (ms). */
  t: number;
  /** Absolute expiry (ms) from the value itself, or 0 when unbounded. */
  u: number;
  v: T;
}

/** An answer with where it came from, as each layer keeps it. */
interface Answer {
  value: unknown;
  /** Start of the database read it came from (ms). */
  readAt: number;
  /** When the value stops being true on its own (ms), or null. */
  validUntil: number | null;
  /** The generation it was current under; null when unknown. */
  generation: string | null;
}

interface IsolateEntry extends Answer {
  /** Served without asking anyone until then. */
  until: number;
}

/** Entries larger than this stay out of the shared cache (Upstash request limits). */
const MAX_SHARED_ENTRY_BYTES = 512 * 1024;
/** Generations outlive every entry; one that expires simply starts a new one. */
const GENERATION_TTL_SECONDS = 30 * 24 * 3600;

export const DEFAULT_ISOLATE_TTL_MS = 5_000;
/** The longest any answer is served while the database answers: the bound when bumps fail. */
export const DEFAULT_SHARED_MAX_AGE_MS = 30_000;

/** Key kinds (PullCache.key's first part) whose answers are addressed by content. */
const IMMUTABLE_KINDS = new Set(["digest", "blob"]);

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
  private readonly isolate = new Map<string, IsolateEntry>();
  private readonly flights = new SingleFlight();
  /** Repositories whose generation bump has not reached the shared cache yet. */
  private readonly pendingBumps = new Set<string>();
  private sharedDownUntil = 0;
  /** After a bump failed, further bumps wait in `pendingBumps` until then (a write touching many repositories pays one timeout). */
  private bumpsDownUntil = 0;
  /** After a failed database read, stale answers are served without trying again until then. */
  private databaseDownUntil = 0;
  private readonly isolateTtlMs: number;
  private readonly maxAgeMs: number;
  private readonly mutableMaxAgeMs: number;
  private readonly sharedTtlSeconds: number;
  private readonly negativeTtlSeconds: number;
  private readonly timeoutMs: number;
  private readonly cooldownMs: number;
  private readonly maxIsolateEntries: number;

  constructor(private readonly options: PullCacheOptions) {
    this.isolateTtlMs = options.isolateTtlMs ?? DEFAULT_ISOLATE_TTL_MS;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_SHARED_MAX_AGE_MS;
    this.mutableMaxAgeMs = Math.min(options.mutableMaxAgeMs ?? this.maxAgeMs, this.maxAgeMs);
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
    const local = this.isolate.get(key);
    if (local && local.until > this.options.clock.now()) {
      this.options.onLookup?.("isolate", "hit");
      return local.value as T;
    }
    this.options.onLookup?.("isolate", "miss");

    return this.flights.run(key, () => this.readShared(repository, key, load, local ?? null));
  }

  /**
   * Makes every entry of `repository` stale; writers call this after they commit. Never
   * fails: the database is the truth, and a bump the shared cache did not take is
   * retried with the next cache call (until then `maxAgeMs` bounds what others serve).
   */
  async bump(repository: string): Promise<void> {
    this.forget(repository);
    this.pendingBumps.add(repository);
    // Unlike reads, a bump tries the shared cache during a read's cooldown: coherence is worth a timeout.
    if (this.options.clock.now() >= this.bumpsDownUntil) await this.flushBumps();
    await this.options.onBump?.(repository);
  }

  /**
   * Drops this isolate's answers for `repository`, so the next read asks the shared cache:
   * for a caller that knows another instance just wrote (and bumped) it.
   */
  forget(repository: string): void {
    const prefix = `${repository}\u0000`;
    for (const key of this.isolate.keys()) if (key.startsWith(prefix)) this.isolate.delete(key);
  }

  /** Key of an entry: the repository first, so `bump` finds the isolate's copies. */
  static key(repository: string, ...parts: string[]): string {
    return [repository, ...parts].join("\u0000");
  }

  private async readShared<T>(repository: string, key: string, load: () => Promise<Loaded<T>>, local: IsolateEntry | null): Promise<T> {
    const genKey = generationKey(repository);
    const sharedKey = `pier:e:${key}`;
    let generation: string | null = null;
    // A current answer past its freshness: served only when the database cannot be reached.
    let stale: Answer | null = null;
    const sharedUsable = this.sharedAvailable() && (await this.flushBumps());
    if (sharedUsable) {
      try {
        const [gen, raw] = await timeout(this.options.cache.getMany([genKey, sharedKey]), this.timeoutMs);
        generation = gen ?? null;
        const entry = raw ? (JSON.parse(raw) as SharedEntry<T>) : null;
        if (entry && generation !== null && entry.g === generation) {
          const answer: Answer = { value: entry.v, readAt: entry.t, validUntil: entry.u === 0 ? null : entry.u, generation };
          if (this.isFresh(key, answer)) {
            this.options.onLookup?.("shared", "hit");
            this.remember(key, answer);
            return entry.v;
          }
          stale = answer;
        }
        this.options.onLookup?.("shared", "miss");
      } catch {
        this.markSharedDown();
        return this.loadAndFill(key, load, local, null);
      }
    }
    // The isolate's copy counts unless the shared cache says a write came after it.
    const localCurrent = local && (!sharedUsable || (generation !== null && local.generation === generation)) ? local : null;
    const fallback = [stale, localCurrent].filter((a): a is Answer => a !== null).sort((a, b) => b.readAt - a.readAt)[0] ?? null;
    return this.loadAndFill(key, load, fallback, sharedUsable ? { genKey, sharedKey, generation } : null);
  }

  /** Reads the database (serving `fallback` if it cannot be reached) and fills the shared cache when given where. */
  private async loadAndFill<T>(
    key: string,
    load: () => Promise<Loaded<T>>,
    fallback: Answer | null,
    shared: { genKey: string; sharedKey: string; generation: string | null } | null,
  ): Promise<T> {
    const readAt = this.options.clock.now();
    const servable = fallback !== null && this.isServableStale(fallback) ? fallback : null;
    // A database that just failed is not waited for again (it may hang until its timeout).
    if (servable && readAt < this.databaseDownUntil) return this.serveStale(key, servable);
    let loaded: Loaded<T>;
    try {
      loaded = await load();
    } catch (error) {
      // Loaders only read the database: whatever failed, a current answer beats an error.
      this.databaseDownUntil = this.options.clock.now() + this.cooldownMs;
      if (servable === null) throw error;
      return this.serveStale(key, servable);
    }
    const generation = shared ? await this.fill(shared.genKey, shared.sharedKey, shared.generation, loaded, readAt) : null;
    this.remember(key, { value: loaded.value, readAt, validUntil: loaded.validUntil, generation });
    return loaded.value;
  }

  private serveStale<T>(key: string, answer: Answer): T {
    this.remember(key, answer, true);
    return answer.value as T;
  }

  /** Writes the entry under the current generation (starting one if needed); returns that generation. */
  private async fill<T>(
    genKey: string,
    sharedKey: string,
    generation: string | null,
    loaded: Loaded<T>,
    readAt: number,
  ): Promise<string | null> {
    const now = this.options.clock.now();
    const ttlSeconds = loaded.negative ? this.negativeTtlSeconds : this.sharedTtlSeconds;
    const untilSeconds = loaded.validUntil === null ? ttlSeconds : Math.floor((loaded.validUntil - now) / 1000);
    const ttl = Math.min(ttlSeconds, untilSeconds);
    if (ttl < 1) return generation;
    try {
      if (generation === null) {
        // No generation yet: start one. Losing the race means another filler started
        // it after our read, so our answer may predate a write; skip this fill.
        const started = randomGeneration();
        if (!(await timeout(this.options.cache.setIfAbsent(genKey, started, GENERATION_TTL_SECONDS), this.timeoutMs))) return null;
        generation = started;
      }
      const entry: SharedEntry<T> = { g: generation, t: readAt, u: loaded.validUntil ?? 0, v: loaded.value };
      const text = JSON.stringify(entry);
      if (text.length > MAX_SHARED_ENTRY_BYTES) return generation;
      await timeout(this.options.cache.set(sharedKey, text, ttl), this.timeoutMs);
    } catch {
      this.markSharedDown();
    }
    return generation;
  }

  /** Sends the bumps the shared cache has not taken yet; false when it still fails. */
  private async flushBumps(): Promise<boolean> {
    for (const repository of [...this.pendingBumps]) {
      try {
        await timeout(this.options.cache.set(generationKey(repository), randomGeneration(), GENERATION_TTL_SECONDS), this.timeoutMs);
        this.pendingBumps.delete(repository);
      } catch {
        this.markSharedDown();
        this.bumpsDownUntil = this.sharedDownUntil;
        return false;
      }
    }
    return true;
  }

  /** Digest-addressed answers never change under their key; everything else may. */
  private maxAgeOf(key: string): number {
    return IMMUTABLE_KINDS.has(key.split("\u0000")[1] ?? "") ? this.maxAgeMs : this.mutableMaxAgeMs;
  }

  private isFresh(key: string, answer: Answer): boolean {
    const now = this.options.clock.now();
    return now - answer.readAt < this.maxAgeOf(key) && (answer.validUntil === null || answer.validUntil > now);
  }

  /** Stale-if-error: still true on its own, and no older than the shared cache keeps entries. */
  private isServableStale(answer: Answer): boolean {
    const now = this.options.clock.now();
    return now - answer.readAt < this.sharedTtlSeconds * 1000 && (answer.validUntil === null || answer.validUntil > now);
  }

  /** Keeps an answer in isolate memory: fresh for the isolate TTL, never past its max age (unless served stale). */
  private remember(key: string, answer: Answer, stale = false): void {
    const now = this.options.clock.now();
    const freshUntil = stale ? Number.POSITIVE_INFINITY : answer.readAt + this.maxAgeOf(key);
    const until = Math.min(now + this.isolateTtlMs, freshUntil, answer.validUntil ?? Number.POSITIVE_INFINITY);
    this.isolate.delete(key);
    this.isolate.set(key, { ...answer, until });
    if (this.isolate.size > this.maxIsolateEntries) this.isolate.delete(this.isolate.keys().next().value as string);
  }

  private sharedAvailable(): boolean {
    return this.options.clock.now() >= this.sharedDownUntil;
  }

  private markSharedDown(): void {
    this.sharedDownUntil = this.options.clock.now() + this.cooldownMs;
  }
}
