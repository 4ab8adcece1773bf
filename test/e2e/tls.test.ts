/**
 * HTTPS on the Node runtimes with real clients: `pier cert` makes the CA and certificates;
 * the embedded registry at PIER_TLS_MIN_VERSION=1.3 refuses `openssl s_client -tls1_2`,
 * serves skopeo (trusting the CA through --cert-dir) a push and a pull, and logs each
 * handshake with PIER_DEBUG; at 1.2 a TLS 1.2 handshake is accepted. The origin (two
 * workers) with PIER_TLS_CLIENT_CA_FILE serves only clients presenting a certificate the
 * CA signed. Bad TLS settings and PIER_FIPS=true without a FIPS provider fail the start in one line.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hermeticClients, type HermeticClients } from "../support/hermetic-clients.js";
import { createOciLayout } from "../support/oci-layout.js";
import { startOriginProcess, type OriginProcess } from "../support/origin-process.js";
import { spawnEntry, type Spawned } from "../support/process.js";
import { createTestDatabase, REDIS_URL, uniquePrefix, type TestDatabase } from "../support/services.js";

const run = promisify(execFile);
const READY = /Pier registry ready at https:\/\/127\.0\.0\.1:(\d+)/;
const PASSWORD = "tls-test-password-1";
/** The one line every Node entry point prints for PIER_FIPS=true without OpenSSL's FIPS provider. */
const FIPS_REFUSAL =
  "PIER_FIPS=true but OpenSSL's FIPS provider is not active (crypto.getFips() is 0): " +
  "run Node with --enable-fips and an OpenSSL configuration that installs the fips provider, or unset PIER_FIPS";

let work: string;
let certs: string;
let otherCerts: string;

/** Runs a command; its exit code and everything it printed (a refusal is an answer here, not a failure). */
async function outcome(command: string, args: string[], input = ""): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
    // A command that exits before reading its input (a refused handshake) makes this write fail with EPIPE: expected.
    child.stdin!.on("error", () => {});
    child.stdin!.end(input);
  });
}

const pierCert = (args: string[]) => run(process.execPath, ["scripts/pier.mjs", "cert", ...args], { timeout: 30_000 });

function startEmbedded(env: Record<string, string>): Spawned {
  return spawnEntry("workers/embedded.ts", {
    PIER_DATA_DIR: join(work, `data-${crypto.randomUUID()}`),
    PORT: "0",
    PIER_ADMIN_PASSWORD: PASSWORD,
    PIER_TLS_CERT_FILE: join(certs, "server.pem"),
    PIER_TLS_KEY_FILE: join(certs, "server-key.pem"),
    ...env,
  });
}

/** `openssl s_client` at exactly one protocol version against 127.0.0.1:port, trusting the test CA. */
const handshake = (port: number, version: "-tls1_2" | "-tls1_3", extra: string[] = []) =>
  outcome("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    version,
    "-CAfile",
    join(certs, "ca.crt"),
    "-verify_return_error",
    ...extra,
  ]);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-tls-"));
  certs = join(work, "certs");
  otherCerts = join(work, "other-certs");
  await pierCert(["--dir", certs]);
  await pierCert(["--dir", certs, "--client", "edge"]);
  await pierCert(["--dir", otherCerts, "--client", "stranger"]);
}, 60_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("pier cert", () => {
  it("makes a CA, a server certificate for localhost and 127.0.0.1, and a client certificate, keys private", async () => {
    const verified = await run("openssl", [
      "verify",
      "-CAfile",
      join(certs, "ca.crt"),
      join(certs, "server.pem"),
      join(certs, "edge.cert"),
    ]);
    expect(verified.stdout).toContain("server.pem: OK");
    expect(verified.stdout).toContain("edge.cert: OK");
    const names = await run("openssl", ["x509", "-in", join(certs, "server.pem"), "-noout", "-ext", "subjectAltName,extendedKeyUsage"]);
    expect(names.stdout).toMatch(/DNS:localhost, IP Address:127\.0\.0\.1/);
    expect(names.stdout).toContain("TLS Web Server Authentication");
    for (const key of ["ca-key.pem", "server-key.pem", "edge.key"]) expect((await stat(join(certs, key))).mode & 0o777).toBe(0o600);
    const stranger = await outcome("openssl", ["verify", "-CAfile", join(certs, "ca.crt"), join(otherCerts, "stranger.cert")]);
    expect(stranger.code).not.toBe(0);
  });
});

