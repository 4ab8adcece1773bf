/**
 * Every storage location of PIER_STORAGE_LOCATIONS as a store (and redirect signer),
 * the writer's first — or the single store of S3_* / PIER_STORAGE_DIR when it is unset.
 * Shared by the edge (S3 only) and the origin.
 */
import { ConfigError, loadS3Settings, type ConfigSource, type RegistryConfig } from "../src/core/config.js";
import type { BlobStore } from "../src/core/ports/blob-store.js";
import type { Clock } from "../src/core/ports/clock.js";
import type { LocationStore } from "../src/core/storage-locations.js";
import { loadLocationSettings } from "../src/core/storage-topology.js";
import { s3Storage } from "./s3-storage.js";

export interface OpenedStorage extends LocationStore {
  /** Absent with the single store of the older settings (Registry.locations). */
  locations?: ReadonlyMap<string, LocationStore>;
}

/**
 * `directory` makes a filesystem store; null where the runtime has none (the edge), so a
 * directory location is a startup error there.
 */
export function openStorage(
  env: ConfigSource,
  config: RegistryConfig,
  clock: Clock,
  directory: ((root: string) => BlobStore) | null,
  defaultDir = "data/storage",
): OpenedStorage {
  const settings = loadLocationSettings(env);
  const locations = new Map<string, LocationStore>();
  for (const name of config.storage.locations) {
    const entry = settings?.get(name);
    if (entry === undefined) {
      // The single location of the older settings.
      const s3 = loadS3Settings(env);
      if (s3 !== null) locations.set(name, s3Storage(env, s3, clock));
      else if (directory === null) throw new ConfigError("S3_ENDPOINT is required on the edge");
      else locations.set(name, { blobs: directory(env.PIER_STORAGE_DIR?.trim() || defaultDir), signer: null });
    } else if (entry.kind === "s3") {
      locations.set(name, s3Storage(env, entry.s3, clock, entry.akamai));
    } else if (directory === null) {
      throw new ConfigError(`storage location "${name}" is a directory; this runtime reaches only S3 locations`);
    } else {
      locations.set(name, { blobs: directory(entry.dir), signer: null });
    }
  }
  const writer = locations.get(config.storageLocation)!;
  return settings === null ? writer : { ...writer, locations };
}
