/**
 * A small S3-API server over a directory for local development and tests: one bucket,
 * path-style, exactly the operations src/adapters/blob/s3.ts uses. Unlike s3rver it
 * verifies every request's SigV4 signature (./sigv4.ts), so signed redirects are tested
 * for real: a tampered, expired or cross-object URL gets S3's 403. Objects are files in
 * an fsBlobStore under `root`; bodies stream to disk.
 */
import { createHash } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { FsBlobError, fsBlobStore, type FsBlobErrorCode } from "../../src/adapters/blob/fs.js";
import { verifySigV4 } from "./sigv4.js";

export interface S3ServerOptions {
  /** Fixed port; ephemeral when omitted. */
  port?: number;
  /** Directory holding the bucket's objects. */
  root: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Clock for signature expiry and skew checks (ms since the epoch). */
  now?: () => number;
}

export interface S3Server {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

class S3Failure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STORE_FAILURES: Record<FsBlobErrorCode, [number, string]> = {
  InvalidKey: [400, "InvalidArgument"],
  NoSuchKey: [404, "NoSuchKey"],
  NoSuchUpload: [404, "NoSuchUpload"],
  InvalidPart: [400, "InvalidPart"],
  InvalidPartOrder: [400, "InvalidPartOrder"],
  SizeMismatch: [400, "IncompleteBody"],
};
const MAX_XML_BODY = 1 << 20;

/** Escapes element text (the server writes no attributes). */
function xmlEscape(text: string): string {
  return text.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function xmlDecode(text: string): string {
  const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) =>
    e[0] === "#"
      ? String.fromCodePoint(e[1]?.toLowerCase() === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10))
      : named[e.toLowerCase()]!,
  );
}

function xml(root: string, fields: Record<string, string | number | boolean | undefined>, extra = ""): string {
  const body = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`)
    .join("");
  const namespace = root === "Error" ? "" : ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${namespace}>${body}${extra}</${root}>`;
}

function send(res: ServerResponse, status: number, headers: Record<string, string | number> = {}, body?: string): void {
  res.writeHead(
    status,
    body === undefined ? headers : { "content-type": "application/xml", "content-length": Buffer.byteLength(body), ...headers },
  );
  res.end(body);
}

/**
 * The request body as a web stream with backpressure. Not Readable.toWeb: on Node 20
 * it throws when data arrives after the consumer cancelled, which is exactly when an
 * error answer drains the rest of the body.
 */
function webStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let open = true;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const settle = (error?: unknown) => {
        if (!open) return;
        open = false;
        if (error) controller.error(error);
        else controller.close();
      };
      req.pause();
      req.on("data", (chunk: Buffer) => {
        if (!open) return;
        controller.enqueue(chunk);
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.once("end", () => settle());
      req.once("error", settle);
      req.once("close", () => req.complete || settle(new Error("request body aborted")));
    },
    pull: () => void req.resume(),
    cancel: () => void (open = false),
  });
}

/** The request body as a web stream, with its MD5 (the ETag) and the signed SHA-256 checked at the end. */
function bodyOf(req: IncomingMessage, payloadHash: string): { stream: ReadableStream<Uint8Array>; etag(): string } {
  const md5 = createHash("md5");
  const sha = payloadHash === "UNSIGNED-PAYLOAD" ? null : createHash("sha256");
  const hashing = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      md5.update(chunk);
      sha?.update(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      if (sha && sha.digest("hex") !== payloadHash) {
        throw new S3Failure(
          400,
          "XAmzContentSHA256Mismatch",
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
        );
      }
    },
  });
  const stream = webStream(req).pipeThrough(hashing);
  return { stream, etag: () => `"${md5.digest("hex")}"` };
}

async function smallBody(req: IncomingMessage, payloadHash: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_XML_BODY) throw new S3Failure(400, "MaxMessageLengthExceeded", "Your request was too big.");
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (payloadHash !== "UNSIGNED-PAYLOAD" && createHash("sha256").update(body).digest("hex") !== payloadHash) {
    throw new S3Failure(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return body.toString("utf8");
}

function contentLength(req: IncomingMessage): number {
  const value = req.headers["content-length"];
  if (value === undefined || !/^\d+$/.test(value))
    throw new S3Failure(411, "MissingContentLength", "You must provide the Content-Length HTTP header.");
  return Number(value);
}

/** The bytes a Range header asks for, or null to send the whole object (RFC 9110: unparsable ranges are ignored). */
function parseRange(header: string | undefined, size: number): { offset: number; length: number } | null {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header ?? "");
  if (!match || (match[1] === "" && match[2] === "")) return null;
  const [first, last] = [match[1] === "" ? null : Number(match[1]), match[2] === "" ? null : Number(match[2])];
  if (first === null) {
    if (last === 0) throw new S3Failure(416, "InvalidRange", "The requested range is not satisfiable");
    const length = Math.min(last!, size);
    return { offset: size - length, length };
  }
  if (last !== null && last < first) return null;
  if (first >= size) throw new S3Failure(416, "InvalidRange", "The requested range is not satisfiable");
  return { offset: first, length: Math.min(last ?? size - 1, size - 1) - first + 1 };
}

