/**
 * Name rules of Quay's management API (util/validation.py, data/model/team.py) and
 * Quay's random token alphabet (data/fields.py random_string: A–Z and 0–9).
 */
const NAME_PATTERN = "^([a-z0-9]+(?:[._-][a-z0-9]+)*)$";
const NAME = new RegExp(NAME_PATTERN);
const MIN_LENGTH = 2;
const MAX_LENGTH = 255;

/** Why `name` is not a valid namespace (user, organization or robot short name); null when valid. */
export function namespaceNameIssue(name: string): string | null {
  if (!NAME.test(name)) return `Namespace must match expression ${NAME_PATTERN}`;
  if (name.length < MIN_LENGTH || name.length > MAX_LENGTH) {
    return `Namespace must be between ${MIN_LENGTH} and ${MAX_LENGTH} characters in length`;
  }
  return null;
}

/** Why `name` is not a valid team name; null when valid. */
export function teamNameIssue(name: string): string | null {
  if (!NAME.test(name)) return `Namespace must match expression ${NAME_PATTERN}`;
  if (name.length < MIN_LENGTH || name.length > MAX_LENGTH)
    return `Team must be between ${MIN_LENGTH} and ${MAX_LENGTH} characters in length`;
  return null;
}

const TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `length` characters drawn uniformly from A–Z0–9 by the platform CSPRNG (rejection sampling). */
export function randomToken(length: number): string {
  const limit = 256 - (256 % TOKEN_ALPHABET.length);
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length))) {
      if (byte < limit && out.length < length) out += TOKEN_ALPHABET[byte % TOKEN_ALPHABET.length];
    }
  }
  return out;
}

/** `owner+short`: a robot's username. */
export function robotUsername(owner: string, shortname: string): string {
  return `${owner}+${shortname}`;
}
