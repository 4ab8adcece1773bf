/**
 * Reading Quay's config.yaml at start: which file (`--config` or PIER_CONFIG), parsed as
 * PyYAML parses it, the environment laid over it, one info line per kind of report, and
 * one ConfigError line naming the file and the key for what cannot be honoured.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadRegistryConfig } from "../../src/core/config.js";
import { configFileOf, loadNodeSettings, parseQuayYaml } from "../../src/runtime/quay-config-file.js";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pier-quay-config-"));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function configFile(name: string, text: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

async function load(path: string, env: Record<string, string> = {}, runtime: "origin" | "embedded" = "origin") {
  const lines: string[] = [];
  const settings = await loadNodeSettings(runtime, ["--config", path], env, (line) => lines.push(line));
  return { settings, lines };
}

describe("which config file", () => {
  it("--config (either form) beats PIER_CONFIG; neither means the environment alone", () => {
    expect(configFileOf(["--config", "/a.yaml"], { PIER_CONFIG: "/b.yaml" }, "origin")).toBe("/a.yaml");
    expect(configFileOf(["--config=/c.yaml"], {}, "origin")).toBe("/c.yaml");
    expect(configFileOf([], { PIER_CONFIG: "/conf/stack/config.yaml" }, "origin")).toBe("/conf/stack/config.yaml");
    expect(configFileOf([], { PIER_CONFIG: " " }, "origin")).toBeNull();
    expect(() => configFileOf(["--verbose"], {}, "embedded")).toThrow(
      new ConfigError('unknown argument "--verbose"; usage: pier start [--config /conf/stack/config.yaml]'),
    );
    expect(() => configFileOf(["--config"], {}, "origin")).toThrow(/unknown argument "--config"; usage: pier origin/);
  });

  it("without one, the settings are the environment itself and nothing is printed", async () => {
    const lines: string[] = [];
    const env = { PIER_SERVER_HOSTNAME: "x" };
    expect(await loadNodeSettings("origin", [], env, (line) => lines.push(line))).toBe(env);
    expect(lines).toEqual([]);
  });
});

describe("parsing as Quay does", () => {
  it("YAML 1.1 booleans (yes/no/on/off), exact big integers", () => {
    const parsed = parseQuayYaml(
      "FEATURE_PROXY_CACHE: yes\nFEATURE_AUTO_PRUNE: off\nDATABASE_SECRET_KEY: 123456789012345678901234567890\n",
    );
    expect(parsed).toEqual({ FEATURE_PROXY_CACHE: true, FEATURE_AUTO_PRUNE: false, DATABASE_SECRET_KEY: 123456789012345678901234567890n });
  });

  it("a numeric DATABASE_SECRET_KEY keeps every digit", async () => {
    const path = await configFile("numeric-key.yaml", "DATABASE_SECRET_KEY: 123456789012345678901234567890\n");
    const { settings } = await load(path);
    expect(loadRegistryConfig(settings).databaseSecretKey).toBe("123456789012345678901234567890");
  });
});

describe("loading", () => {
  it("translates the file, lets the environment override it, and reports unknown keys once, in one line", async () => {
    const path = await configFile(
      "bundle.yaml",
      [
        "SERVER_HOSTNAME: quay.example.com",
        "PREFERRED_URL_SCHEME: https",
        "DB_URI: postgresql://quay:quay@db.example.com/quay",
        "SUPER_USERS: [quayadmin]",
        "FEATURE_PROXY_CACHE: true",
        "FEATURE_MAILING: false",
        "SECRET_KEY: s",
        "MY_SETTING: 1",
        "OTHER_SETTING: {a: 1}",
        "",
      ].join("\n"),
    );
    const { settings, lines } = await load(path, { PIER_SERVER_HOSTNAME: "pier.example.com", PIER_PUBLIC_CATALOG: "" });
    const config = loadRegistryConfig(settings);
    expect(config.serverHostname).toBe("pier.example.com");
    expect(config.urlScheme).toBe("https");
    expect(config.superUsers).toEqual(["quayadmin"]);
    expect(config.proxyCache).toBe(true);
    expect(settings.DATABASE_URL).toBe("postgresql://quay:quay@db.example.com/quay");
    expect(lines).toEqual([
      `read ${path} (environment variables override it)`,
      `${path}: not used by Pier: FEATURE_MAILING, SECRET_KEY`,
      `${path}: unknown keys, ignored: MY_SETTING, OTHER_SETTING`,
    ]);
  });

  it("an empty file is no settings", async () => {
    const { settings, lines } = await load(await configFile("empty.yaml", "# nothing yet\n"), { PORT: "1" });
    expect(settings).toEqual({ PORT: "1" });
    expect(lines).toEqual([expect.stringMatching(/^read /)]);
  });

  it("refuses with one line naming the file and the key", async () => {
    const mysql = await configFile("mysql.yaml", "DB_URI: mysql+pymysql://quay:quay@db/quay\n");
    await expect(load(mysql)).rejects.toThrow(
      new ConfigError(`${mysql}: DB_URI: Pier stores its data in PostgreSQL only, got a mysql+pymysql database`),
    );
    const gcs = await configFile("gcs.yaml", "DISTRIBUTED_STORAGE_CONFIG:\n  default: [GoogleCloudStorage, {bucket_name: b}]\n");
    await expect(load(gcs)).rejects.toThrow(/gcs\.yaml: DISTRIBUTED_STORAGE_CONFIG\.default: GoogleCloudStorage is not supported/);
    const s3 = await configFile(
      "s3.yaml",
      "DISTRIBUTED_STORAGE_CONFIG:\n  default: [S3Storage, {storage_path: /r, s3_bucket: b, s3_access_key: a, s3_secret_key: s}]\n",
    );
    await expect(load(s3, {}, "embedded")).rejects.toThrow(
      /s3\.yaml: DISTRIBUTED_STORAGE_CONFIG\.default: pier start stores blobs on a filesystem/,
    );
  });

  it("a missing file or broken YAML is one line too", async () => {
    await expect(load(join(work, "absent.yaml"))).rejects.toThrow(
      new ConfigError(`cannot read the config file ${join(work, "absent.yaml")}: ENOENT`),
    );
    const broken = await configFile("broken.yaml", "SERVER_HOSTNAME: [unclosed\n");
    await expect(load(broken)).rejects.toThrow(new RegExp(`^${broken.replace(/[.]/g, "\\.")} is not valid YAML: `));
  });
});
