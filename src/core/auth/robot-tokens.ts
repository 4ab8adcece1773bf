/**
 * Pier's prefixed robot tokens (PIER_ROBOT_TOKENS=prefixed): `pier_rbt_`, 36 random
 * base62 characters (~214 bits), then 6 base62 characters of the CRC-32 of what precedes
 * them, so secret scanners can tell a real token from a look-alike without asking Pier
 * and logins can refuse a mistyped one without a database round trip. Only the token's
 * SHA-256 is stored (schema `pier`): the secret is random and long, so a fast hash
 * resists guessing as well as a slow password hash would, and a login costs
 * microseconds instead of bcrypt's ~100 ms.
 */
import { equalSecrets } from "./constant-time.js";

export const ROBOT_TOKEN_PREFIX = "pier_rbt_";
/**
 * What robotaccounttoken holds for a robot with a prefixed token, followed by random
 * characters: Quay's rows stay complete, and since Quay's own tokens are A-Z0-9 only,
 * Pier tells it apart and never accepts it (see isPierToken).
 */
export const ROBOT_TOKEN_PLACEHOLDER = "pier_placeholder_";

/** Whether a robot password is one of Pier's (a prefixed token or the placeholder), never a Quay token. */
export function isPierToken(password: string): boolean {
  return password.startsWith("pier_");
}
const RANDOM_LENGTH = 36;
const CHECKSUM_LENGTH = 6;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const SHAPE = new RegExp(`^${ROBOT_TOKEN_PREFIX}[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`);

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE) of an ASCII string: a typo check, not a security measure. */
function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) crc = CRC_TABLE[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function base62(value: number, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++, value = Math.floor(value / 62)) out = BASE62[value % 62] + out;
  return out;
}

/** A new token from the platform CSPRNG (rejection sampling keeps the characters uniform). */
export function mintRobotToken(): string {
  let random = "";
  while (random.length < RANDOM_LENGTH) {
    for (const byte of crypto.getRandomValues(new Uint8Array(RANDOM_LENGTH))) {
      if (byte < 248 && random.length < RANDOM_LENGTH) random += BASE62[byte % 62];
    }
  }
  const body = ROBOT_TOKEN_PREFIX + random;
  return body + base62(crc32(body), CHECKSUM_LENGTH);
}

/** Whether `token` has the prefixed form and its checksum holds. */
export function isRobotToken(token: string): boolean {
  if (!SHAPE.test(token)) return false;
  const body = token.slice(0, -CHECKSUM_LENGTH);
  return equalSecrets(base62(crc32(body), CHECKSUM_LENGTH), token.slice(-CHECKSUM_LENGTH));
}

/** Lowercase hex SHA-256 of the token, through the platform's crypto (node:crypto's Web Crypto, workerd). */
export async function robotTokenHash(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
