/** wrangler.toml must fire every job of the job table, and nothing else. */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { cronOf, jobs } from "../../src/core/jobs/scheduler.js";

describe("wrangler.toml", () => {
  it("has one cron trigger per job", async () => {
    const toml = await readFile("wrangler.toml", "utf8");
    const crons = /^crons\s*=\s*\[(.*)\]$/m.exec(toml)?.[1] ?? "";
    const configured = [...crons.matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort();
    expect(configured).toEqual([...new Set(jobs.map(cronOf))].sort());
  });

  it("pins the entry point and keeps secrets out of [vars]", async () => {
    const toml = await readFile("wrangler.toml", "utf8");
    expect(toml).toMatch(/^main = "workers\/edge\.ts"$/m);
    const vars = toml.slice(toml.indexOf("[vars]"));
    for (const secret of ["DATABASE_URL", "UPSTASH_REDIS_REST_TOKEN", "S3_SECRET_ACCESS_KEY"])
      expect(vars).not.toMatch(new RegExp(`^${secret}\\s*=`, "m"));
  });
});
