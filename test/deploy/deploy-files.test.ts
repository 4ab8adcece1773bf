/**
 * deploy/ against the code it refers to: every environment variable a file sets is one
 * Pier reads, ports are the origin's default, health paths are routes, and the commands
 * and scripts the files run exist. (containerfile.test.ts runs the image's steps.)
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { originNodeFlags } from "../support/origin-process.js";
import {
  CONTAINERFILE,
  KUBE_PLAY,
  KUBERNETES_DIR,
  QUADLET_DIR,
  SYSTEMD_ENV,
  SYSTEMD_UNIT,
  envAssignments,
  environmentNamesReadByPier,
  fixedRoutePaths,
  healthPathsIn,
  originDefaultPort,
  parseContainerfile,
  parseUnit,
  podSpecOf,
  unitValues,
  yamlDocuments,
} from "../support/deploy-files.js";

const run = promisify(execFile);

let pierReads: Set<string>;
let port: number;
let routes: Set<string>;

beforeAll(async () => {
  [pierReads, port, routes] = await Promise.all([environmentNamesReadByPier(), originDefaultPort(), fixedRoutePaths()]);
});

function expectPierReads(names: string[], where: string) {
  expect(names.length, `${where} sets no environment`).toBeGreaterThan(0);
  expect(
    names.filter((name) => !pierReads.has(name)),
    `${where}: variables Pier does not read`,
  ).toEqual([]);
}

/**
 * Beside a config bundle, a storage chosen in the environment replaces the bundle's
 * DISTRIBUTED_STORAGE_CONFIG as a whole: the files must leave storage to the bundle.
 */
function expectStorageLeftToTheBundle(names: string[], where: string) {
  expect(
    names.filter((name) => name === "PIER_STORAGE_DIR" || name.startsWith("S3_")),
    where,
  ).toEqual([]);
}

/** `name=value` (Environment=, .env lines) → name. */
const nameOf = (assignment: string) => assignment.slice(0, assignment.indexOf("="));

describe("what the code offers", () => {
  it("is derived from the sources, settings of the config and the entry points alike", () => {
    for (const name of ["DATABASE_URL", "REDIS_URL", "PORT", "PIER_CONFIG", "PIER_WORKERS", "PIER_SERVER_HOSTNAME", "S3_ENDPOINT"]) {
      expect(pierReads, name).toContain(name);
    }
    expect(pierReads).not.toContain("POSTGRES_PASSWORD");
    expect(port).toBe(8080);
    expect(routes).toContain("/health/instance");
  });
});

