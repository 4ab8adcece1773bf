/**
 * AWS Signature Version 4 verification for the local S3 server. Rebuilds the canonical
 * request and string to sign from what arrived on the wire — Authorization header or
 * presigned query — derives the signing key and compares signatures in constant time.
 * Failures carry the status and error code S3 itself answers with.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  service: string;
}

/** A request as received: method, request-target (raw path and query) and raw header pairs. */
export interface WireRequest {
  method: string;
  target: string;
  /** Header name/value pairs in arrival order (Node's rawHeaders, paired). */
  headers: readonly (readonly [string, string])[];
}

export type SigV4Verdict =
  | { ok: true; /** "UNSIGNED-PAYLOAD" or the hex SHA-256 the body must have. */ payloadHash: string }
  | { ok: false; status: number; code: string; message: string };

const ALGORITHM = "AWS4-HMAC-SHA256";
const MAX_EXPIRES_S = 604_800;
const MAX_SKEW_MS = 15 * 60_000;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function deny(status: number, code: string, message: string): SigV4Verdict {
  return { ok: false, status, code, message };
}

/** RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else %XX (slashes optionally kept). */
function uriEncode(text: string, keepSlash: boolean): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replace(/%2F/g, "/") : encoded;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

/** The canonical request and string to sign for one request. */
function stringToSign(parts: {
  method: string;
  /** Decoded path, e.g. "/bucket/a b". */
  path: string;
  /** Decoded query pairs, the signature itself excluded. */
  query: readonly (readonly [string, string])[];
  /** Lowercase signed header names with their canonical values, in order. */
  headers: readonly (readonly [string, string])[];
  payloadHash: string;
  amzDate: string;
  scope: string;
}): string {
  const query = parts.query
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonical = [
    parts.method,
    uriEncode(parts.path, true),
    query,
    parts.headers.map(([name, value]) => `${name}:${value}\n`).join(""),
    parts.headers.map(([name]) => name).join(";"),
    parts.payloadHash,
  ].join("\n");
  return [ALGORITHM, parts.amzDate, parts.scope, sha256Hex(canonical)].join("\n");
}

/** Hex HMAC-SHA256 signature of `text` with the key derived for (secret, date, region, service). */
function signatureOf(secret: string, scope: { date: string; region: string; service: string }, text: string): string {
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, scope.date), scope.region), scope.service), "aws4_request");
  return createHmac("sha256", key).update(text).digest("hex");
}

