/**
 * Building and running deploy/Containerfile with this machine's podman, which reaches no
 * container registry: the Containerfile's base image (docker.io/library/node, taken through
 * its NODE_IMAGE build argument) is stood in for by an image made from this machine's own
 * Node and npm, the programs its RUN steps call and their shared libraries. The machine's
 * npm settings and CA bundle come along, so `npm ci` in the build reaches the registry as
 * the host does.
 */
import { execFile, spawn } from "node:child_process";
import { chmod, chown, copyFile, cp, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * What podman needs on this kind of machine to run a container at all: crun refuses its
 * hybrid cgroup layout, so runc; raising RLIMIT_NOFILE or RLIMIT_NPROC to podman's defaults
 * needs CAP_SYS_RESOURCE, which the sandbox withholds, so lower limits; the host's network,
 * so containers reach the loopback PostgreSQL and Redis, and the build reaches npm.
 */
export const PODMAN_SANDBOX_FLAGS = [
  "--runtime",
  "runc",
  "--ulimit",
  "nofile=4096:4096",
  "--ulimit",
  "nproc=4096:4096",
  "--network",
  "host",
];

/** The programs the Containerfile's RUN steps and npm's scripts call, besides node itself. */
const PROGRAMS = ["/bin/sh", "/bin/mkdir", "/bin/chown", "/bin/rm", "/usr/bin/env"];

/** `podman args…`; what it printed. A failure carries both streams in its message and podman's `exitCode`. */
export async function podman(args: readonly string[], timeoutMs = 120_000): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run("podman", args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const { stderr, stdout, code } = error as { stderr?: string; stdout?: string; code?: number | string };
    throw Object.assign(new Error(`podman ${args.join(" ")} failed (${code}):\n${stdout ?? ""}${stderr ?? ""}`), { exitCode: code });
  }
}

/** Copies `path` (and, for a symbolic link, its target) to the same place under `root`. */
async function copyInto(root: string, path: string): Promise<void> {
  const real = await realpath(path);
  await mkdir(dirname(join(root, real)), { recursive: true });
  if (!existsSync(join(root, real))) await copyFile(real, join(root, real));
  if (real !== path && !existsSync(join(root, path))) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await symlink(real, join(root, path));
  }
}

/** The shared libraries and the loader `ldd` names for `program`. */
async function librariesOf(program: string): Promise<string[]> {
  const { stdout } = await run("ldd", [program]);
  return [...stdout.matchAll(/(?:=> )?(\/\S+) \(0x/g)].map((match) => match[1]!);
}

/** Imports the stand-in base image as `tag` (PATH and CMD as the official node image has them). */
export async function importStandInNodeImage(tag: string): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "pier-node-image-"));
  try {
    const programs = [process.execPath, ...PROGRAMS];
    for (const program of programs) {
      await copyInto(root, program);
      for (const library of await librariesOf(program)) await copyInto(root, library);
    }
    const npmRoot = (await run("npm", ["root", "-g"])).stdout.trim();
    await cp(join(npmRoot, "npm"), join(root, npmRoot, "npm"), { recursive: true });
    const bin = dirname(process.execPath);
    await symlink(join(npmRoot, "npm/bin/npm-cli.js"), join(root, bin, "npm"));
    await symlink(join(npmRoot, "npm/bin/npx-cli.js"), join(root, bin, "npx"));
    const npmGlobalConfig = (await run("npm", ["config", "get", "globalconfig"])).stdout.trim();
    for (const file of [npmGlobalConfig, "/etc/npmrc", "/etc/ssl/certs/ca-certificates.crt"]) {
      if (existsSync(file)) await copyInto(root, file);
    }
    await mkdir(join(root, "etc"), { recursive: true });
    // The official image's unprivileged user, uid 1000, which the Containerfile's USER names.
    await writeFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n");
    await writeFile(join(root, "etc/group"), "root:x:0:\nnode:x:1000:\n");
    for (const dir of ["tmp", "root", "home/node"]) await mkdir(join(root, dir), { recursive: true });
    await chmod(join(root, "tmp"), 0o1777);
    await chown(join(root, "home/node"), 1000, 1000);
    await importDirectory(root, tag, [`ENV PATH=/usr/local/bin:${bin}:/usr/bin:/bin`, 'CMD ["node"]']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** `tar -C root -c . | podman import --change … - tag`, streamed. */
function importDirectory(root: string, tag: string, changes: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-C", root, "-c", "."], { stdio: ["ignore", "pipe", "inherit"] });
    const importer = spawn("podman", ["import", ...changes.flatMap((c) => ["--change", c]), "-", tag], {
      stdio: ["pipe", "ignore", "pipe"],
    });
    let stderr = "";
    importer.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    tar.stdout.pipe(importer.stdin);
    tar.once("error", reject);
    importer.once("error", reject);
    importer.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`podman import ${tag} exited ${code}: ${stderr}`))));
  });
}

/** Ids of every image in podman's store, to remove what a test built (build stages included). */
export async function imageIds(): Promise<Set<string>> {
  return new Set((await podman(["images", "--all", "--quiet", "--no-trunc"])).stdout.split("\n").filter(Boolean));
}
