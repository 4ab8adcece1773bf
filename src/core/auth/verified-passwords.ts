/**
 * Passwords this process verified a moment ago, so a client that logs in again within
 * the window (each `docker pull` or CI step does) skips bcrypt's ~0.3 s. An entry is a
 * salted SHA-256 of the stored hash and the password: a changed password (a new hash)
 * never matches, and only a password that passed bcrypt is ever remembered. The lockout
 * is untouched: the attempt is reserved in the user row before this is asked.
 */
import type { Clock } from "../ports/clock.js";

const encoder = new TextEncoder();

export class VerifiedPasswords {
  private readonly expiries = new Map<string, number>();
  private readonly salt = crypto.getRandomValues(new Uint8Array(32));
  /** Logins answered from here (observable for tests and metrics). */
  hits = 0;

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  private async key(storedHash: string, password: string): Promise<string> {
    const text = encoder.encode(`${storedHash}\u0000${password}`);
    const input = new Uint8Array(this.salt.byteLength + text.byteLength);
    input.set(this.salt);
    input.set(text, this.salt.byteLength);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
    return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async has(storedHash: string, password: string): Promise<boolean> {
    const key = await this.key(storedHash, password);
    const expiry = this.expiries.get(key);
    if (expiry === undefined) return false;
    if (expiry <= this.clock.now()) {
      this.expiries.delete(key);
      return false;
    }
    this.hits++;
    return true;
  }

  async remember(storedHash: string, password: string): Promise<void> {
    const key = await this.key(storedHash, password);
    this.expiries.delete(key);
    this.expiries.set(key, this.clock.now() + this.ttlMs);
    // Insertion order is age order: drop the oldest beyond the bound.
    while (this.expiries.size > this.maxEntries) this.expiries.delete(this.expiries.keys().next().value!);
  }
}
