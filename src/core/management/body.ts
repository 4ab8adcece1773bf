/**
 * Request bodies checked against Quay's JSON schemas (validate_json_request), with
 * Python jsonschema's messages so clients see the same 400 texts.
 */
import { ManagementError } from "./errors.js";

type JsonType = "string" | "object" | "array" | "boolean" | "integer" | "number" | "null";

export interface FieldSchema {
  type: JsonType | readonly JsonType[];
  enum?: readonly (string | null)[];
  maxLength?: number;
  minimum?: number;
}

export interface ObjectSchema {
  required?: readonly string[];
  properties: Readonly<Record<string, FieldSchema>>;
}

/** Python's repr of a JSON value, as jsonschema prints it. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  if (typeof value === "number") return String(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`);
  return `{${entries.join(", ")}}`;
}

function hasType(value: unknown, type: JsonType): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "null":
      return value === null;
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
  }
}

function checkField(value: unknown, schema: FieldSchema): void {
  const types = typeof schema.type === "string" ? [schema.type] : schema.type;
  if (!types.some((type) => hasType(value, type))) {
    const expected = types.length === 1 ? pyRepr(types[0]) : pyRepr(types);
    throw ManagementError.invalid(`${pyRepr(value)} is not of type ${expected}`);
  }
  if (schema.enum && !schema.enum.includes(value as string | null)) {
    throw ManagementError.invalid(`${pyRepr(value)} is not one of ${pyRepr(schema.enum)}`);
  }
  if (schema.maxLength !== undefined && typeof value === "string" && [...value].length > schema.maxLength) {
    throw ManagementError.invalid(`${pyRepr(value)} is too long`);
  }
  if (schema.minimum !== undefined && typeof value === "number" && value < schema.minimum) {
    throw ManagementError.invalid(`${value} is less than the minimum of ${schema.minimum}`);
  }
}

/** `body` as an object matching `schema`; 400 `invalid_request` with jsonschema's message otherwise. */
export function validateBody(body: unknown, schema: ObjectSchema): Record<string, unknown> {
  if (!hasType(body, "object")) throw ManagementError.invalid(`${pyRepr(body)} is not of type 'object'`);
  const object = body as Record<string, unknown>;
  for (const name of schema.required ?? []) {
    if (!(name in object)) throw ManagementError.invalid(`${pyRepr(name)} is a required property`);
  }
  for (const [name, field] of Object.entries(schema.properties)) {
    if (name in object) checkField(object[name], field);
  }
  return object;
}
