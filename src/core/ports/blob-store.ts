/**
 * Blob store port: object storage addressed by Quay's keys (see core/storage-layout.ts).
 * Bodies are web streams end to end; no method buffers a whole object.
 */
export interface BlobStat {
  size: number;
}

export interface ByteRange {
  offset: number;
  /** Bytes to read from `offset`; to the end when absent. */
  length?: number;
}

export interface BlobRead {
  body: ReadableStream<Uint8Array>;
  /** Size of the whole object. */
  size: number;
  /** The bytes `body` holds, when a range was asked for. */
  range?: { offset: number; length: number };
}

export interface BlobListing {
  keys: { key: string; size: number; lastModified: Date }[];
  /** Pass as `after` to read the next page; absent on the last page. */
  next?: string;
}

export interface UploadedPart {
  partNumber: number;
  etag: string;
}

export interface BlobStore {
  stat(key: string): Promise<BlobStat | null>;
  /** Null when the key does not exist. A range past the end throws RangeError. */
  get(key: string, range?: ByteRange): Promise<BlobRead | null>;
  /** Writes exactly `size` bytes from `body`; the object appears only when complete. */
  put(key: string, body: ReadableStream<Uint8Array>, size: number): Promise<void>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Server-side copy where the backend has one; `to` is replaced. */
  copy(from: string, to: string): Promise<void>;
  /** Keys under `prefix` in lexical order, at most `limit` (default 1000) per page. */
  list(prefix: string, options?: { after?: string; limit?: number }): Promise<BlobListing>;

  /** Multipart upload for objects of unknown or large size; parts are streamed through. */
  createMultipart(key: string): Promise<string>;
  uploadPart(key: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, size: number): Promise<UploadedPart>;
  completeMultipart(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<void>;
  abortMultipart(key: string, uploadId: string): Promise<void>;

  /**
   * Removes up to `limit` leftovers of interrupted writes kept outside the key space
   * (temp files, multipart uploads) untouched since `before`; returns how many. Only
   * stores that keep such leftovers themselves have it (S3 expires them by a lifecycle rule).
   */
  sweepAbandoned?(before: Date, limit: number): Promise<number>;
}
