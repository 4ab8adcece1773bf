/**
 * Geo-replication on the edge: two storage locations (key spaces of the S3 server under
 * their own storage paths) from PIER_STORAGE_LOCATIONS; the blob redirect goes to the
 * location nearest the client by `request.cf` and the region map, then by preference, and
 * to any location holding the blob when the nearest has no placement yet.
 */
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/core/config.js";
import type { Registry } from "../../src/core/registry.js";
import { blobKey } from "../../src/core/storage-layout.js";
import { ensureStorageLocations } from "../../src/core/storage-locations.js";
import { createApp } from "../../src/http/app.js";
import { edgeRegistry } from "../../workers/edge.js";
import { createNamespace, createRepository, storeImage, unique, type SeededImage } from "../support/quay-seed.js";

const geoEnv = {
  ...env,
  PIER_STORAGE_LOCATIONS: JSON.stringify({
    us: { bucket: env.S3_BUCKET, storagePath: "geo-us" },
    eu: { bucket: env.S3_BUCKET, storagePath: "geo-eu" },
  }),
  PIER_STORAGE_LOCATION: "us",
  PIER_STORAGE_PREFERENCE: "us eu",
  PIER_STORAGE_REGION_MAP: JSON.stringify({ "continent:EU": "eu", "country:JP": "eu" }),
};
const registry: Registry = edgeRegistry(geoEnv);
let repo: string;
let image: SeededImage;

beforeAll(async () => {
  const target = { sql: registry.sql, blobs: registry.locations!.get("us")!.blobs, location: "us" };
  // As the origin does at startup.
  await ensureStorageLocations(registry.sql, registry.config);
  const namespace = unique("georep");
  const namespaceId = await createNamespace(target, namespace);
  const repositoryId = await createRepository(target, namespaceId, "app", { visibility: "public" });
  image = await storeImage(target, repositoryId, { layerSizes: [3000, 4000] });
  repo = `${namespace}/app`;
  // The first layer is replicated to eu (object, then placement); the second is not yet.
  const layer = image.layers[0]!;
  const read = await target.blobs.get(blobKey(layer.digest)!);
  await registry.locations!.get("eu")!.blobs.put(blobKey(layer.digest)!, read!.body, read!.size);
  await registry.sql.query(
    `INSERT INTO imagestorageplacement (storage_id, location_id) SELECT $1, id FROM imagestoragelocation WHERE name = 'eu'`,
    [layer.storageId],
  );
}, 60_000);

async function redirectFor(digest: string, cf?: { country?: string; continent?: string }): Promise<URL> {
  const request = new Request(`https://registry.example/v2/${repo}/blobs/${digest}`, { redirect: "manual", ...(cf ? { cf } : {}) });
  const response = await createApp(registry).fetch(request);
  expect(response.status).toBe(302);
  return new URL(response.headers.get("location")!);
}

const pathIn = (location: string, digest: string) => `/${env.S3_BUCKET}/geo-${location}/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;

describe("geo-replication on the edge", () => {
  it("redirects a client in Europe to the eu location, by continent or by country", async () => {
    const digest = image.layers[0]!.digest;
    expect((await redirectFor(digest, { country: "DE", continent: "EU" })).pathname).toBe(pathIn("eu", digest));
    expect((await redirectFor(digest, { country: "JP", continent: "AS" })).pathname).toBe(pathIn("eu", digest));
    const url = await redirectFor(digest, { country: "FR", continent: "EU" });
    const object = await fetch(url);
    expect(object.status).toBe(200);
    expect((await object.arrayBuffer()).byteLength).toBe(3000);
  });

  it("follows the preference for unmapped regions and requests without cf", async () => {
    const digest = image.layers[0]!.digest;
    expect((await redirectFor(digest, { country: "BR", continent: "SA" })).pathname).toBe(pathIn("us", digest));
    expect((await redirectFor(digest)).pathname).toBe(pathIn("us", digest));
  });

  it("serves a blob not yet replicated to the nearest location from the one that has it", async () => {
    const digest = image.layers[1]!.digest;
    const url = await redirectFor(digest, { country: "DE", continent: "EU" });
    expect(url.pathname).toBe(pathIn("us", digest));
    expect((await fetch(url)).status).toBe(200);
  });

  it("signs each location's redirect its own way: Akamai in front of one, plain S3 for the other", async () => {
    const cdnEnv = {
      ...geoEnv,
      PIER_STORAGE_LOCATIONS: JSON.stringify({
        us: { bucket: env.S3_BUCKET, storagePath: "geo-us" },
        eu: { bucket: env.S3_BUCKET, storagePath: "geo-eu", akamaiDomain: "eu.cdn.example", akamaiSharedSecret: "0a1b2c3d" },
      }),
    };
    const app = createApp({ ...edgeRegistry(cdnEnv), sql: registry.sql }, { clientAddressFrom: "platform" });
    const digest = image.layers[0]!.digest;
    const get = (cf: { continent: string }) =>
      app.fetch(
        new Request(`https://registry.example/v2/${repo}/blobs/${digest}`, {
          redirect: "manual",
          cf,
          headers: { "cf-connecting-ip": "203.0.113.9" },
        }),
      );
    const eu = new URL((await get({ continent: "EU" })).headers.get("location")!);
    expect(eu.host).toBe("eu.cdn.example");
    expect(eu.pathname).toBe(pathIn("eu", digest));
    expect(eu.searchParams.get("akamai_signature")).toMatch(/^exp=\d+~hmac=[0-9a-f]{64}$/);
    const us = new URL((await get({ continent: "NA" })).headers.get("location")!);
    expect(us.origin).toBe(new URL(env.S3_ENDPOINT!).origin);
    expect(us.searchParams.get("akamai_signature")).toBeNull();
  });

  it("refuses a directory location and an unknown location name at startup", () => {
    expect(() =>
      edgeRegistry({
        ...geoEnv,
        PIER_STORAGE_LOCATIONS: JSON.stringify({ us: { dir: "/srv" } }),
        PIER_STORAGE_PREFERENCE: "us",
        PIER_STORAGE_REGION_MAP: "{}",
      }),
    ).toThrow(/storage location "us" is a directory/);
    expect(() => edgeRegistry({ ...geoEnv, PIER_STORAGE_PREFERENCE: "us asia" })).toThrow(ConfigError);
    expect(() => edgeRegistry({ ...geoEnv, PIER_STORAGE_PREFERENCE: "us asia" })).toThrow(/"asia"/);
  });
});
