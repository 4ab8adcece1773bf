/**
 * Basic credentials as Quay checks them (auth/credentials.py): `$app` app-specific
 * tokens, robots (`owner+name` with their token), and users by username or e-mail with
 * their bcrypt password and Quay's exponential lockout after failed attempts. Each
 * password check is reserved in the user row before it runs, so parallel guesses
 * cannot outrun the lockout; unknown users and robots answer like wrong passwords.
 */
import { RegistryError } from "../errors/registry-error.js";
import { hasControlCharacter } from "../model/text.js";
import type { Clock } from "../ports/clock.js";
import type { Queryable } from "../ports/sql.js";
import { callerFromOAuthToken } from "../management/oauth.js";
import {
  clearLoginFailures,
  findAccessToken,
  findAppToken,
  findRobot,
  type LoginUserRow,
  reserveLoginAttempt,
  touchAppToken,
} from "../../db/queries/accounts.js";
import { findPrefixedRobot } from "../../db/queries/robot-tokens.js";
import { equalSecrets } from "./constant-time.js";
import type { FieldEncrypter } from "./field-encryption.js";
import { verifyPassword } from "./passwords.js";
import type { RobotTokenUses } from "./robot-token-uses.js";
import { isPierToken, isRobotToken, robotTokenHash } from "./robot-tokens.js";
import type { VerifiedPasswords } from "./verified-passwords.js";

export type Entity =
  | { kind: "user"; id: number; username: string; uuid: string | null }
  | { kind: "robot"; id: number; username: string }
  | { kind: "appspecifictoken"; id: number; username: string; userUuid: string | null; tokenUuid: string }
  /** A Quay OAuth access token: its user's rights, capped by the token's scopes. */
  | { kind: "oauthtoken"; id: number; username: string; tokenUuid: string; scopes: ReadonlySet<string> }
  /** A legacy repository access token: one role on one repository, no user. */
  | { kind: "token"; id: null; username: "$token"; repositoryId: number; role: string; code: string };

export interface CredentialDeps {
  sql: Queryable;
  clock: Clock;
  /** Decrypts Quay's encrypted token columns; null when no DATABASE_SECRET_KEY is configured. */
  fields: FieldEncrypter | null;
  /**
   * Password logins being checked in this process, by login and password: identical
   * parallel attempts (one client's parallel pulls, CI jobs) share one check instead of
   * being refused while it is reserved.
   */
  loginsInFlight: Map<string, Promise<Entity>>;
  /** Passwords verified moments ago here; absent: every login runs bcrypt. */
  verifiedPasswords?: VerifiedPasswords;
  /** Collects when prefixed robot tokens were last used; absent: not recorded. */
  robotTokenUses?: RobotTokenUses;
  /** Told the kind of every accepted credential (usage metrics: who still uses legacy flows). */
  onAccepted?: (kind: CredentialKind) => void;
}

/** What an accepted credential was: `robot_legacy` is Quay's encrypted robot token, `robot_prefixed` Pier's `pier_rbt_` one. */
export type CredentialKind = "password" | "app_token" | "robot_legacy" | "robot_prefixed" | "oauth_token" | "access_token";
export const CREDENTIAL_KINDS: readonly CredentialKind[] = [
  "password",
  "app_token",
  "robot_legacy",
  "robot_prefixed",
  "oauth_token",
  "access_token",
];

const APP_TOKEN_USERNAME = "$app";
const APP_TOKEN_NAME_LENGTH = 60;
/** Quay's legacy access tokens: a 32-character name, then the code. */
const ACCESS_TOKEN_NAME_LENGTH = 32;
const MAX_LOCKOUT_SECONDS = 3600;

function invalid(message: string): RegistryError {
  return new RegistryError("UNAUTHORIZED", message);
}

async function decrypted(deps: CredentialDeps, stored: string | null): Promise<string | null> {
  if (stored === null || deps.fields === null) return null;
  try {
    return await deps.fields.decrypt(stored);
  } catch {
    return null;
  }
}

async function appToken(deps: CredentialDeps, secret: string): Promise<Entity> {
  if (secret.length <= APP_TOKEN_NAME_LENGTH) throw invalid("Invalid token");
  const row = await findAppToken(deps.sql, secret.slice(0, APP_TOKEN_NAME_LENGTH), new Date(deps.clock.now()));
  const expected = row && (await decrypted(deps, row.token_secret));
  if (!row || expected === null || !equalSecrets(expected, secret.slice(APP_TOKEN_NAME_LENGTH))) throw invalid("Invalid token");
  if (!row.user_enabled) throw invalid("This user has been disabled. Please contact your administrator.");
  await touchAppToken(deps.sql, row.uuid, new Date(deps.clock.now()));
  return { kind: "appspecifictoken", id: row.user_id, username: row.username, userUuid: row.user_uuid, tokenUuid: row.uuid };
}

function unknownRobot(username: string): RegistryError {
  // Unknown robots get the wrong-token answer (Quay names them apart), so robot names cannot be probed.
  return invalid(`Could not find robot with username: ${username} and supplied password.`);
}

function enabledRobot(row: { id: number; username: string; owner_enabled: boolean }): Entity {
  if (!row.owner_enabled) throw invalid(`Robot owner of ${row.username} is disabled`);
  return { kind: "robot", id: row.id, username: row.username };
}