describe("deploy/Containerfile", () => {
  it("builds in one stage and runs as a non-root user with production dependencies in another", async () => {
    const stages = parseContainerfile(await readFile(CONTAINERFILE, "utf8"));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = stages.at(-1)!;
    const users = runtime.instructions.filter((i) => i.op === "USER").map((i) => i.args);
    expect(users.length).toBe(1);
    expect(["root", "0"]).not.toContain(users[0]!.split(":")[0]);
    const installs = runtime.instructions.filter((i) => i.op === "RUN" && /\bnpm (ci|install)\b/.test(i.args));
    expect(installs.length).toBe(1);
    expect(installs[0]!.args).toMatch(/npm ci --omit=dev\b/);
    // What the runtime copies from another stage, that stage builds.
    for (const copy of runtime.instructions.filter((i) => i.op === "COPY" && i.args.startsWith("--from="))) {
      const [from, ...paths] = copy.args.split(/\s+/);
      const source = stages.find((stage) => stage.name === from!.slice("--from=".length));
      expect(source, copy.args).toBeDefined();
      const built = source!.instructions
        .filter((i) => i.op === "RUN")
        .map((i) => i.args)
        .join(" ");
      for (const path of paths.slice(0, -1)) expect(built, path).toContain(path.replace(/^\/src\//, ""));
    }
  });

  it("copies files that exist, bundles entries bundle.ts knows, and sets only variables Pier reads", async () => {
    const stages = parseContainerfile(await readFile(CONTAINERFILE, "utf8"));
    const bundle = await readFile("scripts/bundle.ts", "utf8");
    for (const stage of stages) {
      for (const { op, args } of stage.instructions) {
        if (op === "COPY" && !args.startsWith("--")) {
          for (const path of args.split(/\s+/).slice(0, -1)) expect(existsSync(path), `COPY ${path}`).toBe(true);
        }
        for (const [, entry, script] of args.matchAll(/npx tsx (scripts\/bundle\.ts) (\w+)/g)) {
          expect(existsSync(entry!)).toBe(true);
          expect(bundle, `bundle entry ${script}`).toMatch(new RegExp(`\\b${script}: "`));
        }
      }
    }
    const runtime = stages.at(-1)!.instructions;
    const env = runtime.filter((i) => i.op === "ENV").flatMap((i) => envAssignments(i.args));
    expectPierReads(
      env.map(([name]) => name),
      "ENV",
    );
    expectStorageLeftToTheBundle(
      env.map(([name]) => name),
      "ENV",
    );
    expect(Object.fromEntries(env).PORT).toBe(String(port));
    expect(runtime.filter((i) => i.op === "EXPOSE").map((i) => i.args)).toEqual([String(port)]);
  });

  it("health-checks a route of the origin and starts the bundle as npm run origin does", async () => {
    const runtime = parseContainerfile(await readFile(CONTAINERFILE, "utf8")).at(-1)!.instructions;
    const healthcheck = runtime.find((i) => i.op === "HEALTHCHECK")!;
    expect(healthcheck).toBeDefined();
    expect(healthPathsIn(healthcheck.args).length).toBe(1);
    for (const path of healthPathsIn(healthcheck.args)) expect(routes).toContain(path);
    const cmd = JSON.parse(runtime.find((i) => i.op === "CMD")!.args) as string[];
    expect(cmd).toEqual(["node", ...(await originNodeFlags()), "dist/origin.mjs"]);
  });
});

describe("deploy/quadlet", () => {
  it("runs origin, PostgreSQL and Redis on one network, the origin with the config bundle and known variables", async () => {
    const files = await readdir(QUADLET_DIR);
    const containers = files.filter((file) => file.endsWith(".container"));
    expect(containers.sort()).toEqual(["pier-origin.container", "pier-postgres.container", "pier-redis.container"]);
    for (const file of files) {
      const unit = parseUnit(await readFile(join(QUADLET_DIR, file), "utf8"));
      // Every quadlet file a unit names (network, volumes) is in the folder.
      const named = [...unit.values()]
        .flat()
        .flatMap(([, value]) => [...value.matchAll(/\b([\w-]+\.(?:network|volume))\b/g)].map((m) => m[1]!));
      for (const other of named) expect(files, `${file} names ${other}`).toContain(other);
      if (file.endsWith(".container")) expect(unitValues(unit, "Container", "Network")).toEqual(["pier.network"]);
    }
    const origin = parseUnit(await readFile(join(QUADLET_DIR, "pier-origin.container"), "utf8"));
    const secrets = unitValues(origin, "Container", "Secret").map((secret) => /target=(\w+)/.exec(secret)![1]!);
    const environment = unitValues(origin, "Container", "Environment");
    expectPierReads([...environment.map(nameOf), ...secrets], "pier-origin.container");
    expectStorageLeftToTheBundle([...environment.map(nameOf), ...secrets], "pier-origin.container");
    expect(environment).toContain("PIER_CONFIG=/conf/stack/config.yaml");
    expect(unitValues(origin, "Container", "Volume").some((volume) => volume.split(":")[1] === "/conf/stack")).toBe(true);
    expect(environment).toContain(`PORT=${port}`);
    expect(unitValues(origin, "Container", "PublishPort")).toEqual([`${port}:${port}`]);
    for (const path of healthPathsIn(unitValues(origin, "Container", "HealthCmd").join(" "))) expect(routes).toContain(path);
    expect(unitValues(origin, "Unit", "Requires")[0]!.split(" ").sort()).toEqual(["pier-postgres.service", "pier-redis.service"]);
  });
});

/** The Pier containers of a file: those running the origin's image. */
async function pierContainers(path: string): Promise<{ kind: string; container: Record<string, any>; pod: Record<string, any> }[]> {
  return (await yamlDocuments(path)).flatMap((doc) => {
    const pod = podSpecOf(doc);
    if (pod === null) return [];
    return (pod.containers as Record<string, any>[])
      .filter((container) => String(container.image).includes("pier-origin"))
      .map((container) => ({ kind: doc.kind as string, container, pod }));
  });
}

function checkPierContainer(where: string, container: Record<string, any>, pod: Record<string, any>) {
  const names = (container.env as { name: string }[]).map((e) => e.name);
  expectPierReads(names, where);
  expectStorageLeftToTheBundle(names, where);
  const mount = (container.volumeMounts as { name: string; mountPath: string }[]).find((m) => m.mountPath === "/conf/stack");
  expect(mount, `${where}: config bundle at /conf/stack`).toBeDefined();
  expect((pod.volumes as { name: string }[]).map((v) => v.name)).toContain(mount!.name);
  expect(container.env).toContainEqual({ name: "PIER_CONFIG", value: "/conf/stack/config.yaml" });
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    const path = container[probe]?.httpGet?.path;
    if (path !== undefined) expect(routes, `${where} ${probe}`).toContain(path);
  }
}

describe("deploy/kube-play/pier.yaml", () => {
  it("is one pod of origin, PostgreSQL and Redis, the origin on the default port with known variables", async () => {
    const docs = await yamlDocuments(KUBE_PLAY);
    const pods = docs.filter((doc) => doc.kind === "Pod");
    expect(pods.length).toBe(1);
    const images = (pods[0]!.spec.containers as { image: string }[]).map((c) => c.image.split("/").at(-1)!.split(":")[0]);
    expect(images.sort()).toEqual(["pier-origin", "postgres", "redis"]);
    const [origin] = await pierContainers(KUBE_PLAY);
    checkPierContainer("kube play origin", origin!.container, origin!.pod);
    expect(origin!.container.ports).toEqual([{ name: "http", containerPort: port, hostPort: port }]);
    expect(origin!.container.env).toContainEqual({ name: "PORT", value: String(port) });
    // The secrets the pod reads are in the file.
    const secrets = new Set(
      docs.filter((doc) => doc.kind === "Secret").flatMap((doc) => Object.keys(doc.data).map((key) => `${doc.metadata.name}/${key}`)),
    );
    for (const container of pods[0]!.spec.containers as { env?: { valueFrom?: { secretKeyRef: { name: string; key: string } } }[] }[]) {
      for (const ref of (container.env ?? []).flatMap((e) => (e.valueFrom ? [e.valueFrom.secretKeyRef] : []))) {
        expect(secrets).toContain(`${ref.name}/${ref.key}`);
      }
    }
    const url = Buffer.from(docs.find((doc) => doc.kind === "Secret")!.data.url, "base64").toString();
    expect(new URL(url).port).toBe("5432");
  });
});

describe("deploy/kubernetes", () => {
  it("has a Deployment, Service, PodDisruptionBudget, CPU HPA and a CronJob that agree with each other", async () => {
    const docs = (await Promise.all((await readdir(KUBERNETES_DIR)).map((file) => yamlDocuments(join(KUBERNETES_DIR, file))))).flat();
    const byKind = (kind: string) => docs.filter((doc) => doc.kind === kind);
    const [deployment] = byKind("Deployment");
    const [service] = byKind("Service");
    const [budget] = byKind("PodDisruptionBudget");
    const [hpa] = byKind("HorizontalPodAutoscaler");
    expect([deployment, service, budget, hpa, byKind("CronJob")[0]].every(Boolean)).toBe(true);
    const labels = deployment!.spec.template.metadata.labels;
    expect(deployment!.spec.selector.matchLabels).toEqual(labels);
    expect(service!.spec.selector).toEqual(labels);
    expect(budget!.spec.selector.matchLabels).toEqual(labels);
    expect(hpa!.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment!.metadata.name });
    expect(hpa!.spec.metrics.map((m: any) => m.resource.name)).toEqual(["cpu"]);
    expect(hpa!.spec.minReplicas).toBeGreaterThan(budget!.spec.minAvailable);

    const origin = deployment!.spec.template.spec.containers[0];
    expect(origin.ports).toEqual([{ name: "http", containerPort: port }]);
    expect(origin.env).toContainEqual({ name: "PORT", value: String(port) });
    expect(service!.spec.ports[0].targetPort).toBe("http");
    expect(deployment!.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    for (const { kind, container, pod } of (
      await Promise.all((await readdir(KUBERNETES_DIR)).map((f) => pierContainers(join(KUBERNETES_DIR, f))))
    ).flat()) {
      checkPierContainer(kind, container, pod);
    }
  });

  it("runs the jobs with the job command the image holds", async () => {
    const [cronJob] = (await yamlDocuments(join(KUBERNETES_DIR, "jobs.yaml"))).filter((doc) => doc.kind === "CronJob");
    const command = podSpecOf(cronJob!)!.containers[0].command as string[];
    expect(command.slice(0, 2)).toEqual(["node", "dist/job.mjs"]);
    const stages = parseContainerfile(await readFile(CONTAINERFILE, "utf8"));
    const copied = stages
      .at(-1)!
      .instructions.filter((i) => i.op === "COPY")
      .map((i) => i.args)
      .join(" ");
    expect(copied).toContain("/job.mjs");
    // The job name is one `pier job` accepts.
    const { stdout, stderr, code } = await run(process.execPath, ["--import", "tsx", "scripts/job.ts", "no-such-job"]).then(
      (r) => ({ ...r, code: 0 }),
      (e: { stdout: string; stderr: string; code: number }) => e,
    );
    expect(code, stdout).toBe(2);
    const names = /jobs: (.*)$/m.exec(stderr)![1]!.split(", ");
    expect([...names, "all"]).toContain(command[2]);
  });
});

describe("deploy/systemd", () => {
  it("starts the origin as npm run origin does, with variables Pier reads, and passes systemd-analyze verify", async () => {
    const unit = parseUnit(await readFile(SYSTEMD_UNIT, "utf8"));
    const [pre] = unitValues(unit, "Service", "ExecStartPre");
    const [start] = unitValues(unit, "Service", "ExecStart");
    const { scripts } = JSON.parse(await readFile("package.json", "utf8")) as { scripts: Record<string, string> };
    // npm run origin: `tsx scripts/bundle.ts origin dist/origin.mjs && exec node [flags] dist/origin.mjs`.
    expect(pre).toBe(`/usr/bin/node --import tsx ${scripts.origin!.split(" && ")[0]!.replace(/^tsx /, "")}`);
    expect(start).toBe(["/usr/bin/node", ...(await originNodeFlags()), "dist/origin.mjs"].join(" "));
    const environment = unitValues(unit, "Service", "Environment");
    const example = (await readFile(SYSTEMD_ENV, "utf8")).split("\n").filter((line) => /^[A-Z]/.test(line));
    expectPierReads([...environment, ...example].map(nameOf), "systemd unit and origin.env");
    expectStorageLeftToTheBundle([...environment, ...example].map(nameOf), "systemd unit and origin.env");
    expect(environment).toContain(`PORT=${port}`);
    expect(environment.some((e) => e.startsWith("PIER_CONFIG="))).toBe(true);
    await run("systemd-analyze", ["verify", SYSTEMD_UNIT]);
  });
});

describe("the READMEs", () => {
  it("name only deploy/ files that exist, and give the README's deploy section one command per target", async () => {
    const [readme, deployReadme] = await Promise.all([readFile("README.md", "utf8"), readFile("deploy/README.md", "utf8")]);
    const named = [...`${readme}\n${deployReadme}`.matchAll(/(?<![\w/])deploy\/[\w./-]*[\w/]/g)].map((m) => m[0]);
    expect(named.length).toBeGreaterThan(5);
    for (const path of named) expect(existsSync(path), path).toBe(true);
    for (const target of [
      "deploy/Containerfile",
      "deploy/quadlet/",
      "deploy/kube-play/pier.yaml",
      "deploy/kubernetes/",
      "deploy/systemd/pier-origin.service",
    ]) {
      expect(readme, target).toMatch(new RegExp(`\\| \`[^\`]*${target.replace(/[./]/g, "\\$&")}[^\`]*\``));
    }
  });
});
