/**
 * Reading /api/v1 requests the way Quay's Flask resources do: JSON bodies (size-limited,
 * read whatever the content type), boolean query flags (util/parsing.py truthy_bool)
 * and integer query parameters.
 */
import type { Context } from "hono";
import { ManagementError } from "../../core/management/errors.js";

/** Bodies above this are refused before parsing; management bodies are a few hundred bytes. */
const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * The parsed JSON body. A missing body is Quay's "Missing JSON body" unless `optional`
 * (then undefined); an unparsable one is a 400, or undefined when optional (Flask's silent mode).
 */
export async function readJson(c: Context, options: { optional?: boolean; limit?: number } = {}): Promise<unknown> {
  const limit = options.limit ?? DEFAULT_BODY_LIMIT;
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > limit) throw ManagementError.invalid("The request body is too large");
  const text = await c.req.text();
  if (text.length > limit) throw ManagementError.invalid("The request body is too large");
  if (text.trim() === "") {
    if (options.optional) return undefined;
    throw ManagementError.invalid("Missing JSON body");
  }
  try {
    return JSON.parse(text);
  } catch {
    if (options.optional) return undefined;
    throw ManagementError.invalid("Failed to decode JSON object");
  }
}

const FALSY = new Set(["false", "False", "FALSE", "0", "", "null"]);

/** A boolean query flag: absent → `fallback`; Quay's truthy_bool otherwise. */
export function queryFlag(c: Context, name: string, fallback: boolean): boolean {
  const value = c.req.query(name);
  return value === undefined ? fallback : !FALSY.has(value);
}

/** An integer query parameter, or null when absent; 400 when not an integer. */
export function queryInteger(c: Context, name: string): number | null {
  const value = c.req.query(name);
  if (value === undefined) return null;
  if (!/^\s*[-+]?\d+\s*$/.test(value)) throw ManagementError.invalid(`${name}: invalid literal for int() with base 10: '${value}'`);
  return Number(value);
}
