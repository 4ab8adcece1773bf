/**
 * The proxy-cache measurements of `npm run bench` (issue 10), in order: a Pier pair with
 * the proxy cache on, cold first pulls through it against the peer, then 10 concurrent
 * first pulls counted at the upstream. A failure stops this part only: the report says
 * where, and the rest of the run goes on.
 */
import type { AccountingSubject } from "./accounting.js";
import type { Cleanup } from "./cleanup.js";
import { startCountingProxy } from "./counting-proxy.js";
import type { PeerRegistry } from "./peer.js";
import type { PierSetup } from "./pier.js";
import { createCacheOrganization, startProxyPier } from "./proxy-setup.js";
import { countConcurrentFirstPulls, timeColdPulls, type ProxyTarget } from "./proxy-pulls.js";
import type { ProxyResults } from "./report-proxy.js";
import type { Skopeo } from "./skopeo.js";

/** Cold runs (each pulls ~200 MB of new content per Pier target). */
const MAX_COLD_RUNS = 3;
const FANOUT_CLIENTS = 10;
const FANOUT_LAYER_SIZES = [20_000_000, 20_000_000, 20_000_000];

export interface ProxyBenchInput {
  cleanup: Cleanup;
  skopeo: Skopeo;
  peer: PeerRegistry;
  pier: PierSetup;
  pullRuns: number;
  bigImageBytes: number;
  log: (line: string) => void;
}

export async function runProxyBenchmarks(input: ProxyBenchInput): Promise<{ results: ProxyResults; cached: AccountingSubject | null }> {
  const { cleanup, skopeo, peer, pier, log } = input;
  const runs = Math.min(input.pullRuns, MAX_COLD_RUNS);
  const results: ProxyResults = {
    cold: [],
    runs,
    bigImageBytes: input.bigImageBytes,
    fanout: [],
    fanoutLayerSizes: FANOUT_LAYER_SIZES,
    error: null,
  };
  let cached: AccountingSubject | null = null;
  try {
    log("proxy cache: starting an edge and an origin with PIER_PROXY_CACHE on");
    const proxy = await startProxyPier(cleanup, pier.bindings, pier.signingKey);
    const org = await createCacheOrganization(pier.bindings, peer.host, "cache");
    const through = (prefix: string): ProxyTarget[] => [
      { name: "Pier Node origin", note: "HTTP; fills from the upstream itself", host: proxy.origin.host, prefix },
      { name: "Pier edge (workerd)", note: "HTTPS (self-signed); hands the miss to the origin", host: proxy.edge.host, prefix },
    ];
    const straight: ProxyTarget = {
      name: "CNCF Distribution (peer), straight",
      note: "HTTP; the upstream itself",
      host: peer.host,
      prefix: "",
    };
    const cold = await timeColdPulls(skopeo, straight, through(`${org}/`), pier.namespace, runs, log);
    results.cold = cold.rows;
    cached = cold.cached;

    const counting = await startCountingProxy(peer.host);
    cleanup.add("counting proxy", () => counting.close());
    const countedOrg = await createCacheOrganization(pier.bindings, counting.host, "counted");
    log(`proxy cache: ${FANOUT_CLIENTS} concurrent first pulls, upstream requests counted at ${counting.host}`);
    results.fanout = await countConcurrentFirstPulls(
      skopeo,
      peer.host,
      counting,
      through(`${countedOrg}/`),
      pier.namespace,
      FANOUT_CLIENTS,
      FANOUT_LAYER_SIZES,
      log,
    );
  } catch (error) {
    results.error = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    log(`proxy cache measurements stopped: ${results.error}`);
  }
  return { results, cached };
}
