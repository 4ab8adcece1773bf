/**
 * Quota sizes as Quay writes and reads them with the bitmath library: `limit` strings
 * such as "10 GiB", "500M" or "1Ki" (a bare letter or letter+B is decimal, letter+i or
 * letter+iB binary, as `parse_string_unsafe` reads them) and the view's
 * `best_prefix().format("{value:.1f} {unit}")` text ("10.0 GiB", "512.0 Byte").
 */

/** The `limit` pattern of Quay's NewOrgQuota / UpdateOrgQuota schemas. */
export const LIMIT_PATTERN =
  /^(\d+\s?(B|KiB|MiB|GiB|TiB|PiB|EiB|ZiB|YiB|Ki|Mi|Gi|Ti|Pi|Ei|Zi|Yi|KB|MB|GB|TB|PB|EB|ZB|YB|K|M|G|T|P|E|Z|Y)?)$/;

const PREFIXES = "KMGTPEZY";
const BINARY_UNITS = ["Byte", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/** PostgreSQL's BIGINT ceiling: larger limits are Quay's "Unsupported quota size limit.". */
export const MAX_LIMIT_BYTES = 9223372036854775807n;

/** Bytes a bitmath string stands for, or null when bitmath would refuse it (Quay: "Invalid limit format"). */
export function parseLimit(text: string): bigint | null {
  const match = /^\s*(\d+)\s?([KMGTPEZY]?)(i?)B?\s*$/i.exec(text);
  if (!match) return null;
  const [, digits, prefix, binary] = match;
  if (prefix === "") return binary === "" ? BigInt(digits!) : null;
  const power = BigInt(PREFIXES.indexOf(prefix!.toUpperCase()) + 1);
  return BigInt(digits!) * (binary === "" ? 1000n : 1024n) ** power;
}

/** bitmath's best binary prefix with one decimal, rounding half to even as Python's format does. */
export function formatLimit(bytes: bigint): string {
  let unit = 0;
  while (unit < BINARY_UNITS.length - 1 && bytes >= 1024n ** BigInt(unit + 1)) unit++;
  const divisor = 1024n ** BigInt(unit);
  const tenths = (bytes * 10n) / divisor;
  const remainder = (bytes * 10n) % divisor;
  const twice = remainder * 2n;
  const rounded = twice > divisor || (twice === divisor && tenths % 2n === 1n) ? tenths + 1n : tenths;
  return `${rounded / 10n}.${rounded % 10n} ${BINARY_UNITS[unit]}`;
}