/** Checks one request's SigV4 signature against the only credentials this server knows. */
export function verifySigV4(request: WireRequest, credentials: SigV4Credentials, now: number): SigV4Verdict {
  const mark = request.target.indexOf("?");
  const rawPath = mark < 0 ? request.target : request.target.slice(0, mark);
  const query = [...new URLSearchParams(mark < 0 ? "" : request.target.slice(mark + 1))].filter(([k]) => k !== "");
  const param = (name: string) => query.find(([k]) => k === name)?.[1];
  const header = (name: string) => {
    const values = request.headers.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v.trim().replace(/\s+/g, " "));
    return values.length === 0 ? undefined : values.join(",");
  };

  const authorization = header("authorization");
  const presigned = param("X-Amz-Algorithm") !== undefined;
  if (authorization !== undefined && presigned) {
    return deny(
      400,
      "InvalidArgument",
      "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified",
    );
  }
  if (authorization === undefined && !presigned) return deny(403, "AccessDenied", "Access Denied");

  let fields: { credential?: string; signedHeaders?: string; signature?: string; amzDate?: string };
  let expiresS = 0;
  const malformed = presigned ? "AuthorizationQueryParametersError" : "AuthorizationHeaderMalformed";
  if (authorization !== undefined) {
    if (!authorization.startsWith(`${ALGORITHM} `)) {
      return deny(400, "InvalidRequest", `The authorization mechanism you have provided is not supported. Please use ${ALGORITHM}.`);
    }
    const pairs = new Map<string, string | undefined>(
      authorization
        .slice(ALGORITHM.length + 1)
        .split(",")
        .map((part) => {
          const [name = "", value] = part.trim().split("=", 2);
          return [name, value];
        }),
    );
    fields = {
      credential: pairs.get("Credential"),
      signedHeaders: pairs.get("SignedHeaders"),
      signature: pairs.get("Signature"),
      amzDate: header("x-amz-date"),
    };
    if (fields.amzDate === undefined) return deny(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header");
  } else {
    if (param("X-Amz-Algorithm") !== ALGORITHM) return deny(400, malformed, `X-Amz-Algorithm only supports "${ALGORITHM}"`);
    fields = {
      credential: param("X-Amz-Credential"),
      signedHeaders: param("X-Amz-SignedHeaders"),
      signature: param("X-Amz-Signature"),
      amzDate: param("X-Amz-Date"),
    };
    const expires = param("X-Amz-Expires");
    if (expires === undefined || !/^\d{1,7}$/.test(expires)) return deny(400, malformed, "X-Amz-Expires must be a number of seconds");
    expiresS = Number(expires);
    if (expiresS > MAX_EXPIRES_S)
      return deny(
        400,
        malformed,
        `X-Amz-Expires must be less than a week (in seconds) that is, the given X-Amz-Expires must be less than ${MAX_EXPIRES_S} seconds`,
      );
  }
  const { credential, signedHeaders, signature, amzDate } = fields;
  if (!credential || !signedHeaders || !signature || !amzDate) {
    return deny(400, malformed, "Signature Version 4 requires Credential, SignedHeaders, Signature and a date");
  }

  const scope = credential.split("/");
  const date = AMZ_DATE.exec(amzDate);
  if (scope.length !== 5) return deny(400, malformed, `Error parsing the Credential parameter "${credential}"`);
  if (date === null)
    return deny(presigned ? 400 : 403, presigned ? malformed : "AccessDenied", "X-Amz-Date must be in the ISO8601 Long Format");
  const [accessKeyId, scopeDate, region, service, terminal] = scope as [string, string, string, string, string];
  if (scopeDate !== amzDate.slice(0, 8)) return deny(400, malformed, "Invalid credential date. Date is not the same as X-Amz-Date.");
  if (region !== credentials.region) return deny(400, malformed, `the region '${region}' is wrong; expecting '${credentials.region}'`);
  if (service !== credentials.service)
    return deny(400, malformed, `incorrect service '${service}'. This endpoint belongs to '${credentials.service}'.`);
  if (terminal !== "aws4_request") return deny(400, malformed, `incorrect terminal '${terminal}'. This endpoint uses 'aws4_request'.`);
  if (accessKeyId !== credentials.accessKeyId)
    return deny(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");

  const [, y, mo, d, h, mi, s] = date.map(Number) as number[];
  const signedAt = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
  if (presigned) {
    if (now < signedAt - MAX_SKEW_MS) return deny(403, "AccessDenied", "Request is not yet valid");
    if (now > signedAt + expiresS * 1000) return deny(403, "AccessDenied", "Request has expired");
  } else if (Math.abs(now - signedAt) > MAX_SKEW_MS) {
    return deny(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.");
  }

  const names = signedHeaders.split(";");
  if (!names.includes("host") || names.some((n, i) => n !== n.toLowerCase() || (i > 0 && n <= names[i - 1]!))) {
    return deny(400, malformed, "SignedHeaders must be sorted, lowercase, unique and include host");
  }
  if (request.headers.some(([name]) => name.toLowerCase().startsWith("x-amz-") && !names.includes(name.toLowerCase()))) {
    return deny(403, "AccessDenied", "There were headers present in the request which were not signed");
  }
  let payloadHash = "UNSIGNED-PAYLOAD";
  if (!presigned) {
    const claimed = header("x-amz-content-sha256");
    if (claimed === undefined) return deny(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256");
    if (claimed.startsWith("STREAMING-")) return deny(501, "NotImplemented", "aws-chunked uploads are not implemented by this server");
    if (claimed !== "UNSIGNED-PAYLOAD" && !/^[0-9a-f]{64}$/.test(claimed)) {
      return deny(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, or a valid sha256 value.");
    }
    payloadHash = claimed;
  }

  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return deny(400, "InvalidURI", "Couldn't parse the specified URI.");
  }
  const text = stringToSign({
    method: request.method,
    path,
    query: presigned ? query.filter(([k]) => k !== "X-Amz-Signature") : query,
    headers: names.map((name) => [name, header(name) ?? ""] as const),
    payloadHash,
    amzDate,
    scope: scope.slice(1).join("/"),
  });
  const expected = Buffer.from(signatureOf(credentials.secretAccessKey, { date: scopeDate, region, service }, text));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return deny(
      403,
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
    );
  }
  return { ok: true, payloadHash };
}
