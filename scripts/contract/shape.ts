/**
 * JSON compared by shape, not value: keys and types, which is what a client depends on and
 * what stays the same across installs (ids, digests, dates and tokens never do).
 *
 * An expected shape is JSON where a leaf is a type name — "string", "number", "boolean",
 * "null", "any", "object", "array" — an object lists the keys that must be there (more are
 * allowed), and a one-element array gives the shape of every element.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** Where `actual` departs from the `expected` shape, one line each (`$.errors[0].code: …`). */
export function shapeDifferences(expected: unknown, actual: unknown, path = "$"): string[] {
  if (typeof expected === "string") {
    if (expected === "any" || expected === typeName(actual)) return [];
    return [`${path}: expected ${expected}, got ${typeName(actual)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${path}: expected array, got ${typeName(actual)}`];
    if (expected.length === 0) return [];
    return actual.flatMap((item, index) => shapeDifferences(expected[0], item, `${path}[${index}]`));
  }
  if (typeof expected === "object" && expected !== null) {
    if (typeName(actual) !== "object") return [`${path}: expected object, got ${typeName(actual)}`];
    const object = actual as Record<string, Json>;
    return Object.entries(expected).flatMap(([key, shape]) =>
      key in object ? shapeDifferences(shape, object[key], `${path}.${key}`) : [`${path}.${key}: missing`],
    );
  }
  return [`${path}: the fixture's shape ${JSON.stringify(expected)} is not a shape`];
}

/** Where two answers' shapes differ (keys on one side only, types), one line each. */
export function answerDifferences(legacy: unknown, pier: unknown, path = "$"): string[] {
  const [a, b] = [typeName(legacy), typeName(pier)];
  if (a !== b) return [`${path}: legacy ${a}, pier ${b}`];
  if (a === "array") {
    const [x, y] = [legacy as Json[], pier as Json[]];
    // Contents differ per install; the first element stands for the shape of each.
    return x.length > 0 && y.length > 0 ? answerDifferences(x[0], y[0], `${path}[0]`) : [];
  }
  if (a !== "object") return [];
  const [x, y] = [legacy as Record<string, Json>, pier as Record<string, Json>];
  return [...new Set([...Object.keys(x), ...Object.keys(y)])].sort().flatMap((key) => {
    if (!(key in x)) return [`${path}.${key}: only pier has it`];
    if (!(key in y)) return [`${path}.${key}: only legacy has it`];
    return answerDifferences(x[key], y[key], `${path}.${key}`);
  });
}
