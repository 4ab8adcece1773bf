/**
 * `npx pier` from a checkout: help, version with the commit, refusals, and `pier start`
 * serving in the same process, so a signal sent to `pier` stops the registry cleanly.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-cli-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function pier(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run("npx", ["pier", ...args], { timeout: 60_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number; stdout: string; stderr: string };
    return { code, out: stdout, err: stderr };
  }
}

describe("the pier command", () => {
  it("prints help with every subcommand, and its version with the commit", async () => {
    const help = await pier(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["start", "origin", "dev", "migrate", "user", "signing-key", "job", "cert"])
      expect(help.out).toMatch(new RegExp(`^  ${command} `, "m"));
    const commit = (await run("git", ["rev-parse", "--short=12", "HEAD"])).stdout.trim();
    const version = await pier(["--version"]);
    expect(version.out.trim()).toMatch(new RegExp(`^pier \\d+\\.\\d+\\.\\d+ \\(commit ${commit}, node v\\d+`));
  }, 120_000);

  it("refuses an unknown command and passes arguments on to a subcommand", async () => {
    const unknown = await pier(["launch"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('pier: unknown command "launch"');
    const user = await pier(["user"]);
    expect(user.code).toBe(2);
    expect(user.err).toMatch(/^usage: npm run user -- create/);
  }, 120_000);

  it("runs the registry in its own process: pier start, then SIGTERM to pier stops it", async () => {
    // As an installed bin runs: the script itself, through its shebang (npx would add a process).
    const child = spawn("./scripts/pier.mjs", ["start"], {
      env: { ...process.env, PIER_DATA_DIR: join(work, "data"), PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    for (let waited = 0; !/Pier registry ready at http:\/\/127\.0\.0\.1:(\d+)/.test(output) && waited < 60_000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const port = /Pier registry ready at http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1];
    expect(port, output).toBeDefined();
    expect((await fetch(`http://127.0.0.1:${port}/v2/`)).status).toBe(401);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toContain("Pier stopped");
  }, 120_000);
});
