/**
 * Mirroring fixtures the job tests and the mirror benchmark share: a due mirror written
 * straight into Quay's tables (rule, config, MIRROR state), a recorder of the requests
 * the registry sends upstream (with a hook for fault injection, and a run with the upstream
 * going down mid-sync), and a stored blob hashed back from storage.
 */
import { createHash } from "node:crypto";
import { pythonJson } from "../../src/core/audit.js";
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import type { Sql } from "../../src/core/ports/sql.js";
import type { Registry } from "../../src/core/registry.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { insertMirrorConfig, insertMirrorRule, setRepositoryState } from "../../src/db/queries/repo-mirror.js";
import type { FaultProxy } from "./fault-proxy.js";

export interface DueMirror {
  repositoryId: number;
  robotId: number;
  /** `host[:port]/path` of the upstream repository. */
  reference: string;
  globs: string[];
  nowMs: number;
  /** Already encrypted (FieldEncrypter), as the API stores them. */
  username?: string | null;
  password?: string | null;
  syncIntervalSeconds?: number;
}

/** Makes the repository a MIRROR of `reference`, enabled and due (its start a minute ago). */
export async function insertDueMirror(sql: Sql, mirror: DueMirror): Promise<void> {
  await sql.transaction(async (tx) => {
    const ruleId = await insertMirrorRule(tx, mirror.repositoryId, pythonJson(mirror.globs), mirror.nowMs);
    await insertMirrorConfig(tx, {
      repositoryId: mirror.repositoryId,
      isEnabled: true,
      robotId: mirror.robotId,
      externalReference: mirror.reference,
      username: mirror.username ?? null,
      password: mirror.password ?? null,
      externalRegistryConfig: pythonJson({ verify_tls: false }),
      architectureFilter: "[]",
      syncInterval: mirror.syncIntervalSeconds ?? 3600,
      startMs: mirror.nowMs - 60_000,
      skopeoTimeout: 300,
      ruleId,
      nowMs: mirror.nowMs,
    });
    await setRepositoryState(tx, mirror.repositoryId, 2);
  });
}

export interface UpstreamRecorder {
  /** Requests that left the registry for an upstream: `METHOD /path`. */
  sent: string[];
  /** Called with each request before it leaves (fault injection). */
  beforeSend: (request: Request) => void | Promise<void>;
  /** The `GET …/blobs/…` lines of `sent`. */
  blobGets(): string[];
}

/** Wraps the registry's upstream port so every outgoing request is recorded first. */
export function recordUpstream(registry: Registry): UpstreamRecorder {
  const outbound = registry.upstream;
  const recorder: UpstreamRecorder = {
    sent: [],
    beforeSend: () => {},
    blobGets: () => recorder.sent.filter((line) => /^GET \/v2\/.+\/blobs\//.test(line)),
  };
  registry.upstream = {
    async fetch(request) {
      recorder.sent.push(`${request.method} ${new URL(request.url).pathname}`);
      await recorder.beforeSend(request);
      return outbound.fetch(request);
    },
  };
  return recorder;
}

/** The stored object of `digest`, read back and hashed (null when absent). */
export async function storedDigest(blobs: BlobStore, digest: string): Promise<string | null> {
  const read = await blobs.get(blobKey(digest)!);
  if (read === null) return null;
  const hash = createHash("sha256");
  for await (const chunk of read.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return `sha256:${hash.digest("hex")}`;
}

/** Runs `run` while the upstream behind `faulty` goes down as a request for `pathSuffix` leaves; then it passes again. */
export async function withUpstreamDownAt<T>(
  recorder: UpstreamRecorder,
  faulty: FaultProxy,
  pathSuffix: string,
  run: () => Promise<T>,
): Promise<T> {
  recorder.beforeSend = (request) => {
    if (request.url.endsWith(pathSuffix)) faulty.down();
  };
  recorder.sent.length = 0;
  try {
    return await run();
  } finally {
    recorder.beforeSend = () => {};
    faulty.pass();
  }
}
