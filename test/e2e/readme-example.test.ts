/**
 * The README's example, run as printed against a fresh `npm start`: an organization, a
 * robot that may create repositories through a creator team, a push of a local OCI
 * layout and a pull back — each line substituted only with the values the reader
 * substitutes (the printed password, the port, the robot's token, the layout's path).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hermeticClients, type HermeticClients } from "../support/hermetic-clients.js";
import { createOciLayout, type LayoutImage } from "../support/oci-layout.js";
import { spawnEntry, type Spawned } from "../support/process.js";

const run = promisify(execFile);
let work: string;
let registry: Spawned;
let port: number;
let password: string;
let clients: HermeticClients;
let image: LayoutImage;

/** The fenced block after "For example, against `npm start`", one command per line. */
async function readmeCommands(): Promise<string[]> {
  const readme = await readFile("README.md", "utf8");
  const after = readme.slice(readme.indexOf("For example, against `npm start`"));
  const block = /```sh\n([\s\S]*?)```/.exec(after)?.[1];
  if (!block) throw new Error("the README's example block is missing");
  return block
    .split("\n")
    .map((line) => line.replace(/\s+# .*$/, "").trim())
    .filter(Boolean);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-readme-"));
  clients = await hermeticClients(work);
  // skopeo as printed takes its signature policy from the user's configuration.
  const policy = await readFile(clients.policy, "utf8");
  for (const dir of [join(work, "home", "containers"), join(work, "home", ".config", "containers")]) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "policy.json"), policy);
  }
  const layout = await createOciLayout(join(work, "image"));
  image = await layout.addImage({ layerSizes: [20_000] });
  await layout.tag("latest", image.manifest);
  registry = spawnEntry("workers/embedded.ts", { PIER_DATA_DIR: join(work, "data"), PORT: "0", PIER_ADMIN_USER: "admin" });
  port = Number((await registry.waitFor(/Pier registry ready at http:\/\/127\.0\.0\.1:(\d+)/, 60_000))[1]);
  password = (/Created admin user "admin" with password: (\S+)/.exec(registry.output()) ?? [])[1]!;
}, 90_000);

afterAll(async () => {
  registry?.child.kill("SIGTERM");
  await registry?.exited;
  await rm(work, { recursive: true, force: true });
});

describe("the README's example", () => {
  it("works as printed on a fresh npm start", async () => {
    const commands = await readmeCommands();
    expect(commands.length).toBeGreaterThanOrEqual(5);
    let token = "TOKEN";
    for (const command of commands) {
      const line = command
        .replaceAll("admin:PASS", `admin:${password}`)
        .replaceAll("127.0.0.1:5000", `127.0.0.1:${port}`)
        .replaceAll("TOKEN", token);
      const { stdout } = await run("sh", ["-c", command.startsWith("curl") ? `${line} --fail-with-body -sS` : line], {
        cwd: work,
        env: clients.env,
        timeout: 120_000,
      }).catch((error: { stderr?: string; stdout?: string }) => {
        throw new Error(
          `README line failed: ${command}\n${error.stdout ?? ""}${error.stderr ?? ""}\n--- registry ---\n${registry.output()}`,
        );
      });
      if (command.includes("/robots/")) token = (JSON.parse(stdout) as { token: string }).token;
    }
    const pulled = await readFile(join(work, "pulled", "manifest.json"));
    expect(`sha256:${createHash("sha256").update(pulled).digest("hex")}`).toBe(image.manifest.digest);
  }, 300_000);
});
