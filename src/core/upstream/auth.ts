/**
 * The registry auth dance (distribution's token spec, as Quay's proxy client does it):
 * which scheme an upstream wants is learned from `GET /v2/` once and cached per upstream;
 * bearer tokens are fetched from the challenge's realm and cached per (upstream,
 * credential identity, scope) until shortly before they expire. Cache keys carry a
 * SHA-256 of the credentials, never the password.
 */
import type { Cache } from "../ports/cache.js";
import { MAX_DOCUMENT_BYTES, readBounded } from "./bounded-read.js";
import { parseChallenge } from "./challenge.js";
import { statusFailure } from "./failures.js";
import { UpstreamError, type UpstreamCredentials, type UpstreamTarget } from "./types.js";

/** What an upstream asks of clients, as cached per upstream. */
export type UpstreamScheme = { scheme: "none" } | { scheme: "basic" } | { scheme: "bearer"; realm: string; service: string | null };

/** Sends one request through the guarded port, recording it; port failures arrive as UpstreamErrors. */
export type Send = (target: UpstreamTarget, operation: "ping" | "token", request: Request) => Promise<Response>;

/** The distribution spec's default token lifetime when `expires_in` is absent. */
const DEFAULT_EXPIRES_IN = 60;
const SCHEME_TTL_SECONDS = 3600;
const encoder = new TextEncoder();

function base64(text: string): string {
  let binary = "";
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** `Basic …` for the credentials. */
export function basicAuthorization(credentials: UpstreamCredentials): string {
  return `Basic ${base64(`${credentials.username}:${credentials.password}`)}`;
}

/** `anonymous`, or the hex SHA-256 of the username and password: the credential part of cache keys. */
export async function credentialIdentity(credentials: UpstreamCredentials | null): Promise<string> {
  if (credentials === null) return "anonymous";
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(JSON.stringify([credentials.username, credentials.password])));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The scheme a 401's challenge names; null when it names none Pier speaks (Basic, Bearer with a realm). */
export function schemeOf(response: Response): UpstreamScheme | null {
  const challenge = parseChallenge(response.headers.get("www-authenticate"));
  if (challenge?.scheme === "basic") return { scheme: "basic" };
  if (challenge?.scheme === "bearer" && challenge.params.realm) {
    return { scheme: "bearer", realm: challenge.params.realm, service: challenge.params.service ?? null };
  }
  return null;
}

export class UpstreamAuth {
  constructor(
    private readonly cache: Cache,
    private readonly send: Send,
    private readonly now: () => number,
  ) {}

  private schemeKey(target: UpstreamTarget): string {
    return `pier:upstream:scheme:${target.registry.baseUrl}`;
  }

  /** Asks `GET /v2/` without credentials what the upstream wants, and remembers it. */
  async discover(target: UpstreamTarget, signal?: AbortSignal): Promise<UpstreamScheme> {
    const host = new URL(target.registry.baseUrl).host;
    const response = await this.send(target, "ping", new Request(`${target.registry.baseUrl}/v2/`, { signal }));
    await response.body?.cancel();
    if (!response.ok && response.status !== 401) throw statusFailure(response, host, "the registry API (/v2/)", this.now());
    const scheme = response.ok ? { scheme: "none" as const } : schemeOf(response);
    if (scheme === null) throw new UpstreamError("error", `${host} asks for an authentication scheme Pier does not speak`, 401);
    await this.remember(target, scheme);
    return scheme;
  }

  /** Stores the scheme a response's challenge names (an upstream may change its mind). */
  async remember(target: UpstreamTarget, scheme: UpstreamScheme): Promise<void> {
    await this.cache.set(this.schemeKey(target), JSON.stringify(scheme), SCHEME_TTL_SECONDS).catch(() => {});
  }

  /** The cached scheme, else discovered now. */
  async scheme(target: UpstreamTarget, signal?: AbortSignal): Promise<UpstreamScheme> {
    const cached = await this.cache.get(this.schemeKey(target)).catch(() => null);
    return cached === null ? this.discover(target, signal) : (JSON.parse(cached) as UpstreamScheme);
  }

  private tokenKey(target: UpstreamTarget, identity: string, scope: string | null): string {
    return `pier:upstream:token:${target.registry.host}:${identity}:${scope ?? ""}`;
  }

  /** The Authorization header for a request under `scheme` (null: send none); `fresh` skips the token cache. */
  async authorization(
    target: UpstreamTarget,
    scheme: UpstreamScheme,
    identity: string,
    scope: string | null,
    options: { fresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<string | null> {
    if (scheme.scheme === "none") return null;
    if (scheme.scheme === "basic") return target.credentials ? basicAuthorization(target.credentials) : null;
    const key = this.tokenKey(target, identity, scope);
    if (!options.fresh) {
      const cached = await this.cache.get(key).catch(() => null);
      if (cached !== null) return `Bearer ${cached}`;
    }
    const { token, expiresIn } = await this.fetchToken(target, scheme, scope, options.signal);
    await this.cache.set(key, token, Math.max(1, expiresIn - 10)).catch(() => {});
    return `Bearer ${token}`;
  }

  /** Drops a cached token that the upstream refused. */
  async forget(target: UpstreamTarget, identity: string, scope: string | null): Promise<void> {
    await this.cache.delete([this.tokenKey(target, identity, scope)]).catch(() => {});
  }

  private async fetchToken(
    target: UpstreamTarget,
    scheme: { realm: string; service: string | null },
    scope: string | null,
    signal?: AbortSignal,
  ): Promise<{ token: string; expiresIn: number }> {
    const url = new URL(scheme.realm, target.registry.baseUrl);
    if (scheme.service !== null) url.searchParams.set("service", scheme.service);
    if (scope !== null) url.searchParams.set("scope", scope);
    const headers = new Headers({ accept: "application/json" });
    if (target.credentials) headers.set("authorization", basicAuthorization(target.credentials));
    const response = await this.send(target, "token", new Request(url, { headers, signal }));
    const what = `a token${scope ? ` for ${scope}` : ""}`;
    if (!response.ok) {
      await response.body?.cancel();
      throw statusFailure(response, url.host, what, this.now());
    }
    const bytes = await readBounded(response, MAX_DOCUMENT_BYTES, url.host, what);
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(new TextDecoder().decode(bytes)) as typeof body;
    } catch {
      throw new UpstreamError("error", `${url.host} answered ${what} with something other than JSON`, response.status);
    }
    const token = typeof body.token === "string" && body.token ? body.token : body.access_token;
    if (typeof token !== "string" || token === "") throw new UpstreamError("error", `${url.host} answered ${what} without a token`, 200);
    const expiresIn = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_IN;
    return { token, expiresIn };
  }
}
