/**
 * `WWW-Authenticate` challenges of registries: the scheme and its auth-params
 * (`Bearer realm="…",service="…",scope="…"`). Values may be quoted (with `\"` escapes)
 * or bare tokens; only the first challenge of the header is read, as registries send one.
 */

export interface AuthChallenge {
  /** Lower-cased: `basic`, `bearer`, … */
  scheme: string;
  /** Parameter names lower-cased; values as sent. */
  params: Record<string, string>;
}

const SCHEME = /^\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s*/;
const PARAM = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)/;

/** Parses a challenge header; null when it names no scheme. */
export function parseChallenge(header: string | null): AuthChallenge | null {
  if (header === null) return null;
  const scheme = SCHEME.exec(header);
  if (!scheme) return null;
  const params: Record<string, string> = {};
  let rest = header.slice(scheme[0].length);
  for (let match = PARAM.exec(rest); match; match = PARAM.exec(rest)) {
    const name = match[1]!.toLowerCase();
    params[name] = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]!;
    rest = rest.slice(match[0].length);
  }
  return { scheme: scheme[1]!.toLowerCase(), params };
}
