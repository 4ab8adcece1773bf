/**
 * PIER_FIPS=true: serve only when OpenSSL's FIPS provider is active in this process, so
 * every node:crypto and Web Crypto call (hashes, HMACs, AES, signatures, random, TLS) runs
 * in the validated module and OpenSSL itself refuses non-approved algorithms.
 */
import { getFips } from "node:crypto";
import { readBoolean, type ConfigSource } from "../core/config.js";
import { StartupError } from "./startup.js";

/** Throws (a one-line StartupError) when FIPS mode is asked for but the provider is not active. */
export function requireFipsWhenAsked(source: ConfigSource): void {
  if (!readBoolean(source, "PIER_FIPS", false) || getFips() === 1) return;
  throw new StartupError(
    "PIER_FIPS=true but OpenSSL's FIPS provider is not active (crypto.getFips() is 0): run Node with --enable-fips " +
      "and an OpenSSL configuration that installs the fips provider, or unset PIER_FIPS",
  );
}