describe("embedded registry over HTTPS at PIER_TLS_MIN_VERSION=1.3", () => {
  let server: Spawned;
  let port: number;
  let clients: HermeticClients;

  beforeAll(async () => {
    server = startEmbedded({ PIER_TLS_MIN_VERSION: "1.3", PIER_DEBUG: "true" });
    port = Number((await server.waitFor(READY, 30_000))[1]);
    clients = await hermeticClients(join(work, "clients"));
  }, 40_000);
  afterAll(() => {
    server?.child.kill("SIGKILL");
  });

  it("refuses a TLS 1.2 handshake and completes a verified TLS 1.3 one, logging its protocol", async () => {
    const old = await handshake(port, "-tls1_2");
    expect(old.code).not.toBe(0);
    expect(old.output).toMatch(/alert protocol version/);
    const current = await handshake(port, "-tls1_3");
    expect(current.code, current.output).toBe(0);
    expect(current.output).toMatch(/^New, TLSv1\.3, Cipher is TLS_/m);
    expect(current.output).toContain("Verify return code: 0 (ok)");
    await server.waitFor(/^tls TLSv1\.3 TLS_\S+ from 127\.0\.0\.1$/m, 5_000);
  });

  it("tells how to log in trusting pier cert's CA", () => {
    expect(server.output()).toContain(`Log in with: skopeo login --cert-dir ${certs} -u admin 127.0.0.1:${port}\n`);
    expect(server.output()).toContain(`or: podman login --cert-dir ${certs} -u admin 127.0.0.1:${port}\n`);
  });

  it("serves skopeo a push and a pull when it trusts the CA, and fails verification when it does not", async () => {
    const layout = await createOciLayout(join(work, "layout"));
    const image = await layout.addImage({ layerSizes: [4096, 300_000] });
    await layout.tag("v1", image.manifest);
    const target = `docker://127.0.0.1:${port}/admin/secure:v1`;
    const creds = `admin:${PASSWORD}`;

    await expect(clients.skopeo("copy", ["--dest-creds", creds, `oci:${layout.dir}:v1`, target])).rejects.toThrow(
      /certificate signed by unknown authority/,
    );
    await clients.skopeo("copy", ["--dest-cert-dir", certs, "--dest-creds", creds, `oci:${layout.dir}:v1`, target]);
    const pulled = join(work, "pulled");
    await clients.skopeo("copy", ["--src-cert-dir", certs, "--src-creds", creds, target, `dir:${pulled}`]);
    const manifest = JSON.parse(await readFile(join(pulled, "manifest.json"), "utf8")) as { layers: { digest: string }[] };
    expect(manifest.layers.map((l) => l.digest)).toEqual(image.layers.map((l) => l.digest));
    const layer = image.layers[1]!.digest;
    const { stdout } = await run("sha256sum", [join(pulled, layer.slice("sha256:".length))]);
    expect(`sha256:${stdout.split(" ")[0]}`).toBe(layer);
  }, 120_000);
});

describe("embedded registry at the default minimum (1.2), groups pinned to P-384", () => {
  it("accepts a TLS 1.2 handshake, and exchanges keys over P-384 only", async () => {
    const server = startEmbedded({ PIER_TLS_ECDH_CURVES: "P-384" });
    try {
      const port = Number((await server.waitFor(READY, 30_000))[1]);
      const old = await handshake(port, "-tls1_2");
      expect(old.code, old.output).toBe(0);
      expect(old.output).toMatch(/^New, TLSv1\.2, Cipher is ECDHE-/m);
      expect(old.output).toMatch(/Server Temp Key: ECDH, secp384r1, 384 bits/);
      // A client offering only X25519 finds no group in common.
      const x25519 = await handshake(port, "-tls1_3", ["-groups", "X25519"]);
      expect(x25519.code).not.toBe(0);
      expect(x25519.output).toMatch(/handshake failure/);
    } finally {
      server.child.kill("SIGKILL");
    }
  }, 40_000);
});

