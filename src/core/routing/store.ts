/**
 * Where the front's rules live: one JSON document in the shared cache (Redis, Upstash on
 * the edge), so a change reaches every process and isolate. Each keeps a copy for at most
 * `refreshMs`; that is the bound on how long a change (a rollback too) takes to apply
 * everywhere. With nothing stored, the rules seeded from configuration apply; when the
 * cache cannot be read, the last copy stays in force.
 */
import type { Cache } from "../ports/cache.js";
import type { Clock } from "../ports/clock.js";
import { parseFrontRules, type FrontRules } from "./rules.js";

export const FRONT_RULES_KEY = "pier:front:rules";
/** Rules never expire by themselves (Redis needs a TTL: ten years). */
const KEEP_SECONDS = 10 * 365 * 24 * 3600;

export class FrontRuleStore {
  private copy: { rules: FrontRules; readAtMs: number } | null = null;

  constructor(
    private readonly cache: Cache,
    private readonly clock: Clock,
    private readonly refreshMs: number,
    private readonly seed: FrontRules,
  ) {}

  /** The rules in force here: this process's copy while fresh, else the stored document. */
  async current(): Promise<FrontRules> {
    const now = this.clock.now();
    if (this.copy !== null && now - this.copy.readAtMs < this.refreshMs) return this.copy.rules;
    let rules: FrontRules;
    try {
      const stored = await this.cache.get(FRONT_RULES_KEY);
      rules = stored === null ? this.seed : parseFrontRules(JSON.parse(stored));
    } catch {
      // Unreadable now: keep routing as before rather than flipping traffic.
      rules = this.copy?.rules ?? this.seed;
    }
    this.copy = { rules, readAtMs: now };
    return rules;
  }

  /** Stores new rules for every process; this one applies them at once. */
  async replace(rules: FrontRules): Promise<void> {
    await this.cache.set(FRONT_RULES_KEY, JSON.stringify(rules), KEEP_SECONDS);
    this.copy = { rules, readAtMs: this.clock.now() };
  }
}
