/**
 * A fresh, migrated test database behind the full gateway stack, for the workerd
 * test project.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGatewayStack, type EdgeBindings } from "../../scripts/gateways/stack.js";
import { nodePostgresSql } from "../../src/adapters/sql/node-postgres.js";
import { migrate } from "../../src/db/migrate.js";
import { createTestDatabase, REDIS_URL } from "./services.js";

export type { EdgeBindings };

declare module "vitest" {
  export interface ProvidedContext {
    edgeBindings: EdgeBindings;
  }
}

export interface LocalStack {
  /** The Worker's bindings, plus a second database for the job tests. */
  bindings: EdgeBindings & { JOBS_DATABASE_URL: string };
  close(): Promise<void>;
}

async function migratedDatabase(label: string) {
  const database = await createTestDatabase(label);
  const sql = nodePostgresSql(database.url);
  await migrate(sql);
  await sql.close();
  return database;
}

export async function startLocalStack(label: string): Promise<LocalStack> {
  const database = await migratedDatabase(label);
  // Jobs (GC above all) work on the whole database: their tests get one of their own.
  const jobsDatabase = await migratedDatabase(`${label}jobs`);
  const s3Root = await mkdtemp(join(tmpdir(), "pier-s3-"));
  const stack = await startGatewayStack({ databaseUrl: database.url, redisUrl: REDIS_URL, s3Root });
  return {
    bindings: { ...stack.bindings, JOBS_DATABASE_URL: jobsDatabase.url },
    async close() {
      await stack.close();
      await Promise.all([database.drop(), jobsDatabase.drop()]);
      await rm(s3Root, { recursive: true, force: true });
    },
  };
}
