/**
 * HTTPS for the Node runtimes: the certificate, key and (for mutual TLS with the edge)
 * client CA read from the files the settings name, turned into Node's TLS server options.
 * A file that cannot be read, or PEM that OpenSSL refuses, fails the start in one line.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { createSecureContext, type TLSSocket, type TlsOptions } from "node:tls";
import type { TlsSettings } from "../core/config.js";
import { StartupError } from "./startup.js";

async function readSetting(name: string, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new StartupError(
      `cannot read ${name} ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}): fix the path or its permissions`,
    );
  }
}

/** Node's server options for `settings`; checked here, so a bad certificate fails the start rather than each handshake. */
export async function tlsServerOptions(settings: TlsSettings): Promise<TlsOptions> {
  const options: TlsOptions = {
    cert: await readSetting("PIER_TLS_CERT_FILE", settings.certFile),
    key: await readSetting("PIER_TLS_KEY_FILE", settings.keyFile),
    minVersion: settings.minVersion,
    ...(settings.ecdhCurve === null ? {} : { ecdhCurve: settings.ecdhCurve }),
    ...(settings.clientCaFile === null
      ? {}
      : { ca: await readSetting("PIER_TLS_CLIENT_CA_FILE", settings.clientCaFile), requestCert: true, rejectUnauthorized: true }),
  };
  try {
    createSecureContext(options);
  } catch (error) {
    throw new StartupError(
      `TLS settings refused by OpenSSL (${(error as Error).message}): check PIER_TLS_CERT_FILE, PIER_TLS_KEY_FILE, PIER_TLS_CLIENT_CA_FILE and PIER_TLS_ECDH_CURVES`,
    );
  }
  return options;
}

/** The debug line for one handshake: protocol and cipher, so an operator sees what clients negotiate. */
export function describeHandshake(socket: TLSSocket): string {
  const verified = socket.authorized ? ", client certificate verified" : "";
  return `tls ${socket.getProtocol()} ${socket.getCipher().name} from ${socket.remoteAddress}${verified}`;
}

/**
 * The flag skopeo and podman need to log in to this server: none for a publicly trusted
 * certificate, `--cert-dir` for one whose CA (`ca.crt`, as `pier cert` leaves it) sits beside
 * it, `--tls-verify=false` for plain HTTP.
 */
export function clientTrustFlag(settings: TlsSettings | null): string {
  if (settings === null) return "--tls-verify=false";
  const dir = dirname(resolve(settings.certFile));
  return existsSync(join(dir, "ca.crt")) ? `--cert-dir ${dir}` : "";
}
