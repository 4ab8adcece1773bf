/**
 * Quay's OAuth access tokens as API credentials (data/model/oauth.py validate_access_token,
 * auth/oauth.py validate_app_oauth_token): the first 20 characters name the row in
 * `oauthaccesstoken`, the rest is checked against its bcrypt `token_code`; the token must
 * be unexpired (`expires_at`, UTC) and its user enabled. Tokens minted by Quay keep working.
 */
import { verifyPassword } from "../auth/passwords.js";
import type { Clock } from "../ports/clock.js";
import type { Queryable } from "../ports/sql.js";
import { findOAuthAccessToken } from "../../db/queries/management-accounts.js";
import { parseScopes, type ApiCaller } from "./access.js";

/** Quay's ACCESS_TOKEN_PREFIX_LENGTH. */
const TOKEN_NAME_LENGTH = 20;

/** The caller an OAuth access token stands for; null when it does not validate. */
export async function callerFromOAuthToken(sql: Queryable, clock: Clock, token: string): Promise<ApiCaller | null> {
  if (token.length <= TOKEN_NAME_LENGTH) return null;
  const row = await findOAuthAccessToken(sql, token.slice(0, TOKEN_NAME_LENGTH));
  if (row === null || !(await verifyPassword(token.slice(TOKEN_NAME_LENGTH), row.token_code).catch(() => false))) return null;
  if (row.expires_at.getTime() <= clock.now() || !row.user_enabled || row.user_organization || row.user_robot) return null;
  return {
    id: row.user_id,
    username: row.username,
    uuid: row.user_uuid,
    scopes: parseScopes(row.scope),
    oauth: { tokenId: row.id, uuid: row.uuid, clientId: row.client_id, application: row.application_name },
  };
}
