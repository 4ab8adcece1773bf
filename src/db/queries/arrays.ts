/** Postgres array literals, so a list binds as one parameter through every SQL adapter. */

/** `{"a","b",NULL}` for `$n::text[]` (or any type Postgres parses from text). */
export function textArray(values: readonly (string | null)[]): string {
  return `{${values.map((v) => (v === null ? "NULL" : `"${v.replace(/["\\]/g, "\\$&")}"`)).join(",")}}`;
}

/** `{1,2,NULL}` for `$n::int[]`. */
export function intArray(values: readonly (number | null)[]): string {
  return `{${values.map((v) => (v === null ? "NULL" : String(Math.trunc(v)))).join(",")}}`;
}
