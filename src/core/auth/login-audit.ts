/**
 * Login entries in the audit log, as Quay's /v2/auth writes them: `login_success` for a
 * pure login (credentials, no scope) and `login_failure` for refused credentials, with
 * metadata `{type: "v2auth", kind, username, useragent[, message]}`.
 */
import { recordAudit } from "../audit.js";
import type { Clock } from "../ports/clock.js";
import type { Queryable } from "../ports/sql.js";
import type { Entity } from "./credentials.js";

export interface LoginAttempt {
  /** The Basic username as sent (`$app`, `org+robot`, a username or e-mail). */
  username: string;
  ip: string | null;
  userAgent: string | null;
}

function credentialKind(username: string): string {
  if (username === "$app") return "app_specific_token";
  if (username === "$token") return "token";
  if (username === "$oauthtoken") return "oauth_token";
  return username.includes("+") ? "robot" : "user";
}

/**
 * The namespace an entry belongs to: the robot's owner, else the named user; when the
 * name matches nobody, the first account (Quay's fallback for entries without one).
 */
async function accountFor(sql: Queryable, username: string): Promise<number | null> {
  const owner = username.includes("+") ? username.slice(0, username.indexOf("+")) : username;
  const { rows } = await sql.query<{ id: number | null }>(
    `SELECT COALESCE((SELECT id FROM "user" WHERE username = $1), (SELECT min(id) FROM "user")) AS id`,
    [owner],
  );
  return rows[0]?.id ?? null;
}

export async function auditLoginSuccess(sql: Queryable, clock: Clock, entity: Entity, attempt: LoginAttempt): Promise<void> {
  const account = entity.kind === "robot" ? await accountFor(sql, entity.username) : entity.id;
  if (account === null) return;
  await recordAudit(sql, {
    kind: "login_success",
    namespaceId: account,
    performerId: entity.id,
    repositoryId: null,
    ip: attempt.ip,
    metadata: { type: "v2auth", kind: credentialKind(attempt.username), username: entity.username, useragent: attempt.userAgent ?? "" },
    at: new Date(clock.now()),
  });
}

export async function auditLoginFailure(sql: Queryable, clock: Clock, attempt: LoginAttempt, message: string): Promise<void> {
  const account = await accountFor(sql, attempt.username);
  if (account === null) return;
  await recordAudit(sql, {
    kind: "login_failure",
    namespaceId: account,
    performerId: null,
    repositoryId: null,
    ip: attempt.ip,
    metadata: {
      type: "v2auth",
      kind: credentialKind(attempt.username),
      username: attempt.username,
      useragent: attempt.userAgent ?? "",
      message,
    },
    at: new Date(clock.now()),
  });
}
