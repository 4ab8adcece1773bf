/**
 * The bundled edge Worker served by Miniflare on a real socket, by default over HTTPS
 * with Miniflare's self-signed certificate: real clients (skopeo, podman) try TLS first
 * and would wait ~10 s on a plain-HTTP workerd (stack-notes.md). Used by the e2e tests
 * and the benchmarks.
 */
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare, type WorkerOptions } from "miniflare";
import { bundleEdgeWorker } from "../../scripts/bundle.js";

export interface EdgeServerOptions {
  /**
   * The Worker's bindings (over wrangler.toml's `[vars]`), or a function of the
   * `host:port` it will serve on, for bindings that name it (PIER_SERVER_HOSTNAME).
   */
  bindings: Record<string, string> | ((host: string) => Record<string, string>);
  /** Default true. */
  https?: boolean;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Bindings that are services (e.g. ORIGIN_MTLS, a network service presenting a client certificate). */
  serviceBindings?: WorkerOptions["serviceBindings"];
  /** Where the Worker's global fetch goes (default: Miniflare's, to the network). */
  outboundService?: WorkerOptions["outboundService"];
}

export interface EdgeServer {
  /** `https://127.0.0.1:PORT` (or `http://`). */
  url: string;
  /** `127.0.0.1:PORT`, as registry clients name the registry. */
  host: string;
  close(): Promise<void>;
}

const HOSTNAME = "127.0.0.1";

/**
 * A port nothing listens on now: the bindings may name the host before workerd binds
 * it (and a test may name it to other processes first, then pass it as `port`).
 * Another process could take it in between; Miniflare then fails loudly.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, HOSTNAME, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Bundles workers/edge.ts and serves it; `close()` stops workerd and removes the bundle. */
export async function startEdgeServer(options: EdgeServerOptions): Promise<EdgeServer> {
  const https = options.https ?? true;
  const port = options.port ?? (await freePort());
  const host = `${HOSTNAME}:${port}`;
  const bindings = typeof options.bindings === "function" ? options.bindings(host) : options.bindings;
  const outDir = await mkdtemp(join(tmpdir(), "pier-edge-"));
  try {
    const bundle = await bundleEdgeWorker(outDir);
    const mf = new Miniflare({
      modules: true,
      scriptPath: bundle.scriptPath,
      // Module names are paths relative to this; the bundle lives outside the project.
      modulesRoot: outDir,
      compatibilityDate: bundle.compatibilityDate,
      compatibilityFlags: bundle.compatibilityFlags,
      bindings: { ...bundle.vars, ...bindings },
      serviceBindings: options.serviceBindings,
      outboundService: options.outboundService,
      host: HOSTNAME,
      port,
      https,
      // The placeholder `cf` object: never fetch Cloudflare's from the network.
      cf: false,
    });
    const ready = await mf.ready.catch(async (error: unknown) => {
      await mf.dispose();
      throw error;
    });
    return {
      url: ready.origin,
      host,
      async close() {
        await mf.dispose();
        await rm(outDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(outDir, { recursive: true, force: true });
    throw error;
  }
}
