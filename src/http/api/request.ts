/**
 * Reading /api/v1 requests the way Quay's Flask resources do: JSON bodies (size-limited,
 * read whatever the content type), boolean query flags (util/parsing.py truthy_bool)
 * and integer query parameters.
 */
import type { Context, Next } from "hono";
import { ManagementError } from "../../core/management/errors.js";
import { hasControlCharacter } from "../../core/model/text.js";
import { BodyTooLargeError, readBoundedBody } from "../body.js";

/** Bodies above this are refused; management bodies are a few hundred bytes. */
const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** True when a string anywhere in the parsed JSON (keys included) holds a NUL, which PostgreSQL text refuses. */
function holdsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(holdsNul);
  if (typeof value === "object" && value !== null)
    return Object.entries(value).some(([key, item]) => key.includes("\u0000") || holdsNul(item));
  return false;
}

/**
 * The parsed JSON body, read up to `limit` bytes (413 past it). A missing body is Quay's
 * "Missing JSON body" unless `optional` (then undefined); an unparsable one is a 400, or
 * undefined when optional (Flask's silent mode); a NUL in any string is a 400.
 */
export async function readJson(c: Context, options: { optional?: boolean; limit?: number } = {}): Promise<unknown> {
  let text: string;
  try {
    text = new TextDecoder().decode(await readBoundedBody(c.req.raw, options.limit ?? DEFAULT_BODY_LIMIT));
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    throw new ManagementError("request_too_large", "The request body is too large");
  }
  if (text.trim() === "") {
    if (options.optional) return undefined;
    throw ManagementError.invalid("Missing JSON body");
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    if (options.optional) return undefined;
    throw ManagementError.invalid("Failed to decode JSON object");
  }
  if (holdsNul(body)) throw ManagementError.invalid("The request body holds a NUL character");
  return body;
}

/**
 * Refuses control characters in the decoded path and query of every /api/v1 request,
 * before any name or value in them reaches a lookup (PostgreSQL refuses NUL in text).
 */
export async function plainRequestTarget(c: Context, next: Next): Promise<void> {
  const values = Object.values(c.req.queries()).flat();
  if ([safeDecode(c.req.path), ...values].some(hasControlCharacter)) {
    throw ManagementError.invalid("The request path or query holds a control character");
  }
  await next();
}

/** The path with what routing leaves encoded (`%2F` and the like) decoded too, as route params are. */
function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
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
