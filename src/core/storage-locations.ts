/**
 * Storage locations (`imagestoragelocation`): Quay ensures a row for every configured
 * storage at startup, and blob placements point at it.
 */
import type { RegistryConfig } from "./config.js";
import type { BlobStore } from "./ports/blob-store.js";
import type { RedirectSigner } from "./ports/redirect-signer.js";
import type { Queryable } from "./ports/sql.js";
import { readOrder, type ClientRegion } from "./storage-topology.js";

/** Id of the named location, inserting the row when absent. */
export async function ensureStorageLocation(sql: Queryable, name: string): Promise<number> {
  await sql.query(
    `INSERT INTO imagestoragelocation (name) SELECT $1::varchar WHERE NOT EXISTS (SELECT 1 FROM imagestoragelocation WHERE name = $1::varchar)`,
    [name],
  );
  const { rows } = await sql.query<{ id: number }>(`SELECT id FROM imagestoragelocation WHERE name = $1`, [name]);
  return rows[0]!.id;
}

/** One storage location's object store and, where clients fetch from it directly, its redirect signer. */
export interface LocationStore {
  blobs: BlobStore;
  signer: RedirectSigner | null;
}

type WithLocations = {
  config: RegistryConfig;
  blobs: BlobStore;
  signer: RedirectSigner | null;
  locations?: ReadonlyMap<string, LocationStore>;
};

/** The registry's locations by name, the writer's first (one entry when it configures only that). */
export function locationStores(registry: WithLocations): ReadonlyMap<string, LocationStore> {
  return registry.locations ?? new Map([[registry.config.storageLocation, { blobs: registry.blobs, signer: registry.signer }]]);
}

/** The store of location `name`, or null when this runtime does not reach it. */
export function storeAt(registry: WithLocations, name: string): LocationStore | null {
  return locationStores(registry).get(name) ?? null;
}

/** Ensures an `imagestoragelocation` row for every configured location (Quay does it at boot). */
export async function ensureStorageLocations(sql: Queryable, config: RegistryConfig): Promise<void> {
  for (const name of config.storage.locations) await ensureStorageLocation(sql, name);
}

/**
 * The stores to read a blob placed at `placements` from, best first (readOrder): the
 * writer's store alone when no placement is in a location this runtime reaches (or the
 * placements are unknown, as in answers cached before they were recorded).
 */
export function readStores(
  registry: WithLocations,
  placements: readonly string[] | undefined,
  region?: ClientRegion | null,
): LocationStore[] {
  const stores = locationStores(registry);
  const names = placements === undefined ? [] : readOrder(registry.config.storage, placements, region);
  const found = names.flatMap((name) => stores.get(name) ?? []);
  return found.length > 0 ? found : [stores.get(registry.config.storageLocation) ?? { blobs: registry.blobs, signer: registry.signer }];
}
