/**
 * The request benchmarks: each registry endpoint of a pull, against each server, at
 * fixed concurrency and duration. Servers take turns endpoint by endpoint so a drift
 * in the machine's background load hits all of them alike.
 */
import { MediaType } from "../src/core/model/media-types.js";
import type { LayoutImage } from "../test/support/oci-layout.js";
import { measureLoad, type LoadResult, type LoadSettings } from "./load.js";

/** Server names as the report prints them (and finds the rows its targets need). */
export const SERVER = {
  peer: "CNCF Distribution",
  node: "Pier Node origin",
  nodeWorkers: "Pier Node origin, default workers",
  workerd: "Pier edge (workerd)",
} as const;

/** The row the throughput and CPU targets are about. */
export const MANIFEST_BY_TAG = "GET manifest by tag";

export interface Server {
  name: string;
  /** Pier answers anonymous `/v2/` with its bearer challenge and blob GETs with a redirect. */
  kind: "pier" | "peer";
  url: string;
  pid: number;
}

export interface Endpoint {
  label: string;
  method: "GET" | "HEAD";
  path: string;
  headers: Record<string, string>;
  expect: Record<Server["kind"], number>;
  /** What a response must carry besides its status (null when it does). */
  check(response: Response): string | null;
}

export interface RequestRow {
  endpoint: Endpoint;
  server: Server;
  /** Status of the warm-up request. */
  status: number;
  /** Why the warm-up response was not what a pull gets; the row is still measured. */
  problem: string | null;
  result: LoadResult | null;
  error: string | null;
}

const ACCEPT = { accept: [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList].join(", ") };

const header = (name: string, expected: string) => (response: Response) => {
  const actual = response.headers.get(name);
  return actual === expected ? null : `${name}: ${actual ?? "(none)"}, expected ${expected}`;
};

/** Endpoints of an anonymous pull of `<repository>:v1` holding `image` (its first layer stands for blobs). */
export function pullEndpoints(repository: string, image: LayoutImage): Endpoint[] {
  const manifest = `/v2/${repository}/manifests`;
  const layer = image.layers[0]!;
  const digestHeader = header("docker-content-digest", image.manifest.digest);
  const same = (status: number) => ({ pier: status, peer: status });
  return [
    { label: "GET /v2/", method: "GET", path: "/v2/", headers: {}, expect: { pier: 401, peer: 200 }, check: () => null },
    { label: MANIFEST_BY_TAG, method: "GET", path: `${manifest}/v1`, headers: ACCEPT, expect: same(200), check: digestHeader },
    { label: "HEAD manifest by tag", method: "HEAD", path: `${manifest}/v1`, headers: ACCEPT, expect: same(200), check: digestHeader },
    {
      label: "GET manifest by digest",
      method: "GET",
      path: `${manifest}/${image.manifest.digest}`,
      headers: ACCEPT,
      expect: same(200),
      check: digestHeader,
    },
    {
      label: "HEAD manifest by digest",
      method: "HEAD",
      path: `${manifest}/${image.manifest.digest}`,
      headers: ACCEPT,
      expect: same(200),
      check: digestHeader,
    },
    {
      label: `HEAD blob (${layer.size} B layer)`,
      method: "HEAD",
      path: `/v2/${repository}/blobs/${layer.digest}`,
      headers: {},
      expect: same(200),
      check: header("content-length", String(layer.size)),
    },
    {
      label: `GET blob (Pier: 302 to S3; peer: ${layer.size} B body)`,
      method: "GET",
      path: `/v2/${repository}/blobs/${layer.digest}`,
      headers: {},
      expect: { pier: 302, peer: 200 },
      check: (response) => (response.status === 302 && !response.headers.get("location") ? "302 without Location" : null),
    },
    { label: "GET tags/list", method: "GET", path: `/v2/${repository}/tags/list`, headers: {}, expect: same(200), check: () => null },
  ];
}

/** One request (which also fills the caches): its status, and what is wrong with it if anything. */
async function warm(server: Server, endpoint: Endpoint): Promise<{ status: number; problem: string | null }> {
  const response = await fetch(`${server.url}${endpoint.path}`, { method: endpoint.method, headers: endpoint.headers, redirect: "manual" });
  const body = await response.text();
  const expected = endpoint.expect[server.kind];
  if (response.status !== expected)
    return { status: response.status, problem: `status ${response.status}, expected ${expected}: ${body.slice(0, 300)}` };
  return { status: response.status, problem: endpoint.check(response) };
}

export async function runRequestBenchmarks(
  servers: readonly Server[],
  endpoints: readonly Endpoint[],
  settings: LoadSettings,
  cores: number,
  log: (line: string) => void,
): Promise<RequestRow[]> {
  const rows: RequestRow[] = [];
  for (const endpoint of endpoints) {
    for (const server of servers) {
      const { status, problem } = await warm(server, endpoint);
      const request = {
        method: endpoint.method,
        url: `${server.url}${endpoint.path}`,
        headers: endpoint.headers,
        expectStatus: endpoint.expect[server.kind],
      };
      let result: LoadResult | null = null;
      let error: string | null = null;
      try {
        result = await measureLoad(server.pid, request, settings, cores);
      } catch (failure) {
        error = failure instanceof Error ? failure.message : String(failure);
      }
      rows.push({ endpoint, server, status, problem, result, error });
      const summary = result ? `${result.rps.toFixed(0)} req/s, ${result.serverCpuMsPerRequest.toFixed(3)} CPU ms/req` : `failed: ${error}`;
      log(`${endpoint.label} · ${server.name}: ${summary}${problem ? ` (warm-up: ${problem})` : ""}`);
    }
  }
  return rows;
}