describe("origin with mutual TLS (PIER_TLS_CLIENT_CA_FILE), two workers", () => {
  let database: TestDatabase;
  let origin: OriginProcess;
  let port: number;

  beforeAll(async () => {
    database = await createTestDatabase("tls");
    origin = await startOriginProcess({
      DATABASE_URL: database.url,
      REDIS_URL,
      PIER_REDIS_PREFIX: uniquePrefix("tls"),
      PIER_STORAGE_DIR: join(work, "origin-storage"),
      PIER_WORKERS: "2",
      PIER_TLS_CERT_FILE: join(certs, "server.pem"),
      PIER_TLS_KEY_FILE: join(certs, "server-key.pem"),
      PIER_TLS_CLIENT_CA_FILE: join(certs, "ca.crt"),
    });
    port = Number(new URL(origin.url).port);
  }, 120_000);
  afterAll(async () => {
    await origin?.close();
    await database?.drop();
  });

  const curl = (args: string[]) =>
    outcome("curl", [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--cacert",
      join(certs, "ca.crt"),
      ...args,
      `https://127.0.0.1:${port}/v2/`,
    ]);

  it("answers a client presenting a certificate the CA signed", async () => {
    for (let i = 0; i < 4; i++) {
      const answer = await curl(["--cert", join(certs, "edge.cert"), "--key", join(certs, "edge.key")]);
      expect(answer, answer.output).toEqual({ code: 0, output: "401" });
    }
  });

  it("refuses a client without a certificate, or with one another CA signed: no HTTP answer at all", async () => {
    for (const args of [[], ["--cert", join(otherCerts, "stranger.cert"), "--key", join(otherCerts, "stranger.key")]]) {
      const answer = await curl(args);
      expect(answer.code).not.toBe(0);
      expect(answer.output).toMatch(/^000curl: \((35|52|56)\)/);
    }
    // TLS 1.3 reports the refusal after the handshake: the alert says why.
    const bare = await outcome(
      "openssl",
      ["s_client", "-connect", `127.0.0.1:${port}`, "-CAfile", join(certs, "ca.crt"), "-quiet"],
      "GET /v2/ HTTP/1.0\r\n\r\n",
    );
    expect(bare.output).toContain("alert certificate required");
    expect(bare.output).not.toContain("HTTP/1.");
  });
});

describe("failed starts", () => {
  it("says in one line when the TLS settings are wrong", async () => {
    const cases: [Record<string, string>, string][] = [
      [{ PIER_TLS_MIN_VERSION: "1.1" }, 'Pier embedded: configuration error: PIER_TLS_MIN_VERSION must be 1.2 or 1.3, got "1.1"'],
      [{ PIER_TLS_KEY_FILE: "" }, "Pier embedded: configuration error: PIER_TLS_CERT_FILE and PIER_TLS_KEY_FILE must be set together"],
      [
        { PIER_TLS_CERT_FILE: join(work, "missing.pem") },
        `Pier embedded: cannot read PIER_TLS_CERT_FILE ${join(work, "missing.pem")} (ENOENT)`,
      ],
      [{ PIER_TLS_KEY_FILE: join(certs, "ca.crt") }, "Pier embedded: TLS settings refused by OpenSSL ("],
      // OpenSSL 3.0 has no ML-KEM: asking for the post-quantum hybrid fails instead of quietly going without.
      [{ PIER_TLS_ECDH_CURVES: "X25519MLKEM768:X25519" }, "Pier embedded: TLS settings refused by OpenSSL (Failed to set ECDH curve)"],
    ];
    for (const [env, line] of cases) {
      const server = startEmbedded(env);
      expect(await server.exited).toBe(1);
      expect(server.output()).toContain(line);
      expect(server.output().trim().split("\n")).toHaveLength(1);
    }
  }, 60_000);

  it("PIER_FIPS=true without OpenSSL's FIPS provider: the embedded runtime and the origin refuse to start", async () => {
    // This machine's OpenSSL has no FIPS provider (no fips.so): FIPS mode can only be seen refusing here.
    const embedded = startEmbedded({ PIER_FIPS: "true" });
    const origin = spawnEntry("workers/origin.ts", { PIER_FIPS: "true", PORT: "0", DATABASE_URL: "postgres://127.0.0.1:1/none" });
    for (const [runtime, started] of [
      ["embedded", embedded],
      ["origin", origin],
    ] as const) {
      expect(await started.exited).toBe(1);
      expect(started.output().trim()).toBe(`Pier ${runtime}: ${FIPS_REFUSAL}`);
    }
  }, 60_000);

  it("PIER_FIPS=true without the provider: the commands that use cryptography refuse too (job, user, signing-key)", async () => {
    // Nothing is reached: the database named does not exist.
    const env = { PIER_FIPS: "true", DATABASE_URL: "postgres://127.0.0.1:1/none" };
    const commands = [
      spawnEntry("scripts/job.ts", env, ["gc"]),
      spawnEntry("scripts/user.ts", env, ["create", "fipsuser", "--password", "long-enough-1"]),
      spawnEntry("scripts/signing-key.ts", env),
    ];
    for (const command of commands) {
      expect(await command.exited, command.output()).toBe(1);
      expect([FIPS_REFUSAL, `signing key not created: ${FIPS_REFUSAL}`]).toContain(command.output().trim());
    }
  }, 60_000);
});
