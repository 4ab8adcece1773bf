/**
 * User accounts in Quay's `user` table (users, organizations and robots share it).
 */
import { generatePassword, hashPassword, verifyPassword } from "./auth/passwords.js";
import type { Clock } from "./ports/clock.js";
import type { Queryable } from "./ports/sql.js";

export interface EnsureUserInput {
  username: string;
  email: string;
  password: string;
  /** Seconds tags stay recoverable after deletion (Quay's DEFAULT_TAG_EXPIRATION). */
  removedTagExpirationSeconds: number;
}

export type EnsureUserResult = "created" | "password-updated" | "unchanged";

/**
 * Creates the user as Quay's create_user_noverify does (verified, enabled, bcrypt
 * password), or brings an existing user's password in line with `password`.
 */
export async function ensureUser(sql: Queryable, clock: Clock, input: EnsureUserInput): Promise<EnsureUserResult> {
  const existing = await sql.query<{ id: number; password_hash: string | null }>(
    `SELECT id, password_hash FROM "user" WHERE username = $1`,
    [input.username],
  );
  const row = existing.rows[0];
  if (row) {
    if (await verifyPassword(input.password, row.password_hash)) return "unchanged";
    await sql.query(`UPDATE "user" SET password_hash = $1 WHERE id = $2`, [await hashPassword(input.password), row.id]);
    return "password-updated";
  }
  const now = new Date(clock.now());
  await sql.query(
    `INSERT INTO "user" (uuid, username, password_hash, email, verified, organization, robot, invoice_email,
       invalid_login_attempts, last_invalid_login, removed_tag_expiration_s, enabled, creation_date)
     VALUES ($1, $2, $3, $4, true, false, false, false, 0, $5, $6, true, $5)`,
    [crypto.randomUUID(), input.username, await hashPassword(input.password), input.email, now, input.removedTagExpirationSeconds],
  );
  return "created";
}

export async function userExists(sql: Queryable, username: string): Promise<boolean> {
  const { rows } = await sql.query(`SELECT 1 FROM "user" WHERE username = $1`, [username]);
  return rows.length > 0;
}

export interface BootstrapAdminInput {
  username: string;
  /** From configuration; when null a password is generated for a new account only. */
  password: string | null;
  email: string;
  removedTagExpirationSeconds: number;
}

export interface BootstrapAdminResult {
  username: string;
  /** Set only when this call generated the password, so it can be shown once. */
  generatedPassword: string | null;
  result: EnsureUserResult;
}

/** The first administrator, like Quay's mirror-registry install: created once, never silently reset. */
export async function bootstrapAdmin(sql: Queryable, clock: Clock, input: BootstrapAdminInput): Promise<BootstrapAdminResult> {
  if (input.password === null && (await userExists(sql, input.username))) {
    return { username: input.username, generatedPassword: null, result: "unchanged" };
  }
  const generatedPassword = input.password === null ? generatePassword() : null;
  const result = await ensureUser(sql, clock, { ...input, password: input.password ?? generatedPassword! });
  return { username: input.username, generatedPassword, result };
}
