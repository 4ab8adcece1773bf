/**
 * Audit entries of management writes (written by core/audit.ts): the signed-in caller
 * as the performer, and OAuth token details added to the metadata as Quay adds them.
 */
import type { Queryable } from "../ports/sql.js";
import { recordAudit } from "../audit.js";
import type { ManagementDeps, RequestContext } from "./deps.js";

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
  await recordAudit(tx, {
    kind: event.kind,
    namespaceId: event.namespaceId,
    performerId: caller?.id ?? null,
    repositoryId: event.repositoryId ?? null,
    ip: ctx.ip,
    metadata,
    at: new Date(deps.clock.now()),
  });
}
