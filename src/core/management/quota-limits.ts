/**
 * Quota limits through Quay's REST endpoints (endpoints/api/namespacequota.py):
 * `/organization/<org>/quota/<id>/limit[/<limit_id>]` and the user's read-only
 * `/user/quota/<id>/limit[/<limit_id>]`. A limit is Warning or Reject (any case) at
 * 1–100 % of the quota. Where Quay answers 500 (an unknown type, a percent out of range
 * given to the duplicate check) Pier answers Quay's message with 400.
 */
import {
  deleteQuotaLimit,
  findQuotaLimit,
  insertQuotaLimit,
  listQuotaLimits,
  updateQuotaLimit,
  type QuotaLimitView,
} from "../../db/queries/quota-api.js";
import type { Queryable } from "../ports/sql.js";
import { audit } from "./audit.js";
import { validateBody } from "./body.js";
import type { ManagementDeps, RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import {
  limitView,
  pathId,
  quotaFeatureOn,
  quotaOf,
  quotaView,
  requireQuotaReader,
  requireQuotaWriter,
  requireUserAdmin,
  type QuotaView,
} from "./quota.js";

const NEW_LIMIT = {
  required: ["type", "threshold_percent"],
  properties: { type: { type: "string" }, threshold_percent: { type: "integer" } },
} as const;
const LIMIT_UPDATE = { properties: NEW_LIMIT.properties } as const;

const THRESHOLD_RANGE = "Quota limit threshold must be between 1 and 100";

/** Quay's `_quota_type`: Warning or Reject in any case, else 400. */
function quotaType(name: string): "Warning" | "Reject" {
  if (name.toLowerCase() === "warning") return "Warning";
  if (name.toLowerCase() === "reject") return "Reject";
  throw ManagementError.invalid("Quota type must be one of [Warning, Reject]");
}

function checkedPercent(percent: number): number {
  if (!(percent > 0 && percent <= 100)) throw ManagementError.invalid(THRESHOLD_RANGE);
  return percent;
}

async function limitOf(sql: Queryable, quotaId: number, id: string): Promise<QuotaLimitView> {
  const limit = await findQuotaLimit(sql, quotaId, pathId(id));
  if (!limit) throw ManagementError.notFound();
  return limit;
}

/** `GET …/quota/<id>/limit`: the limit views. */
export async function listOrganizationQuotaLimits(deps: ManagementDeps, ctx: RequestContext, org: string, quotaId: string) {
  quotaFeatureOn(deps);
  await requireQuotaReader(ctx, org);
  const quota = await quotaOf(deps.sql, org, quotaId);
  return (await listQuotaLimits(deps.sql, quota.id)).map(limitView);
}

/** `POST …/quota/<id>/limit`: 201 `"Created"`; an identical type and percent is refused. */
export async function createOrganizationQuotaLimit(deps: ManagementDeps, ctx: RequestContext, org: string, quotaId: string, body: unknown) {
  quotaFeatureOn(deps);
  const data = validateBody(body, NEW_LIMIT);
  requireQuotaWriter(ctx);
  const quota = await quotaOf(deps.sql, org, quotaId);
  const percent = data.threshold_percent as number;
  // Quay's duplicate check: a zero percent is no filter there, so any limit of the type counts.
  if (percent !== 0) checkedPercent(percent);
  const type = quotaType(data.type as string);
  await deps.sql.transaction(async (tx) => {
    if ((await listQuotaLimits(tx, quota.id, { type, percent: percent === 0 ? undefined : percent })).length > 0) {
      throw ManagementError.invalid("Quota limit already exists");
    }
    await insertQuotaLimit(tx, quota.id, type, checkedPercent(percent));
    await audit(tx, deps, ctx, {
      kind: "org_create_quota_limit",
      namespaceId: quota.namespace_id,
      metadata: { namespace: org, type: data.type, threshold_percent: percent },
    });
  });
}

/** `GET …/quota/<id>/limit/<limit_id>`: the limit view. */
export async function getOrganizationQuotaLimit(deps: ManagementDeps, ctx: RequestContext, org: string, quotaId: string, limitId: string) {
  quotaFeatureOn(deps);
  await requireQuotaReader(ctx, org);
  const quota = await quotaOf(deps.sql, org, quotaId);
  return limitView(await limitOf(deps.sql, quota.id, limitId));
}

/** `PUT …/quota/<id>/limit/<limit_id>`: the quota's view afterwards (Quay's shape); both fields checked before either is written. */
export async function changeOrganizationQuotaLimit(
  deps: ManagementDeps,
  ctx: RequestContext,
  org: string,
  quotaId: string,
  limitId: string,
  body: unknown,
): Promise<QuotaView> {
  quotaFeatureOn(deps);
  const data = validateBody(body, LIMIT_UPDATE);
  requireQuotaWriter(ctx);
  const quota = await quotaOf(deps.sql, org, quotaId);
  const limit = await limitOf(deps.sql, quota.id, limitId);
  const type = "type" in data ? quotaType(data.type as string) : limit.type;
  const percent = "threshold_percent" in data ? checkedPercent(data.threshold_percent as number) : limit.percent_of_limit;
  await deps.sql.transaction(async (tx) => {
    await updateQuotaLimit(tx, limit.id, type, percent);
    await audit(tx, deps, ctx, {
      kind: "org_change_quota_limit",
      namespaceId: quota.namespace_id,
      metadata: {
        namespace: org,
        type: "type" in data ? data.type : limit.type,
        threshold_percent: percent,
        previous_type: limit.type,
        previous_threshold_percent: limit.percent_of_limit,
      },
    });
  });
  return quotaView(deps, quota);
}

/** `DELETE …/quota/<id>/limit/<limit_id>`: 204; the threshold's notification state goes with it. */
export async function deleteOrganizationQuotaLimit(
  deps: ManagementDeps,
  ctx: RequestContext,
  org: string,
  quotaId: string,
  limitId: string,
) {
  quotaFeatureOn(deps);
  requireQuotaWriter(ctx);
  const quota = await quotaOf(deps.sql, org, quotaId);
  const limit = await limitOf(deps.sql, quota.id, limitId);
  await deps.sql.transaction(async (tx) => {
    await deleteQuotaLimit(tx, quota.namespace_id, limit);
    await audit(tx, deps, ctx, {
      kind: "org_delete_quota_limit",
      namespaceId: quota.namespace_id,
      metadata: { namespace: org, limit_id: limit.id, type: limit.type, threshold_percent: limit.percent_of_limit },
    });
  });
}

/** `GET /user/quota/<id>/limit`. */
export async function listUserQuotaLimits(deps: ManagementDeps, ctx: RequestContext, quotaId: string) {
  quotaFeatureOn(deps);
  const quota = await quotaOf(deps.sql, requireUserAdmin(ctx), quotaId);
  return (await listQuotaLimits(deps.sql, quota.id)).map(limitView);
}

/** `GET /user/quota/<id>/limit/<limit_id>`: Quay answers the quota's view here, not the limit's. */
export async function getUserQuotaLimit(deps: ManagementDeps, ctx: RequestContext, quotaId: string, limitId: string): Promise<QuotaView> {
  quotaFeatureOn(deps);
  const quota = await quotaOf(deps.sql, requireUserAdmin(ctx), quotaId);
  await limitOf(deps.sql, quota.id, limitId);
  return quotaView(deps, quota);
}
