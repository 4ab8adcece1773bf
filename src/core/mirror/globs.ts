/**
 * Tag filters of a mirror (Quay's TAG_GLOB_CSV rule): Python's `fnmatch` patterns —
 * `*`, `?`, `[seq]`, `[!seq]` — matched case-sensitively against the whole tag, the
 * union over the list, de-duplicated and sorted as Quay's worker does.
 */

/** Why a glob list is refused (Pier checks what Quay stores unchecked). */
export class InvalidGlobError extends Error {
  override name = "InvalidGlobError";
}

const MAX_GLOBS = 100;
const MAX_GLOB_LENGTH = 255;

/** A regular expression equivalent to Python's fnmatch.translate(glob). */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === "*") out += ".*";
    else if (ch === "?") out += ".";
    else if (ch === "[") {
      let j = i + 1;
      if (glob[j] === "!") j++;
      if (glob[j] === "]") j++;
      while (j < glob.length && glob[j] !== "]") j++;
      if (j >= glob.length) {
        out += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, j).replace(/\\/g, "\\\\");
      if (body.startsWith("!")) body = `^${body.slice(1)}`;
      else if (body.startsWith("^")) body = `\\${body}`;
      out += `[${body}]`;
      i = j;
    } else out += ch.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  }
  return new RegExp(`^(?:${out})$`, "s");
}

/**
 * The list as stored (`["latest", "v1.*"]`), checked: one to 100 non-empty strings of at
 * most 255 characters, no control characters, each a pattern that compiles.
 */
export function validateGlobs(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new InvalidGlobError("rule_value must be a non-empty list of tag globs");
  if (value.length > MAX_GLOBS) throw new InvalidGlobError(`rule_value holds more than ${MAX_GLOBS} globs`);
  for (const glob of value) {
    if (typeof glob !== "string" || glob.trim() === "" || glob.length > MAX_GLOB_LENGTH || /[\u0000-\u001f\u007f]/.test(glob)) {
      throw new InvalidGlobError(`Invalid tag glob: ${JSON.stringify(glob)}`);
    }
    try {
      globToRegExp(glob);
    } catch {
      throw new InvalidGlobError(`Invalid tag glob: ${JSON.stringify(glob)}`);
    }
  }
  return value as string[];
}

/** The tags matching any glob, de-duplicated and sorted (Quay's order of copying). */
export function matchingTags(tags: readonly string[], globs: readonly string[]): string[] {
  const patterns = globs.map(globToRegExp);
  return [...new Set(tags.filter((tag) => patterns.some((p) => p.test(tag))))].sort();
}

/** The stored rule_value as a list (a row Quay wrote may hold anything). */
export function storedGlobs(text: string): string[] {
  try {
    const parsed = JSON.parse(text) as unknown;
    return Array.isArray(parsed) ? parsed.filter((g): g is string => typeof g === "string") : [];
  } catch {
    return [];
  }
}
