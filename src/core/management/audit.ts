/**
 * Audit entries in `logentry3` as Quay's log_action writes them: the namespace as the
 * account, the signed-in user as the performer, OAuth token details added to the
 * metadata, and the metadata serialised the way Python's json.dumps does.
 */
import type { Queryable } from "../ports/sql.js";
import { insertLogEntry } from "../../db/queries/management-repositories.js";
import type { ManagementDeps, RequestContext } from "./deps.js";

/** Python's `json.dumps(value)`: `", "` and `": "` separators, non-ASCII escaped as \uXXXX. */
export function pythonJson(value: unknown): string {
  if (value === undefined || value === null) return "null";
  if (typeof value === "string") {
    return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => `${pythonJson(key)}: ${pythonJson(item)}`);
  return `{${entries.join(", ")}}`;
}

export interface AuditEvent {
  kind: string;
  /** The namespace the entry belongs to (`account_id`). */
  namespaceId: number;
  repositoryId?: number | null;
  metadata?: Record<string, unknown>;
}

export async function audit(tx: Queryable, deps: ManagementDeps, ctx: RequestContext, event: AuditEvent): Promise<void> {
  const caller = ctx.access.caller;
  const metadata: Record<string, unknown> = { ...(event.metadata ?? {}) };
  if (caller?.oauth) {
    metadata.oauth_token_id = caller.oauth.tokenId;
    metadata.oauth_token_application_id = caller.oauth.clientId;
    metadata.oauth_token_application = caller.oauth.application;
  }
  await insertLogEntry(tx, {
    kind: event.kind,
    accountId: event.namespaceId,
    performerId: caller?.id ?? null,
    repositoryId: event.repositoryId ?? null,
    ip: ctx.ip,
    metadataJson: pythonJson(metadata),
    at: new Date(deps.clock.now()),
  });
}
