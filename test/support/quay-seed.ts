/**
 * Writes registry content the way Quay does — rows in Quay's tables, bytes under
 * Quay's keys — so read-path tests serve what a Quay installation would have stored.
 * Runtime-neutral (ports and Web Crypto only): used from Node and inside workerd.
 */
import type { BlobStore } from "../../src/core/ports/blob-store.js";
import type { Queryable } from "../../src/core/ports/sql.js";
import { MediaType } from "../../src/core/model/media-types.js";
import { blobKey } from "../../src/core/storage-layout.js";

export interface SeedTarget {
  sql: Queryable;
  blobs: BlobStore;
  /** `imagestoragelocation.name` of the store (created when absent). */
  location?: string;
}

const encoder = new TextEncoder();

export async function digestOf(bytes: Uint8Array, algorithm: "sha256" | "sha512" = "sha256"): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest(algorithm === "sha256" ? "SHA-256" : "SHA-512", bytes as BufferSource));
  return `${algorithm}:${Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A short unique suffix for names in shared databases. */
export function unique(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
}

export async function createNamespace(target: SeedTarget, username: string, options: { organization?: boolean } = {}): Promise<number> {
  const { rows } = await target.sql.query<{ id: number }>(
    `INSERT INTO "user" (uuid, username, email, verified, organization, robot, invoice_email, invalid_login_attempts,
       last_invalid_login, removed_tag_expiration_s, enabled, creation_date)
     VALUES ($1, $2, $3, true, $4, false, false, 0, now(), 1209600, true, now()) RETURNING id`,
    [crypto.randomUUID(), username, `${username}@seed.test`, options.organization ?? false],
  );
  return rows[0]!.id;
}

export interface RepositoryOptions {
  visibility?: "public" | "private";
  /** Quay's RepositoryState: 0 normal, 1 read-only, 2 mirror, 3 marked for deletion. */
  state?: number;
  kind?: "image" | "application";
}

export async function createRepository(
  target: SeedTarget,
  namespaceId: number,
  name: string,
  options: RepositoryOptions = {},
): Promise<number> {
  const { rows } = await target.sql.query<{ id: number }>(
    `INSERT INTO repository (namespace_user_id, name, visibility_id, kind_id, description, badge_token, trust_enabled, state)
     SELECT $1, $2, v.id, k.id, '', $3, false, $4 FROM visibility v, repositorykind k WHERE v.name = $5 AND k.name = $6
     RETURNING id`,
    [namespaceId, name, crypto.randomUUID(), options.state ?? 0, options.visibility ?? "public", options.kind ?? "image"],
  );
  return rows[0]!.id;
}

async function locationId(target: SeedTarget): Promise<number> {
  const name = target.location ?? "default";
  await target.sql.query(
    `INSERT INTO imagestoragelocation (name) SELECT $1::varchar WHERE NOT EXISTS (SELECT 1 FROM imagestoragelocation WHERE name = $1::varchar)`,
    [name],
  );
  const { rows } = await target.sql.query<{ id: number }>(`SELECT id FROM imagestoragelocation WHERE name = $1`, [name]);
  return rows[0]!.id;
}

export interface StoredBlob {
  digest: string;
  size: number;
  storageId: number;
}

/** Stores bytes under Quay's key with an `imagestorage` row and a placement. */
export async function storeBlob(
  target: SeedTarget,
  bytes: Uint8Array,
  options: { placed?: boolean; algorithm?: "sha256" | "sha512" } = {},
): Promise<StoredBlob> {
  const digest = await digestOf(bytes, options.algorithm);
  await target.blobs.put(blobKey(digest)!, new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), bytes.byteLength);
  const { rows } = await target.sql.query<{ id: number }>(
    `INSERT INTO imagestorage (uuid, image_size, uncompressed_size, uploading, cas_path, content_checksum)
     VALUES ($1, $2, $2, false, true, $3) RETURNING id`,
    [crypto.randomUUID(), bytes.byteLength, digest],
  );
  const storageId = rows[0]!.id;
  if (options.placed ?? true) {
    await target.sql.query(`INSERT INTO imagestorageplacement (storage_id, location_id) VALUES ($1, $2)`, [
      storageId,
      await locationId(target),
    ]);
  }
  return { digest, size: bytes.byteLength, storageId };
}

export interface StoredManifest {
  id: number;
  digest: string;
  text: string;
  mediaType: string;
}

export interface ManifestOptions {
  /** Storages the manifest references (config and layers): manifestblob rows. */
  blobs?: readonly StoredBlob[];
  /** Child manifests of a list/index: manifestchild rows. */
  children?: readonly StoredManifest[];
  subject?: string;
  artifactType?: string;
}

/** A `manifest` row (per repository) with its manifestblob and manifestchild rows. */
export async function storeManifest(
  target: SeedTarget,
  repositoryId: number,
  text: string,
  mediaType: string,
  options: ManifestOptions = {},
): Promise<StoredManifest> {
  const digest = await digestOf(encoder.encode(text));
  const parsed = JSON.parse(text) as { config?: { mediaType?: string }; layers?: { size?: number }[] };
  const { rows } = await target.sql.query<{ id: number }>(
    `INSERT INTO manifest (repository_id, digest, media_type_id, manifest_bytes, config_media_type, layers_compressed_size,
       subject, subject_backfilled, artifact_type, artifact_type_backfilled)
     SELECT $1, $2, mt.id, $3, $4, $5, $6, true, $7, true FROM mediatype mt WHERE mt.name = $8
     RETURNING id`,
    [
      repositoryId,
      digest,
      text,
      parsed.config?.mediaType ?? null,
      parsed.layers ? parsed.layers.reduce((sum, l) => sum + (l.size ?? 0), 0) : null,
      options.subject ?? null,
      options.artifactType ?? null,
      mediaType,
    ],
  );
  const id = rows[0]!.id;
  for (const blob of options.blobs ?? []) {
    await target.sql.query(`INSERT INTO manifestblob (repository_id, manifest_id, blob_id) VALUES ($1, $2, $3)`, [
      repositoryId,
      id,
      blob.storageId,
    ]);
  }
  for (const child of options.children ?? []) {
    await target.sql.query(`INSERT INTO manifestchild (repository_id, manifest_id, child_manifest_id) VALUES ($1, $2, $3)`, [
      repositoryId,
      id,
      child.id,
    ]);
  }
  return { id, digest, text, mediaType };
}

export interface TagOptions {
  startMs?: number;
  endMs?: number | null;
  hidden?: boolean;
}

/** A `tag` row; Quay ends a tag's life by setting `lifetime_end_ms`, never by deleting it. */
export async function tagManifest(
  target: SeedTarget,
  repositoryId: number,
  name: string,
  manifestId: number,
  options: TagOptions = {},
): Promise<number> {
  const { rows } = await target.sql.query<{ id: number }>(
    `INSERT INTO tag (name, repository_id, manifest_id, lifetime_start_ms, lifetime_end_ms, immutable, hidden, reversion, tag_kind_id)
     SELECT $1, $2, $3, $4, $5, false, $6, false, k.id FROM tagkind k WHERE k.name = 'tag' RETURNING id`,
    [name, repositoryId, manifestId, options.startMs ?? Date.now() - 1000, options.endMs ?? null, options.hidden ?? false],
  );
  return rows[0]!.id;
}

export interface Platform {
  os: string;
  architecture: string;
}

export interface SeededImage {
  manifest: StoredManifest;
  config: StoredBlob;
  layers: StoredBlob[];
}

export function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  return bytes;
}

/** A one-platform image (OCI or Docker schema2) with random layers, stored and linked. */
export async function storeImage(
  target: SeedTarget,
  repositoryId: number,
  options: { format?: "oci" | "docker"; layerSizes?: number[]; platform?: Platform } = {},
): Promise<SeededImage> {
  const docker = options.format === "docker";
  const platform = options.platform ?? { os: "linux", architecture: "amd64" };
  const layers: StoredBlob[] = [];
  for (const size of options.layerSizes ?? [1024, 2048]) layers.push(await storeBlob(target, randomBytes(size)));
  const configJson = JSON.stringify({
    ...platform,
    config: {},
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
  });
  const config = await storeBlob(target, encoder.encode(configJson));
  const layerType = docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip";
  const mediaType = docker ? MediaType.dockerManifest : MediaType.ociManifest;
  const text = JSON.stringify(
    {
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
        digest: config.digest,
        size: config.size,
      },
      layers: layers.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.size })),
    },
    null,
    3,
  );
  const manifest = await storeManifest(target, repositoryId, text, mediaType, { blobs: [config, ...layers] });
  return { manifest, config, layers };
}

/** A list/index over the given images, with their platforms. */
export async function storeIndex(
  target: SeedTarget,
  repositoryId: number,
  images: readonly { image: SeededImage; platform: Platform }[],
  options: { format?: "oci" | "docker" } = {},
): Promise<StoredManifest> {
  const mediaType = options.format === "docker" ? MediaType.dockerManifestList : MediaType.ociIndex;
  const text = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    manifests: images.map(({ image, platform }) => ({
      mediaType: image.manifest.mediaType,
      digest: image.manifest.digest,
      size: encoder.encode(image.manifest.text).byteLength,
      platform,
    })),
  });
  return storeManifest(target, repositoryId, text, mediaType, { children: images.map((i) => i.image.manifest) });
}
