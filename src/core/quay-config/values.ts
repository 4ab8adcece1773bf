/**
 * Typed reads of values in a parsed Quay config.yaml. Every refusal is a ConfigError
 * whose message starts with the key's path (`USER_EVENTS_REDIS.port: …`), so the one
 * line an operator reads names what to fix.
 */
import { ConfigError } from "../config.js";

/** A YAML mapping as parsed (integers may arrive as bigint: they are parsed exactly). */
export type QuayMapping = Readonly<Record<string, unknown>>;

export function isMapping(value: unknown): value is QuayMapping {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** How a value looks, for messages: `a list`, `true`, `"text"`. */
export function shown(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (isMapping(value)) return "a mapping";
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

export function refuse(path: string, message: string): never {
  throw new ConfigError(`${path}: ${message}`);
}

/** A string; numbers are taken as their text (a YAML `DATABASE_SECRET_KEY: 1234` is a key too). */
export function stringAt(mapping: QuayMapping, key: string, path = key): string | undefined {
  const value = mapping[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  return refuse(path, `must be a string, got ${shown(value)}`);
}

export function requiredStringAt(mapping: QuayMapping, key: string, path = key): string {
  const value = stringAt(mapping, key, path);
  if (value === undefined || value.trim() === "") return refuse(path, "is required");
  return value;
}

export function booleanAt(mapping: QuayMapping, key: string, path = key): boolean | undefined {
  const value = mapping[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") return refuse(path, `must be true or false, got ${shown(value)}`);
  return value;
}

/** An integer in [min, max]. */
export function integerAt(mapping: QuayMapping, key: string, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const value = mapping[key];
  if (value === undefined || value === null) return undefined;
  const number = typeof value === "bigint" ? Number(value) : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < min || number > max) {
    return refuse(path, `must be an integer from ${min} to ${max}, got ${shown(value)}`);
  }
  return number;
}

/** A list of non-empty strings (a single string is not taken for a list of one: Quay would iterate its characters). */
export function stringListAt(mapping: QuayMapping, key: string, path = key): string[] | undefined {
  const value = mapping[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) return refuse(path, `must be a list, got ${shown(value)}`);
  return value.map((item, index) => {
    if (typeof item === "number" || typeof item === "bigint") return String(item);
    if (typeof item !== "string" || item.trim() === "")
      return refuse(`${path}[${index}]`, `must be a non-empty string, got ${shown(item)}`);
    return item.trim();
  });
}

export function mappingAt(mapping: QuayMapping, key: string, path = key): QuayMapping | undefined {
  const value = mapping[key];
  if (value === undefined || value === null) return undefined;
  if (!isMapping(value)) return refuse(path, `must be a mapping, got ${shown(value)}`);
  return value;
}

const DURATION = /^([0-9]+)(w|m|d|h|s)$/;
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 };

/** Quay's tag-expiration durations (`^[0-9]+(w|m|d|h|s)$`, m = minutes) in seconds; null when the text does not match. */
export function durationSeconds(text: string): number | null {
  const match = DURATION.exec(text);
  if (!match) return null;
  const seconds = Number(match[1]) * UNIT_SECONDS[match[2]!]!;
  return Number.isSafeInteger(seconds) ? seconds : null;
}
