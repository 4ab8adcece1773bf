/**
 * deploy/Containerfile built by podman and run: the base image is a stand-in made from this
 * machine's Node 20 (no registry is reachable; test/support/container-build.ts), everything
 * after it is the Containerfile's own steps. The image must hold production dependencies and
 * the two bundles only, run as `node`, start an origin on the host's PostgreSQL and Redis that
 * answers every health path deploy/ names, pass its own HEALTHCHECK (and fail it when nothing
 * answers), report the commit it was built from, and run the CronJob's job command against
 * Quay's config bundle.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageIds, importStandInNodeImage, podman, PODMAN_SANDBOX_FLAGS } from "../support/container-build.js";
import { CONTAINERFILE, healthPathsIn, podSpecOf, yamlDocuments } from "../support/deploy-files.js";
import { freePort } from "../support/edge-server.js";
import { createTestDatabase, REDIS_URL, uniquePrefix, type TestDatabase } from "../support/services.js";

const BUILD_TIMEOUT_MS = 600_000;
const START_TIMEOUT_MS = 60_000;
const COMMIT = "c0ffee123456";
const id = crypto.randomUUID().slice(0, 8);
const baseImage = `localhost/pier-test-node:${id}`;
const image = `localhost/pier-origin-test:${id}`;

let imagesBefore: Set<string>;
let database: TestDatabase;
let work: string;
let container: string | undefined;
let originUrl: string;

/** `podman image inspect`'s view of the image (the user and health check at its top level). */
interface InspectedImage {
  User: string;
  Healthcheck?: { Test: string[] };
}

async function inspectImage(): Promise<InspectedImage> {
  const [inspected] = JSON.parse((await podman(["image", "inspect", image])).stdout) as InspectedImage[];
  return inspected!;
}

/** Runs `command` in a new container of the image, removed afterwards; what it printed. */
function runInImage(args: string[], command: string[]): Promise<{ stdout: string; stderr: string }> {
  return podman(["run", "--rm", ...PODMAN_SANDBOX_FLAGS, ...args, image, ...command]);
}

async function waitUntilHealthy(): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const status = await fetch(`${originUrl}/health/instance`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the container's origin did not answer /health/instance:\n${JSON.stringify(await podman(["logs", container!]))}`);
}

beforeAll(async () => {
  imagesBefore = await imageIds();
  await importStandInNodeImage(baseImage);
  await podman(
    [
      "build",
      "--format",
      "docker",
      ...PODMAN_SANDBOX_FLAGS,
      "--build-arg",
      `NODE_IMAGE=${baseImage}`,
      "--build-arg",
      `PIER_COMMIT=${COMMIT}`,
      "-f",
      CONTAINERFILE,
      "-t",
      image,
      ".",
    ],
    BUILD_TIMEOUT_MS,
  );
  database = await createTestDatabase("deploy");
  work = await mkdtemp(join(tmpdir(), "pier-container-"));
  const port = await freePort();
  originUrl = `http://127.0.0.1:${port}`;
  container = (
    await podman([
      "run",
      "--detach",
      ...PODMAN_SANDBOX_FLAGS,
      "--env",
      `PORT=${port}`,
      "--env",
      `DATABASE_URL=${database.url}`,
      "--env",
      `REDIS_URL=${REDIS_URL}`,
      "--env",
      `PIER_REDIS_PREFIX=${uniquePrefix("deploy")}`,
      image,
    ])
  ).stdout.trim();
  await waitUntilHealthy();
}, BUILD_TIMEOUT_MS + START_TIMEOUT_MS);

afterAll(async () => {
  if (container) await podman(["rm", "--force", "--time", "5", container]);
  // Everything this build made: the image, its stages' layers and the stand-in base.
  const made = [...(await imageIds())].filter((imageId) => !imagesBefore?.has(imageId));
  if (made.length > 0) await podman(["rmi", "--force", ...made]);
  await database?.drop();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

describe("the image deploy/Containerfile builds", () => {
  it("holds production dependencies and the two bundles only, and runs as node (uid 1000)", async () => {
    expect((await inspectImage()).User).toBe("node");
    const listing = await runInImage(
      [],
      [
        "node",
        "-e",
        "const { readdirSync } = require('node:fs'); console.log(JSON.stringify({ app: readdirSync('.'), dist: readdirSync('dist'), modules: readdirSync('node_modules'), uid: process.getuid() }))",
      ],
    );
    const { app, dist, modules, uid } = JSON.parse(listing.stdout) as { app: string[]; dist: string[]; modules: string[]; uid: number };
    expect(uid).toBe(1000);
    const { dependencies, devDependencies } = JSON.parse(await readFile("package.json", "utf8")) as Record<string, Record<string, string>>;
    for (const name of Object.keys(dependencies!)) expect(modules).toContain(name.split("/")[0]);
    for (const name of Object.keys(devDependencies!)) expect(modules).not.toContain(name.split("/")[0]);
    expect(dist.sort()).toEqual(["job.mjs", "origin.mjs"]);
    expect(app).not.toContain("src");
    // The running origin too.
    const [state] = JSON.parse((await podman(["inspect", container!])).stdout) as { State: { Pid: number } }[];
    expect(await readFile(`/proc/${state!.State.Pid}/status`, "utf8")).toMatch(/^Uid:\t1000\t1000\t1000\t1000$/m);
  });

  it("starts an origin that answers every health path deploy/ names and reports the commit it was built from", async () => {
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
    const metrics = await (await fetch(`${originUrl}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^pier_build_info\\{[^}]*commit="${COMMIT}"[^}]*\\} 1$`, "m"));
  });

  it("is healthy by its own HEALTHCHECK, which fails when nothing answers", async () => {
    await expect(podman(["healthcheck", "run", container!])).resolves.toBeDefined();
    const test = (await inspectImage()).Healthcheck!.Test;
    expect(test[0]).toBe("CMD");
    await expect(podman(["exec", "--env", "PORT=1", container!, ...test.slice(1)])).rejects.toMatchObject({ exitCode: 1 });
  });

  it("runs the CronJob's job command against Quay's config bundle", async () => {
    const [cronJob] = (await yamlDocuments("deploy/kubernetes/jobs.yaml")).filter((doc) => doc.kind === "CronJob");
    const command = podSpecOf(cronJob!)!.containers[0].command as string[];
    // The database comes from the bundle's DB_URI alone, as beside origins that mount it.
    await writeFile(join(work, "config.yaml"), `DB_URI: ${database.url}\nFEATURE_GARBAGE_COLLECTION: true\n`);
    await chmod(work, 0o755);
    const { stdout, stderr } = await runInImage(
      [
        "--volume",
        `${work}:/conf/stack:ro`,
        "--env",
        "PIER_CONFIG=/conf/stack/config.yaml",
        "--env",
        `REDIS_URL=${REDIS_URL}`,
        "--env",
        `PIER_REDIS_PREFIX=${uniquePrefix("deploy-job")}`,
      ],
      [...command, "--dry-run"],
    );
    expect(stderr + stdout).toContain("pier job: read /conf/stack/config.yaml");
    expect(stdout).toMatch(/^all: 1 round, \d+ items? \(dry run\)$/m);
  });
});
