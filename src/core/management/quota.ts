/**
 * Organization quotas through Quay's REST endpoints (endpoints/api/namespacequota.py):
 * `/organization/<org>/quota[/<id>]` and the signed-in user's `/user/quota[/<id>]`.
 * Reads: organization members and superusers; writes: superusers only. Quay's bodies
 * (`limit_bytes` or a bitmath `limit` string), views, messages, statuses and audit
 * entries. The push path reads limits per request, so a change applies to the next push.
 */
import {
  deleteQuota,
  findNamespaceQuota,
  insertQuota,
  listNamespaceQuotas,
  listQuotaLimits,
  updateQuotaLimitBytes,
  type QuotaLimitView,
  type QuotaRow,
} from "../../db/queries/quota-api.js";
import { findNamespace } from "../../db/queries/management-accounts.js";
import type { Queryable } from "../ports/sql.js";
import { audit } from "./audit.js";
import { pyRepr } from "./body.js";
import type { ManagementDeps, RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import { formatLimit, LIMIT_PATTERN, MAX_LIMIT_BYTES, parseLimit } from "./quota-units.js";

export interface QuotaView {
  id: number | null;
  limit_bytes: number;
  limit: string;
  default_config: boolean;
  limits: { id: number; type: string; limit_percent: number }[];
  default_config_exists: boolean;
}

const LIMIT_BYTES_BRANCH = {
  required: ["limit_bytes"],
  properties: { limit_bytes: { type: "integer", description: "Number of bytes the organization is allowed" } },
};
const LIMIT_BRANCH = {
  required: ["limit"],
  properties: {
    limit: { type: "string", description: "Human readable storage capacity of the organization", pattern: LIMIT_PATTERN.source },
  },
};

/** Quay's FEATURE_QUOTA_MANAGEMENT: without it the endpoints do not exist. */
export function quotaFeatureOn(deps: ManagementDeps): void {
  if (!deps.config.quota.enabled) throw ManagementError.notFound();
}

/** Organization members and superusers read quotas. */
export async function requireQuotaReader(ctx: RequestContext, namespace: string): Promise<void> {
  if (!(await ctx.access.isOrgMember(namespace)) && !ctx.access.isSuperuser()) throw ManagementError.unauthorized();
}

/** Only superusers (signed in directly or with the `super:user` scope) change quotas. */
export function requireQuotaWriter(ctx: RequestContext): void {
  if (!ctx.access.isSuperuser()) throw ManagementError.unauthorized();
}

/** Path ids are integers; anything else names no quota or limit. */
export function pathId(text: string): number {
  if (!/^\d{1,9}$/.test(text)) throw ManagementError.notFound();
  return Number(text);
}

/** The quota `id` of `namespace`, or 404. */
export async function quotaOf(sql: Queryable, namespace: string, id: string): Promise<QuotaRow> {
  const quota = await findNamespaceQuota(sql, namespace, pathId(id));
  if (!quota) throw ManagementError.notFound();
  return quota;
}

export function limitView(limit: QuotaLimitView) {
  return { id: limit.id, type: limit.type, limit_percent: limit.percent_of_limit };
}

/** Quay's quota_view; `quota` null stands for the registry-wide default (DEFAULT_SYSTEM_REJECT_QUOTA_BYTES). */
export async function quotaView(deps: ManagementDeps, quota: QuotaRow | null): Promise<QuotaView> {
  const systemBytes = deps.config.quota.systemRejectBytes;
  const limitBytes = quota ? BigInt(quota.limit_bytes) : BigInt(systemBytes);
  return {
    id: quota?.id ?? null,
    limit_bytes: Number(limitBytes),
    limit: formatLimit(limitBytes),
    default_config: quota === null,
    limits: quota ? (await listQuotaLimits(deps.sql, quota.id)).map(limitView) : [],
    default_config_exists: systemBytes !== 0,
  };
}

function matches(body: Record<string, unknown>, branch: typeof LIMIT_BYTES_BRANCH | typeof LIMIT_BRANCH): boolean {
  if ("limit_bytes" in branch.properties) return Number.isInteger(body.limit_bytes);
  return typeof body.limit === "string" && LIMIT_PATTERN.test(body.limit);
}

/** The NewOrgQuota schema: exactly one of `limit_bytes` (integer) or `limit` (bitmath string), jsonschema's oneOf messages. */
function validateNewQuota(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw ManagementError.invalid(`${pyRepr(body)} is not of type 'object'`);
  const object = body as Record<string, unknown>;
  const valid = [LIMIT_BYTES_BRANCH, LIMIT_BRANCH].filter((branch) => matches(object, branch));
  if (valid.length === 0) throw ManagementError.invalid(`${pyRepr(object)} is not valid under any of the given schemas`);
  if (valid.length === 2) throw ManagementError.invalid(`${pyRepr(object)} is valid under each of ${valid.map(pyRepr).join(", ")}`);
  return object;
}

/** The UpdateOrgQuota schema: `{"limit_bytes"}`, `{"limit"}` or `{}`, nothing else. */
function validateQuotaUpdate(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw ManagementError.invalid(`${pyRepr(body)} is not of type 'object'`);
  const object = body as Record<string, unknown>;
  const keys = Object.keys(object);
  const ok =
    keys.length === 0 ||
    (keys.length === 1 && keys[0] === "limit_bytes" && Number.isInteger(object.limit_bytes)) ||
    (keys.length === 1 && keys[0] === "limit" && typeof object.limit === "string" && LIMIT_PATTERN.test(object.limit));
  if (!ok) throw ManagementError.invalid(`${pyRepr(object)} is not valid under any of the given schemas`);
  return object;
}

/** Bytes a validated body asks for, and how Python would print them ('5', or '0.0' from a string). */
function requestedBytes(body: Record<string, unknown>): { bytes: bigint; shown: string } | null {
  if ("limit" in body) {
    const bytes = typeof body.limit === "number" && Number.isInteger(body.limit) ? BigInt(body.limit) : parseLimit(String(body.limit));
    if (bytes === null) throw ManagementError.invalid("Invalid limit format, use a number followed by a unit (e.g. 1GiB)");
    return { bytes, shown: `${bytes}.0` };
  }
  if ("limit_bytes" in body) return { bytes: BigInt(body.limit_bytes as number), shown: String(body.limit_bytes) };
  return null;
}

/** Quay's create/update_namespace_quota checks: positive, and within BIGINT. */
function checkedBytes(requested: { bytes: bigint; shown: string }): bigint {
  if (requested.bytes <= 0n) throw ManagementError.invalid(`Invalid quota size limit value: '${requested.shown}'`);
  if (requested.bytes > MAX_LIMIT_BYTES) throw ManagementError.invalid("Unsupported quota size limit.");
  return requested.bytes;
}

/** An organization by name, or 404 (users are not organizations here, as in Quay's get_organization). */
async function organizationId(deps: ManagementDeps, org: string): Promise<number> {
  const found = await findNamespace(deps.sql, org);
  if (!found || !found.organization) throw ManagementError.notFound();
  return found.id;
}

/** `GET /organization/<org>/quota`: the quota views; the registry default when the organization has none and one is set. */
export async function listOrganizationQuotas(deps: ManagementDeps, ctx: RequestContext, org: string): Promise<QuotaView[]> {
  quotaFeatureOn(deps);
  await requireQuotaReader(ctx, org);
  await organizationId(deps, org);
  const quotas = await listNamespaceQuotas(deps.sql, org);
  if (quotas.length === 0 && deps.config.quota.systemRejectBytes !== 0) return [await quotaView(deps, null)];
  return Promise.all(quotas.map((quota) => quotaView(deps, quota)));
}

/** `POST /organization/<org>/quota`: 201 `"Created"`; one quota per organization. */
export async function createOrganizationQuota(deps: ManagementDeps, ctx: RequestContext, org: string, body: unknown): Promise<void> {
  quotaFeatureOn(deps);
  const data = validateNewQuota(body);
  requireQuotaWriter(ctx);
  const requested = requestedBytes(data)!;
  const namespaceId = await organizationId(deps, org);
  const exists = () => ManagementError.invalid(`Organization quota for '${org}' already exists`);
  if ((await listNamespaceQuotas(deps.sql, org)).length > 0) throw exists();
  const bytes = checkedBytes(requested);
  await deps.sql.transaction(async (tx) => {
    if ((await insertQuota(tx, namespaceId, bytes.toString())) === null) throw exists();
    await audit(tx, deps, ctx, {
      kind: "org_create_quota",
      namespaceId,
      metadata: { namespace: org, limit_bytes: Number(bytes), limit: formatLimit(bytes) },
    });
  });
}

/** `GET /organization/<org>/quota/<id>`. */
export async function getOrganizationQuota(deps: ManagementDeps, ctx: RequestContext, org: string, id: string): Promise<QuotaView> {
  quotaFeatureOn(deps);
  await requireQuotaReader(ctx, org);
  return quotaView(deps, await quotaOf(deps.sql, org, id));
}

/** `PUT /organization/<org>/quota/<id>`: the view after the change (a zero or absent size changes nothing, as in Quay). */
export async function changeOrganizationQuota(
  deps: ManagementDeps,
  ctx: RequestContext,
  org: string,
  id: string,
  body: unknown,
): Promise<QuotaView> {
  quotaFeatureOn(deps);
  if (ctx.access.caller?.scopes && !ctx.access.caller.scopes.has("super:user")) throw ManagementError.unauthorized();
  const data = validateQuotaUpdate(body);
  requireQuotaWriter(ctx);
  const quota = await quotaOf(deps.sql, org, id);
  const requested = requestedBytes(data);
  if (requested && requested.bytes !== 0n) {
    const bytes = checkedBytes(requested);
    const previous = BigInt(quota.limit_bytes);
    await deps.sql.transaction(async (tx) => {
      await updateQuotaLimitBytes(tx, quota.id, bytes.toString());
      await audit(tx, deps, ctx, {
        kind: "org_change_quota",
        namespaceId: quota.namespace_id,
        metadata: {
          namespace: org,
          limit_bytes: Number(bytes),
          limit: formatLimit(bytes),
          previous_limit_bytes: Number(previous),
          previous_limit: formatLimit(previous),
        },
      });
    });
    quota.limit_bytes = bytes.toString();
  }
  return quotaView(deps, quota);
}

/** `DELETE /organization/<org>/quota/<id>`: 204; its limits and notification state go with it. */
export async function deleteOrganizationQuota(deps: ManagementDeps, ctx: RequestContext, org: string, id: string): Promise<void> {
  quotaFeatureOn(deps);
  requireQuotaWriter(ctx);
  const quota = await quotaOf(deps.sql, org, id);
  const bytes = BigInt(quota.limit_bytes);
  await deps.sql.transaction(async (tx) => {
    await deleteQuota(tx, quota);
    await audit(tx, deps, ctx, {
      kind: "org_delete_quota",
      namespaceId: quota.namespace_id,
      metadata: { namespace: org, quota_id: quota.id, limit_bytes: Number(bytes), limit: formatLimit(bytes) },
    });
  });
}

/** The signed-in user administering their own account (Quay's require_user_admin), or 401/403. */
export function requireUserAdmin(ctx: RequestContext): string {
  const caller = ctx.access.requireCaller();
  if (ctx.access.userRole(caller.username) !== "admin") throw ManagementError.unauthorized();
  return caller.username;
}

/** `GET /user/quota`: the caller's own quotas (no registry default here, as in Quay). */
export async function listUserQuotas(deps: ManagementDeps, ctx: RequestContext): Promise<QuotaView[]> {
  quotaFeatureOn(deps);
  const username = requireUserAdmin(ctx);
  return Promise.all((await listNamespaceQuotas(deps.sql, username)).map((quota) => quotaView(deps, quota)));
}

/** `GET /user/quota/<id>`. */
export async function getUserQuota(deps: ManagementDeps, ctx: RequestContext, id: string): Promise<QuotaView> {
  quotaFeatureOn(deps);
  return quotaView(deps, await quotaOf(deps.sql, requireUserAdmin(ctx), id));
}
