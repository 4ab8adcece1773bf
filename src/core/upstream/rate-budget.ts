/**
 * The upstream's rate-limit budget per (host, credential identity), kept in the shared
 * cache: `ratelimit-limit` / `ratelimit-remaining` (Docker Hub sends `100;w=21600`) after
 * every response, and a block until Retry-After after a 429. Before a request the
 * client asks `refusal()` whether to spend one at all.
 */
import type { Cache } from "../ports/cache.js";
import type { RateBudget } from "./types.js";

/** How long a budget is remembered when the upstream names no window (Docker Hub's is 6 h). */
const DEFAULT_WINDOW_SECONDS = 21_600;
/** A 429 without Retry-After blocks for this long. */
const DEFAULT_RETRY_AFTER_SECONDS = 60;

/** The count of a `ratelimit-*` header (`100;w=21600` → 100), with its window in seconds if given. */
export function parseRateLimitHeader(value: string | null): { count: number; windowSeconds: number | null } | null {
  if (value === null) return null;
  const [count, ...params] = value.split(";").map((part) => part.trim());
  if (!/^\d+$/.test(count ?? "")) return null;
  const window = params.map((p) => /^w=(\d+)$/.exec(p)).find((m) => m !== null);
  return { count: Number(count), windowSeconds: window ? Number(window[1]) : null };
}

/** Retry-After as seconds from `now` (delta-seconds or an HTTP date); null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === "") return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/** Requests kept back for fills when revalidating: `ratio` of the limit, at least 1 (1 when the limit is unknown). */
export function reserveOf(limit: number | null, ratio: number): number {
  return limit === null ? 1 : Math.max(1, Math.floor(limit * ratio));
}

export class RateBudgets {
  constructor(
    private readonly cache: Cache,
    private readonly now: () => number,
    private readonly reserveRatio: number,
  ) {}

  private key(host: string, identity: string): string {
    return `pier:upstream:budget:${host}:${identity}`;
  }

  async read(host: string, identity: string): Promise<RateBudget | null> {
    const text = await this.cache.get(this.key(host, identity)).catch(() => null);
    return text === null ? null : (JSON.parse(text) as RateBudget);
  }

  /** Why no request should be sent now, or null: blocked after a 429, or (revalidations only) down to the reserve. */
  refusal(budget: RateBudget | null, purpose: "revalidate" | "fill"): { retryAfterSeconds: number | null; reason: string } | null {
    if (budget === null) return null;
    const now = this.now();
    if (budget.blockedUntil !== null && budget.blockedUntil > now) {
      return { retryAfterSeconds: Math.ceil((budget.blockedUntil - now) / 1000), reason: "rate limited until Retry-After passes" };
    }
    if (purpose === "revalidate" && budget.remaining !== null && budget.remaining <= reserveOf(budget.limit, this.reserveRatio)) {
      return { retryAfterSeconds: null, reason: `only ${budget.remaining} requests left, kept for fills` };
    }
    return null;
  }

  /** Records what a response told of the budget; returns the new budget when it said anything. */
  async record(host: string, identity: string, response: Response, previous: RateBudget | null): Promise<RateBudget | null> {
    const limit = parseRateLimitHeader(response.headers.get("ratelimit-limit"));
    const remaining = parseRateLimitHeader(response.headers.get("ratelimit-remaining"));
    const limited = response.status === 429;
    if (!limit && !remaining && !limited) return null;
    const now = this.now();
    const retryAfter = limited ? (parseRetryAfter(response.headers.get("retry-after"), now) ?? DEFAULT_RETRY_AFTER_SECONDS) : null;
    const budget: RateBudget = {
      limit: limit?.count ?? previous?.limit ?? null,
      remaining: remaining?.count ?? (limited ? 0 : (previous?.remaining ?? null)),
      blockedUntil: retryAfter === null ? null : now + retryAfter * 1000,
    };
    const window = limit?.windowSeconds ?? remaining?.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
    const ttl = Math.max(window, retryAfter ?? 0, 1);
    await this.cache.set(this.key(host, identity), JSON.stringify(budget), ttl).catch(() => {});
    return budget;
  }
}
