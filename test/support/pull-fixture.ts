/**
 * One namespace of content covering what the pull path must tell apart: media types,
 * tag lifetimes, hidden tags, lists and their children, referrers, repository states
 * and kinds, blob membership. Seeded Quay's way (quay-seed.ts), under a unique
 * namespace so test files can share a database.
 */
import { MediaType } from "../../src/core/model/media-types.js";
import {
  createNamespace,
  createRepository,
  randomBytes,
  storeBlob,
  storeImage,
  storeIndex,
  storeManifest,
  tagManifest,
  unique,
  type SeedTarget,
  type SeededImage,
  type StoredBlob,
  type StoredManifest,
} from "./quay-seed.js";

export interface PullFixture {
  namespace: string;
  /** `<ns>/app`: public, the main repository. */
  app: string;
  appId: number;
  /** `<ns>/secret`: private. */
  secret: string;
  /** `<ns>/many`: public, 25 alive tags t00…t24 plus expired and hidden ones. */
  many: string;
  doomed: string;
  frozen: string;
  mirrored: string;
  charts: string;
  other: string;
  oci: SeededImage;
  docker: SeededImage;
  amd64: SeededImage;
  arm64: SeededImage;
  index: StoredManifest;
  dockerAmd64: SeededImage;
  dockerList: StoredManifest;
  schema1: StoredManifest;
  hidden: SeededImage;
  dead: SeededImage;
  otherImage: SeededImage;
  sbom: StoredManifest;
  signature: StoredManifest;
  fallbackReferrer: StoredManifest;
  sha512Blob: StoredBlob;
  unplacedBlob: StoredBlob;
  /** End of tag `soon` (ms). */
  soonEndsAt: number;
}

const HOUR = 3600_000;

