/** Pier's prefixed robot tokens (schema `pier`, core/auth/robot-tokens.ts). */
import type { Queryable } from "../../core/ports/sql.js";
import { intArray } from "./arrays.js";

export interface PrefixedRobotRow {
  id: number;
  username: string;
  token_sha256: string;
  owner_enabled: boolean;
}

/** The robot's prefixed token hash; null when it has none or Quay regenerated its token since. */
export async function findPrefixedRobot(sql: Queryable, username: string): Promise<PrefixedRobotRow | null> {
  const { rows } = await sql.query<PrefixedRobotRow>(
    `SELECT r.id, r.username, p.token_sha256, o.enabled AS owner_enabled
     FROM "user" r
     JOIN "user" o ON o.username = split_part(r.username, '+', 1)
     JOIN pier.robot_token p ON p.robot_id = r.id
     JOIN robotaccounttoken t ON t.robot_account_id = r.id AND t.token = p.quay_token
     WHERE r.username = $1 AND r.robot = true`,
    [username],
  );
  return rows[0] ?? null;
}

/** Makes `tokenSha256` the robot's only prefixed token; `quayToken` is the robotaccounttoken.token written with it. */
export async function storeRobotTokenHash(sql: Queryable, robotId: number, tokenSha256: string, quayToken: string, nowMs: number) {
  await sql.query(
    `INSERT INTO pier.robot_token (robot_id, token_sha256, quay_token, created_ms) VALUES ($1, $2, $3, $4)
     ON CONFLICT (robot_id) DO UPDATE SET token_sha256 = $2, quay_token = $3, created_ms = $4, last_used_ms = NULL`,
    [robotId, tokenSha256, quayToken, nowMs],
  );
}

/** Retires the robot's prefixed token (it goes back to a Quay token). */
export async function deleteRobotTokenHash(sql: Queryable, robotId: number): Promise<void> {
  await sql.query(`DELETE FROM pier.robot_token WHERE robot_id = $1`, [robotId]);
}

/** When each robot's prefixed token was last used (ms), keeping a newer time already stored. */
export async function recordRobotTokenUses(sql: Queryable, uses: ReadonlyMap<number, number>): Promise<void> {
  await sql.query(
    `UPDATE pier.robot_token p SET last_used_ms = GREATEST(COALESCE(p.last_used_ms, 0), u.at_ms)
     FROM unnest($1::int[], $2::bigint[]) AS u (robot_id, at_ms)
     WHERE p.robot_id = u.robot_id`,
    [intArray([...uses.keys()]), intArray([...uses.values()])],
  );
}

/** Which of the robots log in with a prefixed token, and its last use (ms; null: never used). */
export async function robotTokenLastUses(sql: Queryable, robotIds: readonly number[]): Promise<Map<number, number | null>> {
  if (robotIds.length === 0) return new Map();
  const { rows } = await sql.query<{ robot_id: number; last_used_ms: string | null }>(
    `SELECT p.robot_id, p.last_used_ms FROM pier.robot_token p
     JOIN robotaccounttoken t ON t.robot_account_id = p.robot_id AND t.token = p.quay_token
     WHERE p.robot_id = ANY($1::int[])`,
    [intArray(robotIds)],
  );
  return new Map(rows.map((r) => [r.robot_id, r.last_used_ms === null ? null : Number(r.last_used_ms)]));
}
