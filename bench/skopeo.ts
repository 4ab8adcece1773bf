/**
 * skopeo run hermetically (no host credentials, mirrors or policy; its temp files in
 * the run's own directory), for pushing the benchmark images and timing pulls.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hermeticClients } from "../test/support/hermetic-clients.js";
import type { Cleanup } from "./cleanup.js";

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
  const clients = await hermeticClients(work);

  async function copy(args: readonly string[]): Promise<void> {
    await clients.skopeo("copy", args, { timeoutMs: TIMEOUT_MS });
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
