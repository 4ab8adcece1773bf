/**
 * The client's address, resolved once per request. On the edge the platform sets
 * CF-Connecting-IP and nobody can spoof it; on Node the socket's peer is the client
 * unless that peer is a proxy in PIER_TRUSTED_PROXIES, whose forwarding headers then count.
 */
import type { Context, Next } from "hono";
import { inNetworks, parseAddress, parseCidr, type Cidr } from "../core/upstream-guard.js";

/** Where a runtime learns the client address: its platform's header, or the socket. */
export type ClientAddressSource = "platform" | "socket";

function socketPeer(c: Context): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? null;
}

/** The rightmost X-Forwarded-For hop that is not a trusted proxy; `peer` when none is a usable address. */
function forwardedClient(header: string, peer: string, trusted: readonly Cidr[]): string {
  let client = peer;
  for (const hop of header
    .split(",")
    .map((h) => h.trim())
    .reverse()) {
    if (parseAddress(hop) === null) return client;
    client = hop;
    if (!inNetworks(hop, trusted)) return hop;
  }
  return client;
}

export function resolveClientIp(c: Context, source: ClientAddressSource, trusted: readonly Cidr[]): string | null {
  const cloudflare = c.req.header("cf-connecting-ip") ?? null;
  if (source === "platform") return cloudflare;
  const peer = socketPeer(c);
  if (peer === null || !inNetworks(peer, trusted)) return peer;
  if (cloudflare !== null && parseAddress(cloudflare) !== null) return cloudflare;
  const forwarded = c.req.header("x-forwarded-for");
  return forwarded ? forwardedClient(forwarded, peer, trusted) : peer;
}

/** Sets the `clientIp` every handler reads through `clientIp(c)`. */
export function clientAddress(source: ClientAddressSource, trustedProxies: readonly string[]) {
  const trusted = trustedProxies.map((text) => parseCidr(text)!);
  return async function clientAddress(c: Context, next: Next): Promise<void> {
    c.set("clientIp", resolveClientIp(c, source, trusted));
    await next();
  };
}
