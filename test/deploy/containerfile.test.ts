/**
 * deploy/Containerfile's steps, run against scratch directories: no base image can be had
 * on this machine (no registry but npm and Debian; deploy/README.md), so the test plays the
 * stages itself. The build stage's sources are copied and its bundle commands run; the
 * runtime stage's `npm ci --omit=dev` installs into an empty directory, the bundles are
 * copied in, and the origin starts from there with the image's CMD and ENV: production
 * dependencies only, nothing of the checkout. Then every health path of deploy/ must answer,
 * the HEALTHCHECK command must pass, and the CronJob's job command must run against the
 * config bundle.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONTAINERFILE,
  envAssignments,
  healthPathsIn,
  parseContainerfile,
  podSpecOf,
  yamlDocuments,
  type Stage,
} from "../support/deploy-files.js";
import { spawnEntry, type Spawned } from "../support/process.js";
import { createTestDatabase, REDIS_URL, uniquePrefix, type TestDatabase } from "../support/services.js";

const run = promisify(execFile);
const START_TIMEOUT_MS = 60_000;
/** RUN steps that only concern the image's users and caches: nothing to play in a scratch directory. */
const IMAGE_HOUSEKEEPING = /^(rm -rf \/root\/\.npm|chown -R \S+ \S+)$/;

let scratch: string;
let database: TestDatabase;
let origin: Spawned;
let originUrl: string;
let stages: Stage[];
/** Stage WORKDIR → its scratch directory. */
const workdirs = new Map<string, string>();

function stageDir(stage: Stage): string {
  const workdir = stage.instructions.find((i) => i.op === "WORKDIR")!.args;
  return workdirs.get(workdir)!;
}

/** Plays one stage's COPY and RUN steps in its scratch directory. */
async function playStage(stage: Stage): Promise<void> {
  const dir = stageDir(stage);
  for (const { op, args } of stage.instructions) {
    if (op === "COPY") {
      const words = args.split(/\s+/);
      const fromStage = words[0]!.startsWith("--from=");
      const [sources, target] = [words.slice(fromStage ? 1 : 0, -1), words.at(-1)!];
      const into = resolve(dir, target);
      if (target.endsWith("/")) await mkdir(into, { recursive: true });
      for (const source of sources) {
        // --from=<stage> paths are absolute in that stage: map its WORKDIR to its scratch directory.
        const from = fromStage
          ? [...workdirs].reduce((path, [workdir, local]) => path.replace(`${workdir}/`, `${local}/`), source)
          : source;
        await cp(from, target.endsWith("/") ? join(into, from.split("/").at(-1)!) : into, { recursive: true });
      }
    } else if (op === "RUN") {
      for (const step of args.split("&&").map((s) => s.trim())) {
        if (IMAGE_HOUSEKEEPING.test(step)) continue;
        const made = /^mkdir -p (\S+)$/.exec(step);
        if (made) {
          const workdir = stage.instructions.find((i) => i.op === "WORKDIR")!.args;
          expect(made[1]!.startsWith(`${workdir}/`), `${step}: only under the stage's WORKDIR`).toBe(true);
          await mkdir(join(dir, made[1]!.slice(workdir.length)), { recursive: true });
          continue;
        }
        if (/^npm ci\b/.test(step) && !step.includes("--omit=dev")) {
          // The build stage's full install: the checkout's node_modules is that install (one
          // lockfile), where another copy of every dev dependency would cost the shared machine.
          await symlink(resolve("node_modules"), join(dir, "node_modules"));
          continue;
        }
        expect(step, "a RUN step the test does not know how to play").toMatch(/^(npm ci --omit=dev|npx tsx scripts\/bundle\.ts) /);
        const [command, ...rest] = step.split(/\s+/);
        // npm's cache on this machine holds the packages; ask the registry only for what it lacks.
        await run(command!, command === "npm" ? [...rest, "--prefer-offline"] : rest, { cwd: dir, timeout: 120_000 });
      }
    }
  }
}

