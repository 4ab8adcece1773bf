/**
 * Pier as the benchmark runs it: one migrated database made for the run, the local
 * Redis, the verifying S3 server (and the Neon/Upstash gateways for the edge), an
 * organization with two public repositories and a user who may push to them; then
 * the Node origin as a child process and the bundled edge Worker under Miniflare
 * (over HTTP for the load tools, over HTTPS for skopeo).
 */
import { KeyObject } from "node:crypto";
import { s3BlobStore } from "../src/adapters/blob/s3.js";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { createInstanceKey } from "../src/core/auth/service-keys.js";
import { hashPassword } from "../src/core/auth/passwords.js";
import { loadS3Settings } from "../src/core/config.js";
import { systemClock } from "../src/core/ports/clock.js";
import { startEdgeServer } from "../test/support/edge-server.js";
import { startLocalStack, type EdgeBindings } from "../test/support/gateways.js";
import { originEnvFor, startOriginProcess } from "../test/support/origin-process.js";
import { createNamespace, createRepository, unique } from "../test/support/quay-seed.js";
import { REDIS_URL } from "../test/support/services.js";
import type { Cleanup } from "./cleanup.js";
import { descendantsNamed } from "./proc.js";

/** A server under measurement: where it listens and the process whose CPU and memory count. */
export interface Served {
  url: string;
  host: string;
  pid: number;
}

export interface PierSetup {
  bindings: EdgeBindings;
  /** The edge's token signing key (a JWK registered in servicekey), for more edges on the same database. */
  signingKey: string;
  /** The organization holding `small` and `big`. */
  namespace: string;
  /** `user:password` with write permission on both repositories. */
  pushCredentials: string;
  origin: Served;
  /** The edge over plain HTTP (for load tools). */
  edge: Served;
  /** Another edge over HTTPS for real clients (which wait ~10 s on a plain-HTTP workerd). */
  httpsEdge: Served;
}

export const REPOSITORIES = ["small", "big"] as const;

/** Every origin of the run: the GC benchmark (bench/gc-bench.ts) runs its own pass, and an origin's GC timer would take part of its work. */
export const NO_GC_TIMER = { PIER_GARBAGE_COLLECTION: "false" } as const;

async function seed(bindings: EdgeBindings, namespace: string, user: string, password: string): Promise<string> {
  const sql = nodePostgresSql(bindings.DATABASE_URL);
  try {
    // The rows exist up front so the repositories are public (a first push would create them private).
    const target = { sql, blobs: s3BlobStore(loadS3Settings({ ...bindings })!) };
    const orgId = await createNamespace(target, namespace, { organization: true });
    const userId = await createNamespace(target, user);
    await sql.query(`UPDATE "user" SET password_hash = $1 WHERE id = $2`, [await hashPassword(password), userId]);
    for (const name of REPOSITORIES) {
      const repositoryId = await createRepository(target, orgId, name, { visibility: "public" });
      await sql.query(
        `INSERT INTO repositorypermission (user_id, repository_id, role_id) SELECT $1, $2, id FROM role WHERE name = 'write'`,
        [userId, repositoryId],
      );
    }
    // The edge answers /v2/auth itself with a key registered in servicekey.
    const key = await createInstanceKey(sql, systemClock, "pier-bench-edge");
    const jwk = KeyObject.from(key.signing.privateKey as CryptoKey).export({ format: "jwk" });
    return JSON.stringify({ ...jwk, kid: key.signing.kid, alg: key.signing.alg });
  } finally {
    await sql.close();
  }
}

async function startEdge(cleanup: Cleanup, bindings: Record<string, string>, https: boolean): Promise<Served> {
  const before = new Set(await descendantsNamed(process.pid, "workerd"));
  // The token audience and absolute URLs name the host clients use.
  const edge = await startEdgeServer({ https, bindings: (host) => ({ ...bindings, PIER_SERVER_HOSTNAME: host }) });
  cleanup.add(`edge (${https ? "https" : "http"})`, () => edge.close());
  cleanup.claimSignals();
  const started = (await descendantsNamed(process.pid, "workerd")).filter((pid) => !before.has(pid));
  if (started.length !== 1) throw new Error(`expected one new workerd process under ${process.pid}, found ${started.length}`);
  return { url: edge.url, host: edge.host, pid: started[0]! };
}

export async function startPier(cleanup: Cleanup): Promise<PierSetup> {
  const stack = await startLocalStack("bench");
  cleanup.add("database, gateways and S3 root", () => stack.close());
  const namespace = unique("bench");
  const user = unique("pusher");
  const password = `pw-${crypto.randomUUID()}`;
  const signingKey = await seed(stack.bindings, namespace, user, password);

  const origin = await startOriginProcess({ ...originEnvFor(stack.bindings, REDIS_URL), ...NO_GC_TIMER });
  cleanup.add("origin", () => origin.close());
  // Both edges now: every runtime loads the code as the working tree has it at the start of the run.
  const edgeBindings = { ...stack.bindings, PIER_SIGNING_KEY: signingKey };
  const edge = await startEdge(cleanup, edgeBindings, false);
  const httpsEdge = await startEdge(cleanup, edgeBindings, true);
  return {
    bindings: stack.bindings,
    signingKey,
    namespace,
    pushCredentials: `${user}:${password}`,
    origin: { url: origin.url, host: new URL(origin.url).host, pid: origin.pid },
    edge,
    httpsEdge,
  };
}
