/**
 * Akamai CDN in front of S3, as Quay's AkamaiS3Storage: a blob redirect keeps the S3
 * presigned path and query (Akamai forwards them to its S3 origin) on the Akamai host,
 * and adds an EdgeAuth 2.0 URL token (`akamai_signature`) that the edge checks. Clients
 * in the operator's own networks get the plain S3 URL, unless their namespace must
 * always go through the CDN. Web Crypto only, so it runs unchanged in Node and workerd.
 */
import type { Clock } from "../../core/ports/clock.js";
import type { RedirectRequest, RedirectSigner } from "../../core/ports/redirect-signer.js";
import { inNetworks, parseCidr } from "../../core/upstream-guard.js";

/** Quay's fixed token lifetime (DEFAULT_SIGNED_URL_EXPIRY_SECONDS). */
const QUAY_WINDOW_S = 900;
/**
 * Quay presigns the S3 URL behind Akamai for an hour whatever the caller asked: Akamai
 * fetches from S3 with that signature for as long as the token admits clients.
 */
const QUAY_S3_EXPIRY_S = 3600;
const TOKEN_PARAM = "akamai_signature";
const encoder = new TextEncoder();

export interface AkamaiOptions {
  /** The S3 presigner whose URLs are moved onto the Akamai host. */
  s3: RedirectSigner;
  /** Akamai host (optionally `host:port`), Quay's `akamai_domain`. */
  domain: string;
  /** EdgeAuth key as hex, Quay's `akamai_shared_secret`. */
  sharedSecretHex: string;
  /** Appended as `region=` for Akamai's metrics, Quay's `s3_region`. */
  region: string;
  /** Clients in these networks get the plain S3 URL (Quay's in-network bypass). */
  bypassCidrs?: readonly string[];
  /** Namespaces that always go through the CDN, even from a bypass network (Quay's CDN_SPECIFIC_NAMESPACES). */
  cdnSpecificNamespaces?: readonly string[];
  clock: Clock;
  /** Token lifetime; Quay uses a fixed 900 s. */
  windowSeconds?: number;
}

/** Python's quote_plus (safe="") with lower-case escapes: EdgeAuth's escape_early form of the signed path. */
function quotePlus(text: string): string {
  let out = "";
  for (const byte of encoder.encode(text)) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(char)) out += char;
    else if (byte === 0x20) out += "+";
    else out += `%${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The Akamai host as a URL host, refusing anything that carries a scheme, path or credentials. */
function akamaiHost(domain: string): string {
  let parsed: URL | null = null;
  try {
    parsed = new URL(`https://${domain}`);
  } catch {
    // reported below
  }
  if (!parsed || parsed.pathname !== "/" || parsed.search || parsed.hash || parsed.username || parsed.password || domain.includes("/")) {
    throw new TypeError(`akamai domain must be a host name, got ${JSON.stringify(domain)}`);
  }
  return parsed.host;
}

/** Akamai EdgeAuth signer over an S3 presigner; see the file header. Throws on malformed options. */
export function akamaiSigner(options: AkamaiOptions): RedirectSigner {
  const host = akamaiHost(options.domain);
  // Validated here, and never echoed: the message must not leak the secret.
  if (!/^(?:[0-9a-f]{2})+$/i.test(options.sharedSecretHex))
    throw new TypeError("akamai shared secret must be a non-empty, even-length hex string");
  const window = options.windowSeconds ?? QUAY_WINDOW_S;
  if (!Number.isSafeInteger(window) || window < 1) throw new RangeError(`akamai token window must be a positive integer, got ${window}`);
  const bypass = (options.bypassCidrs ?? []).map((text) => {
    const network = parseCidr(text);
    if (!network) throw new TypeError(`invalid bypass CIDR ${JSON.stringify(text)}`);
    return network;
  });
  const cdnOnly = new Set(options.cdnSpecificNamespaces ?? []);
  const secret = Uint8Array.from(options.sharedSecretHex.match(/../g)!, (pair) => parseInt(pair, 16));
  // Imported on first use: workerd forbids some async work while a module is being loaded.
  let key: Promise<CryptoKey> | undefined;
  const s3Expiry = Math.max(QUAY_S3_EXPIRY_S, window);

  /** EdgeAuth URL token: `exp=<unix s>~hmac=<hex HMAC-SHA256 of "exp=<exp>~url=<escaped path>">`. */
  async function token(path: string): Promise<string> {
    const exp = Math.floor(options.clock.now() / 1000) + window;
    key ??= crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = await crypto.subtle.sign("HMAC", await key, encoder.encode(`exp=${exp}~url=${quotePlus(path)}`));
    return `exp=${exp}~hmac=${hex(mac)}`;
  }

  return {
    async sign(request: RedirectRequest): Promise<string | null> {
      const s3Url = await options.s3.sign({ ...request, expiresInSeconds: s3Expiry });
      // Quay also hands out S3 directly when it does not know the client's address.
      if (s3Url === null || request.clientIp === undefined) return s3Url;
      const cdnSpecific = request.namespace !== undefined && cdnOnly.has(request.namespace);
      if (!cdnSpecific && inNetworks(request.clientIp, bypass)) return s3Url;

      const { pathname, search } = new URL(s3Url);
      // Quay appends these raw; escaping changes nothing for valid names and keeps a robot's "+" intact.
      const extra = { region: options.region, namespace: request.namespace, username: request.username, repo_name: request.repository };
      const query = [
        search.slice(1),
        ...Object.entries(extra).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${encodeURIComponent(value)}`])),
        `${TOKEN_PARAM}=${await token(pathname)}`,
      ].filter((part) => part !== "");
      return `https://${host}${pathname}?${query.join("&")}`;
    },
  };
}
