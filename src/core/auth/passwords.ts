/**
 * Passwords as Quay stores them in `user.password_hash`: bcrypt with 12 rounds
 * ($2b$), verified by re-hashing with the stored salt (bcryptjs is pure JS, so the
 * same code runs at the edge and in Node). bcrypt is the one security algorithm Pier runs
 * outside the platform's crypto, FIPS mode included: Quay reads and writes only bcrypt
 * here, so nothing else keeps a shared database's logins working (docs/security.md).
 */
import bcrypt from "bcryptjs";

const ROUNDS = 12;
/** A cost-12 hash of a random, discarded password: checked when an account has none. */
const NO_ACCOUNT_HASH = "$2b$12$qup6rxvyFdcTi8u1Z6p8Q.NKqf2zcgOI9qMCcLY8CSVyorumwxuJS";
const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, ROUNDS);
}

/** Never true without a hash; the same bcrypt work is spent either way, so timing does not tell unknown accounts apart. */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  const matches = await bcrypt.compare(password, hash || NO_ACCOUNT_HASH);
  return Boolean(hash) && matches;
}

/** A random password of `length` unambiguous characters, from the platform CSPRNG. */
export function generatePassword(length = 24): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  // 256 % 57 bias is below 1%; fine for a generated initial password.
  return Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join("");
}
