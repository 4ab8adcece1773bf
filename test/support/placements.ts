/** Blobs pushed to a scene's repository and the storage locations they are placed in (geo-replication tests). */
import { createHash } from "node:crypto";
import { expect } from "vitest";
import type { PushScene } from "./origin-registry.js";

export const sha256Of = (bytes: Uint8Array) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** A monolithic upload of `text` to the scene's repository, asserted to succeed. */
export async function uploadText(scene: PushScene, text: string): Promise<{ digest: string; bytes: Uint8Array }> {
  const bytes = new TextEncoder().encode(text);
  const digest = sha256Of(bytes);
  const response = await scene.call("POST", `/v2/${scene.repo}/blobs/uploads/?digest=${digest}`, {
    body: bytes,
    headers: { "content-type": "application/octet-stream", "content-length": String(bytes.byteLength) },
  });
  expect(response.status).toBe(201);
  return { digest, bytes };
}

/** The names of the locations the blob is placed in, sorted. */
export async function placementsOf(scene: PushScene, digest: string): Promise<string[]> {
  const { rows } = await scene.origin.direct.query<{ name: string }>(
    `SELECT l.name FROM imagestorageplacement p JOIN imagestoragelocation l ON l.id = p.location_id
     JOIN imagestorage s ON s.id = p.storage_id WHERE s.content_checksum = $1 ORDER BY l.name`,
    [digest],
  );
  return rows.map((r) => r.name);
}