export async function seedPullFixture(target: SeedTarget, nowMs: number): Promise<PullFixture> {
  const namespace = unique("pull");
  const ns = await createNamespace(target, namespace, { organization: true });
  const appId = await createRepository(target, ns, "app");
  const past = nowMs - 2 * HOUR;

  const oci = await storeImage(target, appId);
  const docker = await storeImage(target, appId, { format: "docker" });
  const amd64 = await storeImage(target, appId, { platform: { os: "linux", architecture: "amd64" } });
  const arm64 = await storeImage(target, appId, { platform: { os: "linux", architecture: "arm64" } });
  const index = await storeIndex(target, appId, [
    { image: arm64, platform: { os: "linux", architecture: "arm64" } },
    { image: amd64, platform: { os: "linux", architecture: "amd64" } },
  ]);
  const dockerAmd64 = await storeImage(target, appId, { format: "docker" });
  const dockerList = await storeIndex(target, appId, [{ image: dockerAmd64, platform: { os: "linux", architecture: "amd64" } }], {
    format: "docker",
  });
  const schema1Text = JSON.stringify({
    schemaVersion: 1,
    name: `${namespace}/app`,
    tag: "schema1",
    architecture: "amd64",
    fsLayers: [],
    history: [],
  });
  const schema1 = await storeManifest(target, appId, schema1Text, MediaType.dockerSchema1);
  const hidden = await storeImage(target, appId);
  const dead = await storeImage(target, appId);

  await tagManifest(target, appId, "v1", oci.manifest.id);
  await tagManifest(target, appId, "docker", docker.manifest.id);
  await tagManifest(target, appId, "multi", index.id);
  await tagManifest(target, appId, "dlist", dockerList.id);
  await tagManifest(target, appId, "schema1", schema1.id);
  await tagManifest(target, appId, "gone", oci.manifest.id, { startMs: past, endMs: past + HOUR });
  const soonEndsAt = nowMs + 60_000;
  await tagManifest(target, appId, "soon", docker.manifest.id, { endMs: soonEndsAt });
  await tagManifest(target, appId, "secret-tag", hidden.manifest.id, { hidden: true });
  await tagManifest(target, appId, "moved", oci.manifest.id, { startMs: past, endMs: nowMs - 1000 });
  await tagManifest(target, appId, "moved", docker.manifest.id, { startMs: nowMs - 1000 });
  await tagManifest(target, appId, "dead", dead.manifest.id, { startMs: past, endMs: past + 1 });

  // Referrers of the OCI image: an SBOM (explicit artifactType), a signature (config
  // media type only), and one listed only in the fallback tag's index.
  const emptyConfig = await storeBlob(target, new TextEncoder().encode("{}"));
  const subject = {
    mediaType: MediaType.ociManifest,
    digest: oci.manifest.digest,
    size: new TextEncoder().encode(oci.manifest.text).byteLength,
  };
  const sbom = await storeManifest(
    target,
    appId,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: "application/vnd.example.sbom",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: emptyConfig.digest, size: emptyConfig.size },
      layers: [],
      subject,
      annotations: { "org.example.kind": "sbom" },
    }),
    MediaType.ociManifest,
    { blobs: [emptyConfig], subject: oci.manifest.digest, artifactType: "application/vnd.example.sbom" },
  );
  const signature = await storeManifest(
    target,
    appId,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: "application/vnd.example.sig", digest: emptyConfig.digest, size: emptyConfig.size },
      layers: [],
      subject,
    }),
    MediaType.ociManifest,
    { blobs: [emptyConfig], subject: oci.manifest.digest },
  );
  const fallbackReferrer = await storeManifest(
    target,
    appId,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: "application/vnd.example.legacy",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: emptyConfig.digest, size: emptyConfig.size },
      layers: [],
    }),
    MediaType.ociManifest,
    { blobs: [emptyConfig] },
  );
  const fallbackIndex = await storeManifest(
    target,
    appId,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          digest: fallbackReferrer.digest,
          size: new TextEncoder().encode(fallbackReferrer.text).byteLength,
          artifactType: "application/vnd.example.legacy",
        },
        // Already listed through `subject`: must not appear twice.
        {
          mediaType: MediaType.ociManifest,
          digest: sbom.digest,
          size: new TextEncoder().encode(sbom.text).byteLength,
          artifactType: "application/vnd.example.sbom",
        },
      ],
    }),
    MediaType.ociIndex,
  );
  await tagManifest(target, appId, oci.manifest.digest.replace(":", "-"), fallbackIndex.id);

  // A sha512 blob linked by an upload only; a blob whose storage has no placement.
  const sha512Blob = await storeBlob(target, randomBytes(300), { algorithm: "sha512" });
  await target.sql.query(
    `INSERT INTO uploadedblob (repository_id, blob_id, uploaded_at, expires_at) VALUES ($1, $2, now(), now() - interval '1 hour')`,
    [appId, sha512Blob.storageId],
  );
  const unplacedBlob = await storeBlob(target, randomBytes(100), { placed: false });
  await target.sql.query(
    `INSERT INTO uploadedblob (repository_id, blob_id, uploaded_at, expires_at) VALUES ($1, $2, now(), now() + interval '1 hour')`,
    [appId, unplacedBlob.storageId],
  );

  const secretId = await createRepository(target, ns, "secret", { visibility: "private" });
  const secretImage = await storeImage(target, secretId);
  await tagManifest(target, secretId, "v1", secretImage.manifest.id);

  const manyId = await createRepository(target, ns, "many");
  const manyImage = await storeImage(target, manyId, { layerSizes: [10] });
  for (let i = 24; i >= 0; i--) await tagManifest(target, manyId, `t${String(i).padStart(2, "0")}`, manyImage.manifest.id);
  await tagManifest(target, manyId, "t05x-expired", manyImage.manifest.id, { startMs: past, endMs: past + 1 });
  await tagManifest(target, manyId, "t10x-hidden", manyImage.manifest.id, { hidden: true });

  const stateful: Record<string, number> = {};
  for (const [name, state] of [
    ["doomed", 3],
    ["frozen", 1],
    ["mirrored", 2],
  ] as const) {
    const id = await createRepository(target, ns, name, { state });
    const image = await storeImage(target, id, { layerSizes: [10] });
    await tagManifest(target, id, "v1", image.manifest.id);
    stateful[name] = id;
  }
  const chartsId = await createRepository(target, ns, "charts", { kind: "application" });
  await tagManifest(target, chartsId, "v1", (await storeImage(target, chartsId, { layerSizes: [10] })).manifest.id);

  const otherId = await createRepository(target, ns, "other");
  const otherImage = await storeImage(target, otherId, { layerSizes: [64] });
  await tagManifest(target, otherId, "v1", otherImage.manifest.id);

  const full = (repo: string) => `${namespace}/${repo}`;
  return {
    namespace,
    app: full("app"),
    appId,
    secret: full("secret"),
    many: full("many"),
    doomed: full("doomed"),
    frozen: full("frozen"),
    mirrored: full("mirrored"),
    charts: full("charts"),
    other: full("other"),
    oci,
    docker,
    amd64,
    arm64,
    index,
    dockerAmd64,
    dockerList,
    schema1,
    hidden,
    dead,
    otherImage,
    sbom,
    signature,
    fallbackReferrer,
    sha512Blob,
    unplacedBlob,
    soonEndsAt,
  };
}