async function robot(deps: CredentialDeps, username: string, token: string): Promise<Entity> {
  const row = await findRobot(deps.sql, username);
  const expected = row && (await decrypted(deps, row.token));
  if (!row || expected === null || !equalSecrets(expected, token)) throw unknownRobot(username);
  return enabledRobot(row);
}

/** A `pier_rbt_` token: its checksum first (a mistyped token costs no query), then its SHA-256 against the stored one. */
async function prefixedRobot(deps: CredentialDeps, username: string, token: string): Promise<Entity> {
  if (!isRobotToken(token)) throw unknownRobot(username);
  const row = await findPrefixedRobot(deps.sql, username);
  if (!row || !equalSecrets(row.token_sha256, await robotTokenHash(token))) throw unknownRobot(username);
  const entity = enabledRobot(row);
  deps.robotTokenUses?.add(row.id, deps.clock.now());
  return entity;
}

/** Whole seconds until Quay's back-off after `row`'s failures ends; at least 1 (a parallel attempt just reserved a check). */
function retrySeconds(row: LoginUserRow, now: number): number {
  if (row.invalid_login_attempts <= 0) return 1;
  const waitSeconds = Math.min(2 ** (row.invalid_login_attempts - 1), MAX_LOCKOUT_SECONDS);
  return Math.max(1, Math.ceil((row.last_invalid_login.getTime() + waitSeconds * 1000 - now) / 1000));
}

async function passwordMatches(deps: CredentialDeps, storedHash: string | null, password: string): Promise<boolean> {
  const verified = deps.verifiedPasswords;
  if (verified && storedHash !== null && (await verified.has(storedHash, password))) return true;
  if (!(await verifyPassword(password, storedHash))) return false;
  if (verified && storedHash !== null) await verified.remember(storedHash, password);
  return true;
}

async function checkUser(deps: CredentialDeps, login: string, password: string): Promise<Entity> {
  const now = deps.clock.now();
  const row = await reserveLoginAttempt(deps.sql, login, new Date(now), MAX_LOCKOUT_SECONDS);
  if (!row) {
    await verifyPassword(password, null);
    throw invalid("Invalid Username or Password");
  }
  if (!row.reserved) throw invalid(`Too many login attempts. Try again in ${retrySeconds(row, now)} seconds.`);
  // The reservation already counts this attempt as failed.
  if (!(await passwordMatches(deps, row.password_hash, password))) throw invalid("Invalid Username or Password");
  await clearLoginFailures(deps.sql, row.id);
  if (!row.enabled) throw invalid("This user has been disabled. Please contact your administrator.");
  return { kind: "user", id: row.id, username: row.username, uuid: row.uuid };
}

/** A user login; the same login and password already being checked here shares that check's outcome. */
function user(deps: CredentialDeps, login: string, password: string): Promise<Entity> {
  const key = `${login}\u0000${password}`;
  const pending = deps.loginsInFlight.get(key);
  if (pending) return pending;
  const check = checkUser(deps, login, password).finally(() => deps.loginsInFlight.delete(key));
  deps.loginsInFlight.set(key, check);
  return check;
}

async function accessToken(deps: CredentialDeps, secret: string): Promise<Entity> {
  const row = secret.length > ACCESS_TOKEN_NAME_LENGTH ? await findAccessToken(deps.sql, secret.slice(0, ACCESS_TOKEN_NAME_LENGTH)) : null;
  const code = secret.slice(ACCESS_TOKEN_NAME_LENGTH);
  const expected = row && (await decrypted(deps, row.token_code));
  if (!row || expected === null || !equalSecrets(expected, code)) throw invalid("Invalid access token");
  return { kind: "token", id: null, username: "$token", repositoryId: row.repository_id, role: row.role, code };
}

async function oauthToken(deps: CredentialDeps, token: string): Promise<Entity> {
  const caller = await callerFromOAuthToken(deps.sql, deps.clock, token);
  if (caller === null || caller.oauth === null) throw invalid("Invalid oauth access token");
  return { kind: "oauthtoken", id: caller.id, username: caller.username, tokenUuid: caller.oauth.uuid, scopes: caller.scopes ?? new Set() };
}

function check(deps: CredentialDeps, username: string, password: string): [CredentialKind, Promise<Entity>] {
  if (username === APP_TOKEN_USERNAME) return ["app_token", appToken(deps, password)];
  if (username === "$token") return ["access_token", accessToken(deps, password)];
  if (username === "$oauthtoken") return ["oauth_token", oauthToken(deps, password)];
  if (username.includes("+")) {
    // Quay's tokens are A-Z0-9, so the prefix alone says which kind is meant; the placeholder fails here.
    if (isPierToken(password)) return ["robot_prefixed", prefixedRobot(deps, username, password)];
    return ["robot_legacy", robot(deps, username, password)];
  }
  return ["password", user(deps, username, password)];
}

/** The entity a Basic username/password pair names; UNAUTHORIZED with Quay's reason otherwise. */
export async function authenticate(deps: CredentialDeps, username: string, password: string): Promise<Entity> {
  const [kind, entity] = check(deps, username, password);
  const accepted = await entity;
  deps.onAccepted?.(kind);
  return accepted;
}

/** Username and password of an `Authorization: Basic …` header; null when it is not one or holds control characters. */
export function parseBasic(header: string | undefined): { username: string; password: string } | null {
  const match = header ? /^Basic\s+([A-Za-z0-9+/]+=*)\s*$/i.exec(header) : null;
  if (!match) return null;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(match[1]!), (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
  const colon = text.indexOf(":");
  return colon === -1 || hasControlCharacter(text) ? null : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
