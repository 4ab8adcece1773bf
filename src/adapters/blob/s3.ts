/**
 * S3-compatible blob store over fetch, SigV4-signed by aws4fetch: runs unchanged in
 * Node and workerd. Path-style URLs `<endpoint>/<bucket>/<storage_path/><key>` as
 * Quay's S3 storage addresses them. Bodies stream through with a known length (S3
 * refuses chunked uploads), and redirects are presigned GET/HEAD URLs like boto3's.
 */
import { AwsClient } from "aws4fetch";
import { DEFAULT_TIMEOUTS, type S3Settings } from "../../core/config.js";
import { DependencyUnavailableError } from "../../core/errors/dependency-unavailable.js";
import type { BlobListing, BlobRead, BlobStore, UploadedPart } from "../../core/ports/blob-store.js";
import type { RedirectSigner } from "../../core/ports/redirect-signer.js";
import { stallDeadline } from "./stall-deadline.js";

/** A request S3 refused: its error code (NoSuchKey, SignatureDoesNotMatch, ...) and HTTP status. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = "S3Error";
  }
}

/** S3's limit for presigned URLs: one week. */
const MAX_EXPIRY_S = 604_800;
const FALLBACK_CODES: Record<number, string> = { 400: "BadRequest", 403: "Forbidden", 404: "NotFound", 416: "InvalidRange" };

/** Statuses a Response may not be constructed with a body for. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

type FixedLengthStreamClass = new (length: number) => TransformStream<Uint8Array, Uint8Array>;

/** Quay's `_init_path`: os.path.join(storage_path, key) with one leading "/" stripped. */
function objectKey(storagePath: string | undefined, key: string): string {
  const joined = !storagePath ? key : storagePath.endsWith("/") ? storagePath + key : `${storagePath}/${key}`;
  return joined.startsWith("/") ? joined.slice(1) : joined;
}

function xmlDecode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
    if (entity[0] !== "#") return named[entity.toLowerCase()]!;
    return String.fromCodePoint(entity[1] === "x" || entity[1] === "X" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10));
  });
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Text of the first `<tag>` element (S3's replies are flat enough for this). */
function xmlText(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match ? xmlDecode(match[1]!) : undefined;
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}

/**
 * Passes exactly `size` bytes through, holding the latest chunk back until the source
 * ends: the server never receives all `size` bytes of a body that turns out longer or
 * shorter, so a wrong-sized upload can never complete. A mismatch aborts the request.
 */
function exactLength(size: number, abort: (reason: Error) => void): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  let held: Uint8Array | undefined;
  const mismatch = () => {
    const error = new Error(`body has ${seen}${seen > size ? "+" : ""} bytes, ${size} were declared`);
    abort(error);
    return error;
  };
  return new TransformStream({
    transform(chunk, controller) {
      if (chunk.byteLength === 0) return;
      seen += chunk.byteLength;
      if (seen > size) throw mismatch();
      if (held) controller.enqueue(held);
      held = chunk;
    },
    flush(controller) {
      if (seen !== size) throw mismatch();
      if (held) controller.enqueue(held);
    },
  });
}

export interface S3BlobStoreOptions {
  /** How long S3 may keep us waiting: for a response, to take a chunk, to send the next one. */
  timeoutMs?: number;
}