/** Starts the server; see the file header. */
export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  const store = fsBlobStore({ root: options.root });
  const now = options.now ?? Date.now;
  const credentials = { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, region: options.region, service: "s3" };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? "/";
    const headers = Array.from(
      { length: req.rawHeaders.length / 2 },
      (_, i) => [req.rawHeaders[2 * i]!, req.rawHeaders[2 * i + 1]!] as const,
    );
    const verdict = verifySigV4({ method: req.method ?? "GET", target, headers }, credentials, now());
    if (!verdict.ok) throw new S3Failure(verdict.status, verdict.code, verdict.message);

    const mark = target.indexOf("?");
    const query = new URLSearchParams(mark < 0 ? "" : target.slice(mark + 1));
    const [, bucketPart = "", ...rest] = (mark < 0 ? target : target.slice(0, mark)).split("/");
    let bucket: string, key: string;
    try {
      [bucket, key] = [decodeURIComponent(bucketPart), decodeURIComponent(rest.join("/"))];
    } catch {
      throw new S3Failure(400, "InvalidURI", "Couldn't parse the specified URI.");
    }
    if (bucket !== options.bucket) throw new S3Failure(404, "NoSuchBucket", "The specified bucket does not exist");
    const method = req.method;
    const uploadId = query.get("uploadId");

    if (key === "") {
      if (method !== "GET" || query.get("list-type") !== "2" || query.has("delimiter")) {
        throw new S3Failure(501, "NotImplemented", "Only ListObjectsV2 without delimiter is implemented on the bucket");
      }
      return listObjects(res, query);
    }
    const copySource = req.headers["x-amz-copy-source"];
    if (method === "PUT" && uploadId !== null) {
      if (copySource !== undefined) throw new S3Failure(501, "NotImplemented", "UploadPartCopy is not implemented by this server");
      const partNumber = Number(query.get("partNumber"));
      if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
        throw new S3Failure(400, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive");
      }
      const size = contentLength(req);
      const part = await store.uploadPart(key, uploadId, partNumber, bodyOf(req, verdict.payloadHash).stream, size);
      return send(res, 200, { etag: part.etag });
    }
    if (method === "PUT" && typeof copySource === "string") return copyObject(res, key, copySource);
    if (method === "PUT") {
      const size = contentLength(req);
      const body = bodyOf(req, verdict.payloadHash);
      await store.put(key, body.stream, size);
      return send(res, 200, { etag: body.etag() });
    }
    if (method === "GET" || method === "HEAD") return getObject(req, res, key);
    if (method === "DELETE") {
      await (uploadId === null ? store.delete(key) : store.abortMultipart(key, uploadId));
      return send(res, 204);
    }
    if (method === "POST" && query.has("uploads")) {
      const id = await store.createMultipart(key);
      return send(res, 200, {}, xml("InitiateMultipartUploadResult", { Bucket: bucket, Key: key, UploadId: id }));
    }
    if (method === "POST" && uploadId !== null) return completeMultipart(res, key, uploadId, await smallBody(req, verdict.payloadHash));
    throw new S3Failure(501, "NotImplemented", "A header or query you provided implies functionality that is not implemented");
  }

  async function getObject(req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
    const found = await store.stat(key);
    if (found === null) throw new S3Failure(404, "NoSuchKey", "The specified key does not exist.");
    let range: { offset: number; length: number } | null;
    try {
      range = parseRange(req.headers.range, found.size);
    } catch (error) {
      res.setHeader("content-range", `bytes */${found.size}`);
      throw error;
    }
    const headers = { "content-type": "application/octet-stream", "accept-ranges": "bytes", "content-length": range?.length ?? found.size };
    if (range) Object.assign(headers, { "content-range": `bytes ${range.offset}-${range.offset + range.length - 1}/${found.size}` });
    if (req.method === "HEAD") return send(res, range ? 206 : 200, headers);
    const read = await store.get(key, range ?? undefined);
    if (read === null) throw new S3Failure(404, "NoSuchKey", "The specified key does not exist.");
    res.writeHead(range ? 206 : 200, headers);
    await pipeline(Readable.fromWeb(read.body as unknown as NodeReadableStream), res);
  }

  async function copyObject(res: ServerResponse, key: string, source: string): Promise<void> {
    const [, sourceBucket, ...sourceKey] = decodeURIComponent(source.replace(/\?.*$/, "").replace(/^(?!\/)/, "/")).split("/");
    if (sourceBucket !== options.bucket) throw new S3Failure(404, "NoSuchBucket", "The specified bucket does not exist");
    await store.copy(sourceKey.join("/"), key);
    return send(res, 200, {}, xml("CopyObjectResult", { LastModified: new Date(now()).toISOString() }));
  }

  async function listObjects(res: ServerResponse, query: URLSearchParams): Promise<void> {
    const maxKeys = Number(query.get("max-keys") ?? 1000);
    if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new S3Failure(400, "InvalidArgument", "max-keys must be a non-negative integer");
    const token = query.get("continuation-token");
    const after = token !== null ? Buffer.from(token, "base64url").toString("utf8") : (query.get("start-after") ?? undefined);
    if (token !== null && (token === "" || after === ""))
      throw new S3Failure(400, "InvalidArgument", "The continuation token provided is incorrect");
    const prefix = query.get("prefix") ?? "";
    const page = await store.list(prefix, { after, limit: Math.min(Math.max(maxKeys, 1), 1000) });
    const keys = maxKeys === 0 ? [] : page.keys;
    const truncated = maxKeys === 0 ? page.keys.length > 0 : page.next !== undefined;
    const contents = keys
      .map(
        (k) =>
          `<Contents><Key>${xmlEscape(k.key)}</Key><LastModified>${k.lastModified.toISOString()}</LastModified><Size>${k.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
      )
      .join("");
    const fields = {
      Name: options.bucket,
      Prefix: prefix,
      KeyCount: keys.length,
      MaxKeys: maxKeys,
      IsTruncated: truncated,
      ContinuationToken: token ?? undefined,
      StartAfter: query.get("start-after") ?? undefined,
      NextContinuationToken: page.next !== undefined && maxKeys > 0 ? Buffer.from(page.next).toString("base64url") : undefined,
    };
    return send(res, 200, {}, xml("ListBucketResult", fields, contents));
  }

  async function completeMultipart(res: ServerResponse, key: string, uploadId: string, body: string): Promise<void> {
    const parts = [...body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map(([, part]) => ({
      partNumber: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(part!)?.[1]),
      etag: xmlDecode(/<ETag>([\s\S]*?)<\/ETag>/.exec(part!)?.[1] ?? ""),
    }));
    if (
      !/<CompleteMultipartUpload[\s>]/.test(body) ||
      parts.length === 0 ||
      parts.some((p) => !Number.isInteger(p.partNumber) || p.etag === "")
    ) {
      throw new S3Failure(400, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema");
    }
    await store.completeMultipart(key, uploadId, parts);
    // S3's multipart ETag: MD5 of the parts' binary MD5s, then "-<count>".
    const md5s = Buffer.concat(parts.map((p) => Buffer.from(p.etag.replace(/"/g, ""), "hex")));
    const etag = `"${createHash("md5").update(md5s).digest("hex")}-${parts.length}"`;
    return send(res, 200, {}, xml("CompleteMultipartUploadResult", { Bucket: options.bucket, Key: key, ETag: etag }));
  }

  async function fail(req: IncomingMessage, res: ServerResponse, error: unknown): Promise<void> {
    // The client went away (an aborted upload): nobody to answer.
    if (req.socket.destroyed) return;
    const failure =
      error instanceof S3Failure
        ? error
        : error instanceof FsBlobError
          ? new S3Failure(...STORE_FAILURES[error.code], error.message)
          : new S3Failure(500, "InternalError", "We encountered an internal error. Please try again.");
    if (failure.status === 500) console.error("S3 server:", error);
    if (res.headersSent) return void res.destroy();
    // Read what the client is still sending, so it sees this answer rather than a reset.
    if (!req.complete && !req.destroyed) {
      req.resume();
      await finished(req).catch(() => {});
    }
    const body = req.method === "HEAD" ? undefined : xml("Error", { Code: failure.code, Message: failure.message });
    send(res, failure.status, {}, body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => fail(req, res, error));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