beforeAll(async () => {
  stages = parseContainerfile(await readFile(CONTAINERFILE, "utf8"));
  scratch = await mkdtemp(join(tmpdir(), "pier-containerfile-"));
  for (const [index, stage] of stages.entries()) {
    const local = join(scratch, stage.name ?? `stage-${index}`);
    await mkdir(local);
    workdirs.set(stage.instructions.find((i) => i.op === "WORKDIR")!.args, local);
  }
  for (const stage of stages) await playStage(stage);

  database = await createTestDatabase("deploy");
  const runtime = stages.at(-1)!;
  const imageEnv = Object.fromEntries(runtime.instructions.filter((i) => i.op === "ENV").flatMap((i) => envAssignments(i.args)));
  const [node, ...args] = JSON.parse(runtime.instructions.find((i) => i.op === "CMD")!.args) as string[];
  expect(node).toBe("node");
  origin = spawnEntry(
    args.at(-1)!,
    {
      ...imageEnv,
      PORT: "0",
      PIER_HOST: "127.0.0.1",
      PIER_WORKERS: "1",
      DATABASE_URL: database.url,
      REDIS_URL,
      PIER_REDIS_PREFIX: uniquePrefix("deploy"),
    },
    [],
    { plain: true, nodeFlags: args.slice(0, -1), cwd: stageDir(runtime) },
  );
  const [, port] = await origin.waitFor(/Pier origin listening on port (\d+)/, START_TIMEOUT_MS);
  originUrl = `http://127.0.0.1:${port}`;
}, 300_000);

afterAll(async () => {
  if (origin && origin.child.exitCode === null) {
    origin.child.kill("SIGTERM");
    await origin.exited;
  }
  await database?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("the Containerfile's stages, played in scratch directories", () => {
  it("leave the runtime with production dependencies and the bundles only", async () => {
    const app = stageDir(stages.at(-1)!);
    const modules = await readdir(join(app, "node_modules"));
    const { dependencies, devDependencies } = JSON.parse(await readFile("package.json", "utf8")) as Record<string, Record<string, string>>;
    for (const name of Object.keys(dependencies!)) expect(modules).toContain(name.split("/")[0]);
    for (const name of Object.keys(devDependencies!)) expect(modules).not.toContain(name.split("/")[0]);
    expect((await readdir(join(app, "dist"))).sort()).toEqual(["job.mjs", "origin.mjs"]);
    expect(await readdir(app)).not.toContain("src");
  });

  it("start an origin that answers every health path deploy/ names", async () => {
    const files = [
      "deploy/Containerfile",
      "deploy/kube-play/pier.yaml",
      "deploy/kubernetes/origin.yaml",
      "deploy/quadlet/pier-origin.container",
    ];
    const paths = new Set((await Promise.all(files.map((file) => readFile(file, "utf8")))).flatMap(healthPathsIn));
    expect(paths.size).toBeGreaterThan(0);
    for (const path of paths) {
      const response = await fetch(`${originUrl}${path}`);
      expect(response.status, path).toBe(200);
      expect(await response.json()).toMatchObject({ data: { services: { database: true, cache: true } }, status_code: 200 });
    }
  });

  it("pass the image's HEALTHCHECK command against that origin", async () => {
    const healthcheck = stages.at(-1)!.instructions.find((i) => i.op === "HEALTHCHECK")!.args;
    const [node, ...args] = JSON.parse(healthcheck.slice(healthcheck.indexOf("CMD ") + 4)) as string[];
    expect(node).toBe("node");
    const port = new URL(originUrl).port;
    await expect(run(process.execPath, args, { env: { ...process.env, PORT: port } })).resolves.toBeDefined();
    // And it fails when nothing answers.
    await expect(run(process.execPath, args, { env: { ...process.env, PORT: "1" } })).rejects.toMatchObject({ code: 1 });
  });

  it("run the CronJob's job command from the image against Quay's config bundle", async () => {
    const [cronJob] = (await yamlDocuments("deploy/kubernetes/jobs.yaml")).filter((doc) => doc.kind === "CronJob");
    const [node, script, ...jobArgs] = podSpecOf(cronJob!)!.containers[0].command as string[];
    expect(node).toBe("node");
    const bundle = join(scratch, "config.yaml");
    // The database comes from the bundle's DB_URI alone, as beside origins that mount it.
    await writeFile(bundle, `DB_URI: ${database.url}\nFEATURE_GARBAGE_COLLECTION: true\n`);
    const job = spawnEntry(
      script!,
      {
        PIER_CONFIG: bundle,
        DATABASE_URL: "",
        REDIS_URL,
        PIER_REDIS_PREFIX: uniquePrefix("deploy-job"),
      },
      [...jobArgs, "--dry-run"],
      { plain: true, cwd: stageDir(stages.at(-1)!) },
    );
    expect(await job.exited, job.output()).toBe(0);
    expect(job.output()).toContain(`pier job: read ${bundle}`);
    expect(job.output()).toMatch(/^all: 1 round, \d+ items? \(dry run\)$/m);
  });
});