/** S3 store and presigner; see the file header. */
export function s3BlobStore(settings: S3Settings, options: S3BlobStoreOptions = {}): BlobStore & RedirectSigner {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUTS.storageMs;
  const client = new AwsClient({
    accessKeyId: settings.accessKeyId,
    secretAccessKey: settings.secretAccessKey,
    service: "s3",
    region: settings.region,
    retries: 0,
  });
  const bucketUrl = `${settings.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(settings.bucket)}`;
  const root = objectKey(settings.storagePath, "");
  const FixedLengthStream = (globalThis as unknown as { FixedLengthStream?: FixedLengthStreamClass }).FixedLengthStream;

  function urlOf(key: string, query: Record<string, string> = {}): URL {
    const segments = objectKey(settings.storagePath, key).split("/");
    // The URL parser would resolve "." and ".." segments away, addressing another object.
    if (key === "" || segments.some((s) => s === "." || s === "..")) throw new TypeError(`unsupported S3 key ${JSON.stringify(key)}`);
    const url = new URL(`${bucketUrl}/${segments.map(encodeURIComponent).join("/")}`);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return url;
  }

  function s3Error(status: number, xml: string, key?: string): Error {
    const code = xmlText(xml, "Code") ?? FALLBACK_CODES[status] ?? `Http${status}`;
    const error = new S3Error(
      status,
      code,
      `S3 ${code} (${status})${key ? ` for ${key}` : ""}: ${xmlText(xml, "Message") ?? "no message"}`,
      key,
    );
    // 5xx (InternalError, SlowDown, a gateway's 502/504): try again later.
    return status >= 500 ? new DependencyUnavailableError("blob storage", error.message, { cause: error }) : error;
  }

  async function failure(response: Response, key?: string): Promise<Error> {
    return s3Error(response.status, await response.text(), key);
  }

  interface Call {
    method: string;
    url: URL | string;
    headers?: Record<string, string>;
    body?: string | { stream: ReadableStream<Uint8Array>; size: number };
  }

  /**
   * Signs with UNSIGNED-PAYLOAD (aws4fetch's S3 default) and sends; streamed bodies keep a
   * fixed length. Every wait on S3 is bounded (see stall-deadline.ts); the response's
   * body is too, so reading it (a blob, or an XML reply) cannot hang either.
   */
  async function send({ method, url, headers = {}, body }: Call): Promise<Response> {
    const signed = await client.sign(url.toString(), { method, headers });
    const deadline = stallDeadline("S3", timeoutMs);
    let init: RequestInit;
    if (body === undefined || typeof body === "string") init = { method, headers: signed.headers, body, signal: deadline.signal };
    else {
      // Aborting (rather than only erroring the body) rejects fetch with the size error itself.
      let stream = deadline.watchUpload(body.stream.pipeThrough(exactLength(body.size, (reason) => deadline.abort(reason))));
      // workerd sends a stream with Transfer-Encoding: chunked unless it has a fixed length.
      const sent = new Headers(signed.headers);
      if (FixedLengthStream) stream = stream.pipeThrough(new FixedLengthStream(body.size));
      else sent.set("content-length", String(body.size));
      // S3 never redirects a signed PUT. With "follow", Node's fetch keeps a tee of the body
      // for a possible replay — the whole upload in memory — unless redirects are errors;
      // workerd has no "error" mode and needs none.
      const redirect = FixedLengthStream ? "manual" : "error";
      init = {
        method,
        headers: sent,
        body: stream,
        duplex: "half",
        redirect,
        signal: deadline.signal,
      } as RequestInit;
    }
    deadline.arm();
    const response = await fetch(signed.url, init).catch((error: unknown) => Promise.reject(deadline.failure(error)));
    deadline.disarm();
    if (!response.body || NULL_BODY_STATUSES.has(response.status)) return response;
    return new Response(deadline.watchDownload(response.body), response);
  }

  /** Reads an XML reply, throwing S3's error (which may arrive with status 200 for copies and completes). */
  async function xmlReply(response: Response, key?: string): Promise<string> {
    if (!response.ok) throw await failure(response, key);
    const xml = await response.text();
    if (/<Error>/.test(xml)) throw s3Error(response.status, xml, key);
    return xml;
  }

  async function drain(response: Response, key: string, allowed: number[] = []): Promise<void> {
    if (!response.ok && !allowed.includes(response.status)) throw await failure(response, key);
    await response.body?.cancel();
  }

  async function stat(key: string): Promise<{ size: number } | null> {
    const response = await send({ method: "HEAD", url: urlOf(key) });
    if (response.status === 404) return null;
    // HEAD replies carry no body: the code comes from the status.
    if (!response.ok) throw s3Error(response.status, "", key);
    return { size: Number(response.headers.get("content-length")) };
  }

  return {
    stat,

    async get(key, range): Promise<BlobRead | null> {
      const offset = range?.offset ?? 0;
      const length = range?.length;
      if (
        range &&
        (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0)))
      ) {
        throw new RangeError(`invalid range ${offset}+${length}`);
      }
      const emptyAt = async (): Promise<BlobRead | null> => {
        const found = await stat(key);
        if (found === null) return null;
        if (offset > found.size || (length ?? found.size - offset) !== 0)
          throw new RangeError(`range ${offset}+${length} is outside the ${found.size} bytes of ${key}`);
        return { body: emptyStream(), size: found.size, range: { offset, length: 0 } };
      };
      if (length === 0) return emptyAt();
      const headers: Record<string, string> = range ? { range: `bytes=${offset}-${length === undefined ? "" : offset + length - 1}` } : {};
      const response = await send({ method: "GET", url: urlOf(key), headers });
      if (response.status === 404) return (await response.body?.cancel(), null);
      // S3 answers 416 for a range starting at the end, which the port allows as an empty read.
      if (response.status === 416) return (await response.body?.cancel(), emptyAt());
      if (!response.ok || !response.body) throw await failure(response, key);
      if (response.status === 200) {
        const size = Number(response.headers.get("content-length"));
        if (range && (offset !== 0 || (length ?? size) !== size)) {
          await response.body.cancel();
          throw new S3Error(200, "RangeIgnored", `S3 ignored the Range header for ${key}`, key);
        }
        return { body: response.body, size, ...(range ? { range: { offset: 0, length: size } } : {}) };
      }
      const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get("content-range") ?? "");
      const got = match ? { offset: Number(match[1]), length: Number(match[2]) - Number(match[1]) + 1, size: Number(match[3]) } : null;
      if (got === null || got.offset !== offset || (length !== undefined && got.length !== length)) {
        await response.body.cancel();
        if (got && got.offset === offset && length !== undefined && offset + length > got.size) {
          throw new RangeError(`range ${offset}+${length} is outside the ${got.size} bytes of ${key}`);
        }
        throw new S3Error(206, "InvalidContentRange", `unexpected Content-Range for ${key}: ${response.headers.get("content-range")}`, key);
      }
      return { body: response.body, size: got.size, range: { offset: got.offset, length: got.length } };
    },

    async put(key, body, size) {
      await drain(await send({ method: "PUT", url: urlOf(key), body: { stream: body, size } }), key);
    },

    async delete(key) {
      await drain(await send({ method: "DELETE", url: urlOf(key) }), key, [404]);
    },

    async copy(from, to) {
      const source = urlOf(from).pathname;
      await xmlReply(await send({ method: "PUT", url: urlOf(to), headers: { "x-amz-copy-source": source } }), from);
    },

    async list(prefix, options = {}): Promise<BlobListing> {
      const query = new URLSearchParams({
        "list-type": "2",
        prefix: root + prefix,
        "max-keys": String(Math.min(1000, Math.max(1, options.limit ?? 1000))),
      });
      if (options.after !== undefined) query.set("start-after", root + options.after);
      const xml = await xmlReply(await send({ method: "GET", url: `${bucketUrl}?${query}` }));
      const keys = [...xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map(([, entry]) => ({
        key: xmlText(entry!, "Key")!.slice(root.length),
        size: Number(xmlText(entry!, "Size")),
        lastModified: new Date(xmlText(entry!, "LastModified")!),
      }));
      const truncated = xmlText(xml, "IsTruncated") === "true" && keys.length > 0;
      return truncated ? { keys, next: keys[keys.length - 1]!.key } : { keys };
    },

    async createMultipart(key) {
      const xml = await xmlReply(await send({ method: "POST", url: `${urlOf(key)}?uploads` }), key);
      const uploadId = xmlText(xml, "UploadId");
      if (!uploadId) throw new S3Error(200, "MalformedReply", `CreateMultipartUpload for ${key} returned no UploadId`, key);
      return uploadId;
    },

    async uploadPart(key, uploadId, partNumber, body, size): Promise<UploadedPart> {
      const url = urlOf(key, { partNumber: String(partNumber), uploadId });
      const response = await send({ method: "PUT", url, body: { stream: body, size } });
      await drain(response, key);
      const etag = response.headers.get("etag");
      if (!etag) throw new S3Error(response.status, "MalformedReply", `UploadPart ${partNumber} for ${key} returned no ETag`, key);
      return { partNumber, etag };
    },

    async completeMultipart(key, uploadId, parts) {
      const body = `<CompleteMultipartUpload>${parts
        .map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${xmlEscape(p.etag)}</ETag></Part>`)
        .join("")}</CompleteMultipartUpload>`;
      await xmlReply(
        await send({ method: "POST", url: urlOf(key, { uploadId }), headers: { "content-type": "application/xml" }, body }),
        key,
      );
    },

    async abortMultipart(key, uploadId) {
      await drain(await send({ method: "DELETE", url: urlOf(key, { uploadId }) }), key, [404]);
    },

    async sign({ key, method, expiresInSeconds }) {
      if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_EXPIRY_S) {
        throw new RangeError(`presigned URL lifetime must be 1..${MAX_EXPIRY_S} seconds, got ${expiresInSeconds}`);
      }
      const signed = await client.sign(urlOf(key, { "X-Amz-Expires": String(expiresInSeconds) }).toString(), {
        method,
        aws: { signQuery: true },
      });
      return signed.url;
    },
  };
}
