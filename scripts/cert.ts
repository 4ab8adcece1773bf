/**
 * `pier cert`: a local certificate authority and certificates for trying HTTPS and mutual
 * TLS, made with the openssl command (ECDSA P-256, SHA-256: FIPS-approved choices).
 *
 *   pier cert [--dir D] [--host name,…] [--days N]   D/server.pem + server-key.pem for PIER_TLS_CERT_FILE/KEY_FILE
 *   pier cert --client NAME [--dir D] [--days N]     D/NAME.cert + NAME.key, a client certificate (the edge's, for mTLS)
 *
 * The CA (D/ca.crt, its key D/ca-key.pem) is made on first use and reused, so every certificate in D
 * chains to the one ca.crt that clients trust (skopeo --cert-dir D, curl --cacert D/ca.crt)
 * and that PIER_TLS_CLIENT_CA_FILE names. For trying things out, not for production.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    dir: { type: "string", default: "certs" },
    host: { type: "string", default: "" },
    client: { type: "string" },
    days: { type: "string", default: "90" },
  },
});
const dir = resolve(values.dir!);
const days = values.days!;
const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-sha256"];

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

// Keys are born readable by their owner only; certificates are then opened to all.
process.umask(0o077);
function publish(certFile: string): void {
  chmodSync(certFile, 0o644);
}

function ensureCa(): void {
  if (existsSync(join(dir, "ca.crt"))) return;
  openssl([
    "req",
    "-x509",
    ...EC_KEY,
    "-days",
    days,
    "-subj",
    "/CN=Pier local CA",
    "-keyout",
    join(dir, "ca-key.pem"),
    "-out",
    join(dir, "ca.crt"),
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  publish(join(dir, "ca.crt"));
}

/** A leaf certificate signed by the CA, with `extensions` (an openssl extension section's lines). */
function issue(name: string, certFile: string, keyFile: string, extensions: string[]): void {
  const scratch = mkdtempSync(join(tmpdir(), "pier-cert-"));
  try {
    const request = join(scratch, "request.csr");
    const extfile = join(scratch, "extensions.cnf");
    writeFileSync(extfile, extensions.join("\n") + "\n");
    openssl(["req", "-new", ...EC_KEY, "-subj", `/CN=${name}`, "-keyout", keyFile, "-out", request]);
    openssl([
      "x509",
      "-req",
      "-in",
      request,
      "-CA",
      join(dir, "ca.crt"),
      "-CAkey",
      join(dir, "ca-key.pem"),
      "-days",
      days,
      "-sha256",
      "-set_serial",
      `0x${randomBytes(16).toString("hex")}`,
      "-extfile",
      extfile,
      "-out",
      certFile,
    ]);
    publish(certFile);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

try {
  if (!/^\d+$/.test(days) || Number(days) < 1) throw new Error(`--days must be a positive integer, got "${days}"`);
  mkdirSync(dir, { recursive: true });
  ensureCa();
  if (values.client !== undefined) {
    const name = values.client;
    if (!/^[\w.-]+$/.test(name)) throw new Error(`--client must be a plain name (letters, digits, . _ -), got "${name}"`);
    issue(name, join(dir, `${name}.cert`), join(dir, `${name}.key`), ["basicConstraints=CA:FALSE", "extendedKeyUsage=clientAuth"]);
    console.log(`client certificate ${join(dir, `${name}.cert`)} and key ${join(dir, `${name}.key`)}, signed by ${join(dir, "ca.crt")}`);
    console.log(`the origin asks for it with PIER_TLS_CLIENT_CA_FILE=${join(dir, "ca.crt")}`);
  } else {
    const hosts = [
      "localhost",
      "127.0.0.1",
      "::1",
      ...values
        .host!.split(",")
        .map((h) => h.trim())
        .filter(Boolean),
    ];
    const names = hosts.map((host) => (isIP(host) ? `IP:${host}` : `DNS:${host}`)).join(",");
    issue(hosts.at(-1)!, join(dir, "server.pem"), join(dir, "server-key.pem"), [
      "basicConstraints=CA:FALSE",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${names}`,
    ]);
    console.log(`PIER_TLS_CERT_FILE=${join(dir, "server.pem")} PIER_TLS_KEY_FILE=${join(dir, "server-key.pem")}`);
    console.log(`clients trust ${join(dir, "ca.crt")}: skopeo --cert-dir ${dir}, curl --cacert ${join(dir, "ca.crt")}`);
  }
} catch (error) {
  const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
  console.error(`pier cert: ${stderr || (error instanceof Error ? error.message : String(error))}`);
  process.exitCode = 1;
}
