/**
 * Where a Node runtime (origin, embedded) gets its settings: the environment, laid over
 * Quay's config.yaml when one is named — `--config <file>` on the command line (pier origin
 * --config …, pier start --config …) or PIER_CONFIG. The file is read once, at start; what
 * it holds that Pier does not use is reported in one info line, never fatal; what Pier
 * cannot honour stops the start with a ConfigError naming the key.
 */
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { ConfigError, type ConfigSource } from "../core/config.js";
import { overlayEnvironment, translateQuayConfig, type PierRuntime } from "../core/quay-config/translate.js";

/** The file named by `--config <file>` / `--config=<file>` in `argv` (arguments after the script), else PIER_CONFIG. */
export function configFileOf(argv: readonly string[], env: ConfigSource, runtime: PierRuntime): string | null {
  let file: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--config" && argv[i + 1] !== undefined) file = argv[++i]!;
    else if (arg.startsWith("--config=") && arg.length > "--config=".length) file = arg.slice("--config=".length);
    else {
      const usage = `pier ${runtime === "embedded" ? "start" : "origin"} [--config /conf/stack/config.yaml]`;
      throw new ConfigError(`unknown argument "${arg}"; usage: ${usage}`);
    }
  }
  return file ?? (env.PIER_CONFIG?.trim() || null);
}

/** Parses config.yaml as Quay does (PyYAML: YAML 1.1, so `yes`/`no` are booleans; a repeated key keeps its last value), integers exact. */
export function parseQuayYaml(text: string): unknown {
  return parse(text, { version: "1.1", intAsBigInt: true, uniqueKeys: false });
}

/**
 * The settings for `runtime`: `env` alone without a config file, else env over the file's
 * translation. `log` gets the info lines (what is not used, unknown keys, remarks), each once.
 */
export async function loadNodeSettings(
  runtime: PierRuntime,
  argv: readonly string[],
  env: ConfigSource,
  log: (line: string) => void,
): Promise<ConfigSource> {
  const file = configFileOf(argv, env, runtime);
  if (file === null) return env;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let parsed: unknown;
  try {
    parsed = parseQuayYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new ConfigError(`${file} is not valid YAML: ${reason}`);
  }
  try {
    const preference = env.QUAY_DISTRIBUTED_STORAGE_PREFERENCE?.trim();
    const translation = translateQuayConfig(parsed, {
      runtime,
      storagePreference: preference ? preference.split(/\s+/) : undefined,
    });
    const settings = overlayEnvironment(translation, env);
    log(`read ${file} (environment variables override it)`);
    for (const remark of translation.remarks) log(`${file}: ${remark}`);
    if (translation.notUsed.length > 0) log(`${file}: not used by Pier: ${translation.notUsed.join(", ")}`);
    if (translation.unknown.length > 0) log(`${file}: unknown keys, ignored: ${translation.unknown.join(", ")}`);
    return settings;
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${file}: ${error.message}`);
    throw error;
  }
}
