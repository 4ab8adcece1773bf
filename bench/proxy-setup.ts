/**
 * The proxy-cache side of the benchmark: a second Pier pair on the run's database — the
 * HTTPS edge in front of a Node origin, both with PIER_PROXY_CACHE on and loopback
 * upstreams allowed — and cache organizations whose upstream is the peer (or the
 * counting proxy in front of it), open to anonymous pulls.
 */
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import type { EdgeBindings } from "../test/support/gateways.js";
import { startEdgeWithOrigin } from "../test/support/origin-process.js";
import { unique } from "../test/support/quay-seed.js";
import type { Cleanup } from "./cleanup.js";
import { NO_GC_TIMER } from "./pier.js";

/** What both runtimes of the proxy pair need on top of the stack's bindings. */
export const PROXY_ENV = { PIER_PROXY_CACHE: "true", PIER_SSRF_ALLOWED_HOSTS: "127.0.0.1" } as const;

/** A cached tag stays fresh for the whole run: no revalidation inside the measurements. */
const EXPIRATION_S = 86_400;

export interface ProxyPier {
  /** The Node origin over HTTP (it fills misses itself). */
  origin: { url: string; host: string; pid: number };
  /** The edge over HTTPS (answers warm pulls, hands misses to the origin). */
  edge: { url: string; host: string };
}

/** Starts the edge and origin with the proxy cache on; both stop with `cleanup`. */
export async function startProxyPier(cleanup: Cleanup, bindings: EdgeBindings, signingKey: string): Promise<ProxyPier> {
  const { edge, origin } = await startEdgeWithOrigin(bindings, {
    origin: { ...PROXY_ENV, ...NO_GC_TIMER },
    edge: { ...PROXY_ENV, PIER_SIGNING_KEY: signingKey },
  });
  cleanup.add("proxy-cache origin", () => origin.close());
  cleanup.add("proxy-cache edge", () => edge.close());
  cleanup.claimSignals();
  return { origin: { url: origin.url, host: new URL(origin.url).host, pid: origin.pid }, edge: { url: edge.url, host: edge.host } };
}

/**
 * Creates an organization caching `upstream` (`host:port`, plain HTTP) as its
 * proxycacheconfig row, with anonymous pulls on; resolves with its name.
 */
export async function createCacheOrganization(bindings: EdgeBindings, upstream: string, prefix: string): Promise<string> {
  const name = unique(prefix);
  const sql = nodePostgresSql(bindings.DATABASE_URL);
  try {
    const { rows } = await sql.query<{ id: number }>(
      `INSERT INTO "user" (uuid, username, email, verified, organization, robot, invoice_email, invalid_login_attempts,
         last_invalid_login, removed_tag_expiration_s, enabled, creation_date)
       VALUES ($1, $2, $3, true, true, false, false, 0, now(), 1209600, true, now()) RETURNING id`,
      [crypto.randomUUID(), name, `${name}@bench.test`],
    );
    const id = rows[0]!.id;
    await sql.query(
      `INSERT INTO proxycacheconfig (organization_id, creation_date, upstream_registry, expiration_s, insecure) VALUES ($1, now(), $2, $3, true)`,
      [id, upstream, EXPIRATION_S],
    );
    await sql.query(`INSERT INTO pier.proxy_cache_option (organization_id, anonymous_pulls) VALUES ($1, true)`, [id]);
    return name;
  } finally {
    await sql.close();
  }
}
