/**
 * The peer: CNCF Distribution (`docker-registry serve`) with filesystem storage in a
 * temp dir, no auth, on a free port, logging only errors (Pier logs no access lines either).
 * The launcher is shared with the tests (test/support/upstream-registry.ts).
 */
import { startUpstreamRegistry, type UpstreamRegistryProcess } from "../test/support/upstream-registry.js";

export type PeerRegistry = UpstreamRegistryProcess;

export function startPeerRegistry(): Promise<PeerRegistry> {
  return startUpstreamRegistry();
}
