/**
 * What every runtime hands the core: configuration plus one adapter per port. The
 * composition roots in workers/ build it; nothing else constructs adapters.
 */
import type { RegistryConfig } from "./config.js";
import type { BlobStore } from "./ports/blob-store.js";
import type { Cache } from "./ports/cache.js";
import type { Clock } from "./ports/clock.js";
import type { Hashing, StreamHashing } from "./ports/hashing.js";
import type { Keys, SigningKey } from "./ports/keys.js";
import type { RedirectSigner } from "./ports/redirect-signer.js";
import type { Sql } from "./ports/sql.js";
import type { LocationStore } from "./storage-locations.js";
import type { Upstream } from "./ports/upstream.js";

export interface Registry {
  config: RegistryConfig;
  sql: Sql;
  cache: Cache;
  blobs: BlobStore;
  /** Null where blobs are streamed through the registry (filesystem, embedded). */
  signer: RedirectSigner | null;
  /**
   * Every storage location this runtime reaches, by `imagestoragelocation` name, the
   * writer's (`config.storageLocation`, whose store is `blobs`) first. Absent: that one
   * location only. Read it through `locationStores` (storage-locations.ts).
   */
  locations?: ReadonlyMap<string, LocationStore>;
  clock: Clock;
  /** Verification keys for registry JWTs (Quay's `servicekey` table). */
  keys: Keys;
  /** Present only in runtimes that issue tokens (origin, embedded). */
  signingKey: SigningKey | null;
  /** Outbound requests to other registries, SSRF-guarded. */
  upstream: Upstream;
  /** Incremental hashes for received blobs; null where the runtime does not receive them (edge). */
  hashing: Hashing | null;
  /** Hashes that verify copies (mirror syncs, replication); every runtime has them. */
  streamHashing: StreamHashing;
}
