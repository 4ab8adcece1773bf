/**
 * SSRF guard for every URL Pier fetches on someone's behalf (proxy-cache upstreams,
 * mirrors, their token realms and redirects). Private, loopback, link-local,
 * metadata and other non-public destinations are refused unless the operator lists
 * the host or its network in the allowlist (Quay's SSRF_ALLOWED_HOSTS).
 */
const BLOCKED_V4_TEXT = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
];
const BLOCKED_V6_TEXT = ["::/128", "::1/128", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8"];
const BLOCKED_NAME = /^(localhost|.*\.localhost|.*\.local|.*\.internal|kubernetes.*|metadata.*)$/;

export class UpstreamBlockedError extends Error {
  override name = "UpstreamBlockedError";
}

type Address = { version: 4 | 6; value: bigint };

function parseV4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n);
}

function parseV6(text: string): bigint | null {
  let head = text;
  let tailV4: bigint | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".") && lastColon !== -1) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (tailV4 === null) return null;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const all = [...left, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...right];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  let value = all.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
  if (tailV4 !== null) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/** Parses an IP literal (IPv6 with or without brackets); null for names. */
export function parseAddress(text: string): Address | null {
  const bare = text.replace(/^\[|\]$/g, "");
  const v4 = parseV4(bare);
  if (v4 !== null) return { version: 4, value: v4 };
  const v6 = bare.includes(":") ? parseV6(bare.replace(/%.*$/, "")) : null;
  return v6 === null ? null : { version: 6, value: v6 };
}

/** A network: its base address and prefix length. */
export interface Cidr {
  version: 4 | 6;
  value: bigint;
  bits: number;
}

/** Parses `address/bits` (a bare address is a single host); null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const [base, bitsText, extra] = text.trim().split("/");
  const network = parseAddress(base!);
  if (!network || extra !== undefined) return null;
  const width = network.version === 4 ? 32 : 128;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = bitsText === undefined ? width : Number(bitsText);
  return bits > width ? null : { ...network, bits };
}

function contains(network: Cidr, address: Address): boolean {
  if (network.version !== address.version) return false;
  const shift = BigInt((network.version === 4 ? 32 : 128) - network.bits);
  return address.value >> shift === network.value >> shift;
}

/** CIDR constants, parsed once: inNetworks runs on every request (client address resolution). */
const networks = (texts: readonly string[]): readonly Cidr[] => texts.map((text) => parseCidr(text)!);
const BLOCKED_V4 = networks(BLOCKED_V4_TEXT);
const BLOCKED_V6 = networks(BLOCKED_V6_TEXT);
const [V4_MAPPED, NAT64] = networks(["::ffff:0:0/96", "64:ff9b::/96"]) as [Cidr, Cidr];

/**
 * Whether the address literal `ip` lies in one of `networks`. An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d, how dual-stack sockets report IPv4 peers) counts as its
 * IPv4. False for anything that is not an address.
 */
export function inNetworks(ip: string, networks: readonly Cidr[]): boolean {
  const parsed = parseAddress(ip);
  if (!parsed) return false;
  const address = contains(V4_MAPPED, parsed) ? { version: 4 as const, value: parsed.value & 0xffffffffn } : parsed;
  return networks.some((network) => contains(network, address));
}

/** IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are judged as the IPv4 they carry. */
function embeddedV4(address: Address): Address | null {
  if (address.version !== 6) return null;
  if (contains(V4_MAPPED, address) || contains(NAT64, address)) return { version: 4, value: address.value & 0xffffffffn };
  return null;
}

export function isPublicAddress(address: Address): boolean {
  const v4 = embeddedV4(address);
  if (v4) return isPublicAddress(v4);
  const blocked = address.version === 4 ? BLOCKED_V4 : BLOCKED_V6;
  return !blocked.some((network) => contains(network, address));
}

export interface UpstreamPolicy {
  /** Hostnames (exact) and CIDRs that may be reached although non-public. */
  allowedHosts: readonly string[];
}

function allowed(policy: UpstreamPolicy, host: string, address: Address | null): boolean {
  return policy.allowedHosts.some((entry) => {
    const normalized = entry.trim().toLowerCase();
    if (normalized.includes("/")) {
      const network = parseCidr(normalized);
      return address !== null && network !== null && contains(network, address);
    }
    const entryAddress = parseAddress(normalized);
    if (entryAddress && address) return entryAddress.version === address.version && entryAddress.value === address.value;
    return normalized === host;
  });
}

/** Throws UpstreamBlockedError unless `url` may be fetched under `policy`. */
export function assertUpstreamUrl(url: URL, policy: UpstreamPolicy): void {
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new UpstreamBlockedError(`scheme ${url.protocol} is not allowed`);
  if (url.username || url.password) throw new UpstreamBlockedError("credentials in upstream URLs are not allowed");
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const address = parseAddress(host);
  if (allowed(policy, host, address)) return;
  if (address ? !isPublicAddress(address) : BLOCKED_NAME.test(host) || !host.includes(".")) {
    throw new UpstreamBlockedError(`${url.hostname} is not an allowed upstream host`);
  }
}

/** Throws unless every address `host` resolved to is public or allowlisted (guards DNS answers). */
export function assertResolvedAddresses(host: string, addresses: readonly string[], policy: UpstreamPolicy): void {
  for (const text of addresses) {
    const address = parseAddress(text);
    if (!address) throw new UpstreamBlockedError(`${host} resolved to an unparsable address`);
    if (!isPublicAddress(address) && !allowed(policy, host.toLowerCase(), address)) {
      throw new UpstreamBlockedError(`${host} resolves to a non-public address`);
    }
  }
}
