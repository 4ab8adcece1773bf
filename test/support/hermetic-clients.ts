/**
 * Real container clients (skopeo, podman) run hermetically: they see nothing of the
 * host's configuration — no credentials, mirrors or signature policy — and keep their
 * temporary files in the given work directory. Failures carry the client's stderr.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface HermeticClients {
  work: string;
  /** The accept-anything signature policy file. */
  policy: string;
  /** The (initially empty) credentials file. */
  authfile: string;
  env: NodeJS.ProcessEnv;
  /** Runs `command argv…` with the hermetic environment; `context()` is appended to a failure's message. */
  run(command: string, argv: readonly string[], options?: { timeoutMs?: number; context?: () => string }): Promise<string>;
  /** `skopeo [globalArgs] <command> --authfile … <args>` with the policy and temp dir set. */
  skopeo(
    command: string,
    args: readonly string[],
    options?: { globalArgs?: readonly string[]; timeoutMs?: number; context?: () => string },
  ): Promise<string>;
}

const DEFAULT_TIMEOUT_MS = 120_000;

export async function hermeticClients(work: string): Promise<HermeticClients> {
  const home = join(work, "home");
  await mkdir(home, { recursive: true });
  const policy = join(work, "policy.json");
  const authfile = join(work, "auth.json");
  const registries = join(work, "registries.conf");
  await writeFile(authfile, JSON.stringify({ auths: {} }));
  await writeFile(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
  await writeFile(registries, "unqualified-search-registries = []\n");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_RUNTIME_DIR: home,
    XDG_CONFIG_HOME: home,
    XDG_DATA_HOME: join(home, "data"),
    DOCKER_CONFIG: home,
    REGISTRY_AUTH_FILE: authfile,
    CONTAINERS_REGISTRIES_CONF: registries,
  };
  const clients: HermeticClients = {
    work,
    policy,
    authfile,
    env,
    async run(command, argv, options = {}) {
      try {
        const { stdout } = await run(command, argv, { env, timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: 1 << 20 });
        return stdout;
      } catch (error) {
        const { code, killed, stderr } = error as { code?: number | string; killed?: boolean; stderr?: string };
        const extra = options.context ? `\n${options.context()}` : "";
        throw new Error(`${command} ${argv.join(" ")} failed (${killed ? "timed out" : `exit ${code}`}):\n${stderr ?? ""}${extra}`);
      }
    },
    skopeo(command, args, options = {}) {
      const argv = ["--policy", policy, "--tmpdir", work, ...(options.globalArgs ?? []), command, "--authfile", authfile, ...args];
      return clients.run("skopeo", argv, options);
    },
  };
  return clients;
}
