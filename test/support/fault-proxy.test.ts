import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.js";
import { POSTGRES_ADMIN_URL } from "./services.js";

describe("fault proxy in front of the real PostgreSQL", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    const url = new URL(POSTGRES_ADMIN_URL);
    proxy = await startFaultProxy({ host: url.hostname, port: Number(url.port || 5432) });
  });
  afterAll(() => proxy.close());

  async function query(): Promise<number> {
    const client = new pg.Client({ connectionString: proxy.urlFor(POSTGRES_ADMIN_URL), connectionTimeoutMillis: 2000 });
    client.on("error", () => {});
    try {
      await client.connect();
      const { rows } = await client.query<{ n: number }>("SELECT 41 + 1 AS n");
      return rows[0]!.n;
    } finally {
      await client.end().catch(() => {});
    }
  }

  it("passes traffic through", async () => {
    expect(await query()).toBe(42);
  });

  it("down: refuses at once, and recovers on pass", async () => {
    proxy.down();
    const started = Date.now();
    await expect(query()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1000);
    proxy.pass();
    expect(await query()).toBe(42);
  });

  it("down: resets connections that were open", async () => {
    const client = new pg.Client({ connectionString: proxy.urlFor(POSTGRES_ADMIN_URL) });
    client.on("error", () => {});
    await client.connect();
    proxy.down();
    await expect(client.query("SELECT 1")).rejects.toThrow();
    proxy.pass();
  });

  it("frozen: holds a query without an answer, then delivers it on pass", async () => {
    const client = new pg.Client({ connectionString: proxy.urlFor(POSTGRES_ADMIN_URL) });
    client.on("error", () => {});
    await client.connect();
    proxy.freeze();
    let settled = false;
    const pending = client.query<{ n: number }>("SELECT 7 AS n").finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 400));
    expect(settled).toBe(false);
    proxy.pass();
    expect((await pending).rows[0]!.n).toBe(7);
    await client.end();
  });
});
