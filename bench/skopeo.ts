/**
 * skopeo run hermetically (no host credentials, mirrors or policy; its temp files in
 * the run's own directory), for pushing the benchmark images and timing pulls.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Cleanup } from "./cleanup.js";

const run = promisify(execFile);
const TIMEOUT_MS = 300_000;

export interface Skopeo {
  /** A directory inside the run's work dir (removed with it). */
  dir: string;
  /** `skopeo copy` from an OCI layout to a registry (plain HTTP or self-signed HTTPS); resolves with the pushed manifest digest. */
  push(source: string, destination: string, credentials?: string): Promise<string>;
  /** `skopeo copy docker://… dir:…` into a fresh directory (removed afterwards); resolves with the wall time in ms. */
  timedPull(source: string): Promise<number>;
}

export async function createSkopeo(cleanup: Cleanup): Promise<Skopeo> {
  const work = await mkdtemp(join(tmpdir(), "pier-bench-skopeo-"));
  cleanup.add("skopeo work dir", () => rm(work, { recursive: true, force: true }));
  const home = join(work, "home");
  await mkdir(home);
  await writeFile(join(work, "auth.json"), JSON.stringify({ auths: {} }));
  await writeFile(join(work, "policy.json"), JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
  await writeFile(join(work, "registries.conf"), "unqualified-search-registries = []\n");
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_RUNTIME_DIR: home,
    XDG_CONFIG_HOME: home,
    XDG_DATA_HOME: join(home, "data"),
    DOCKER_CONFIG: home,
    REGISTRY_AUTH_FILE: join(work, "auth.json"),
    CONTAINERS_REGISTRIES_CONF: join(work, "registries.conf"),
  };

  async function copy(args: readonly string[]): Promise<void> {
    const argv = ["--policy", join(work, "policy.json"), "--tmpdir", work, "copy", "--authfile", join(work, "auth.json"), ...args];
    try {
      await run("skopeo", argv, { env, timeout: TIMEOUT_MS, maxBuffer: 1 << 20 });
    } catch (error) {
      const { code, killed, stderr } = error as { code?: number | string; killed?: boolean; stderr?: string };
      throw new Error(`skopeo ${argv.join(" ")} failed (${killed ? "timed out" : `exit ${code}`}):\n${stderr ?? ""}`);
    }
  }

  let pulls = 0;
  return {
    dir: work,
    async push(source, destination, credentials) {
      const digestFile = join(work, `push-${++pulls}.digest`);
      const creds = credentials === undefined ? [] : ["--dest-creds", credentials];
      await copy(["--dest-tls-verify=false", ...creds, "--digestfile", digestFile, source, destination]);
      return (await readFile(digestFile, "utf8")).trim();
    },
    async timedPull(source) {
      const target = join(work, `pull-${++pulls}`);
      const started = performance.now();
      try {
        await copy(["--src-tls-verify=false", source, `dir:${target}`]);
        return performance.now() - started;
      } finally {
        await rm(target, { recursive: true, force: true });
      }
    },
  };
}
