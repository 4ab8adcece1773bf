/**
 * Auto-prune policies through Quay's REST endpoints (endpoints/api/policy.py):
 * `/organization/<org>/autoprunepolicy/`, `/repository/<ns>/<repo>/autoprunepolicy/`
 * and `/user/autoprunepolicy/`, each with `<uuid>` for one policy. Quay's body shapes,
 * status codes, messages, duplicate check, task row and audit entries; Pier also
 * refuses a tag pattern PostgreSQL cannot compile (Quay stores it and fails at prune time).
 */
import { pythonJson } from "../audit.js";
import {
  assertValidPolicy,
  InvalidAutoPrunePolicy,
  policyView,
  readPolicyObject,
  samePolicy,
  type AutoPrunePolicyView,
} from "../autoprune/policy.js";
import { findNamespace } from "../../db/queries/management-accounts.js";
import { findRepositoryRecord } from "../../db/queries/management-repositories.js";
import {
  deletePolicy,
  ensureTask,
  findPolicy,
  insertPolicy,
  isValidTagPattern,
  listPolicies,
  lockPolicies,
  updatePolicy,
  type PolicyScope,
} from "../../db/queries/autoprune.js";
import { audit } from "./audit.js";
import { validateBody } from "./body.js";
import type { ManagementDeps, RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import { repositoryPath } from "./repositories.js";

const POLICY_BODY = {
  required: ["method", "value"],
  properties: {
    method: { type: "string" },
    value: { type: ["integer", "string"] },
    tagPattern: { type: "string" },
    tagPatternMatches: { type: "boolean" },
  },
} as const;

/** Who a policy belongs to, resolved and authorized: the scope plus what audit entries name. */
export interface PolicyTarget {
  scope: PolicyScope;
  namespace: string;
  /** Set for repository policies. */
  repository: string | null;
}

/** Which endpoint family is asked: an organization, a repository path, or the caller's own namespace. */
export type PolicyOwner = { kind: "organization"; name: string } | { kind: "repository"; path: string } | { kind: "user" };

function featureOn(deps: ManagementDeps): void {
  if (!deps.config.autoPrune) throw ManagementError.notFound();
}

/** Authorizes first (401/403), then resolves (404), as Quay's permission decorators run before the model. */
async function resolveTarget(deps: ManagementDeps, ctx: RequestContext, owner: PolicyOwner, write: boolean): Promise<PolicyTarget> {
  featureOn(deps);
  const superRead = !write && ctx.access.isSuperuser();
  if (owner.kind === "user") {
    const caller = ctx.access.requireCaller();
    if (ctx.access.userRole(caller.username) !== "admin") throw ManagementError.unauthorized();
    return { scope: { kind: "namespace", namespaceId: caller.id }, namespace: caller.username, repository: null };
  }
  if (owner.kind === "organization") {
    if (!superRead && !(await ctx.access.isOrgAdmin(owner.name))) throw ManagementError.unauthorized();
    const org = await findNamespace(deps.sql, owner.name);
    if (!org || !org.organization) throw ManagementError.notFound();
    return { scope: { kind: "namespace", namespaceId: org.id }, namespace: org.username, repository: null };
  }
  const name = repositoryPath(deps, owner.path);
  if (!superRead && (await ctx.access.repositoryRole(name.namespace, name.repository)) !== "admin") throw ManagementError.unauthorized();
  const record = await findRepositoryRecord(deps.sql, name.namespace, name.repository);
  if (!record) throw ManagementError.notFound();
  return {
    scope: { kind: "repository", namespaceId: record.namespace_id, repositoryId: record.id },
    namespace: name.namespace,
    repository: name.repository,
  };
}

/** The stored policy JSON from a request body (Quay's policy_config), validated; 400 with Quay's message otherwise. */
async function policyFromBody(deps: ManagementDeps, body: unknown): Promise<Record<string, unknown>> {
  const data = validateBody(body, POLICY_BODY);
  const pattern = typeof data.tagPattern === "string" ? data.tagPattern.trim() : null;
  const config: Record<string, unknown> = {
    method: data.method,
    value: data.value,
    tag_pattern: pattern,
    tag_pattern_matches: data.tagPatternMatches ?? true,
  };
  try {
    assertValidPolicy(config);
  } catch (error) {
    if (error instanceof InvalidAutoPrunePolicy) throw ManagementError.invalid(error.message);
    throw error;
  }
  if (pattern !== null && !(await isValidTagPattern(deps.sql, pattern))) {
    throw ManagementError.invalid(`tag_pattern is not a valid regular expression: ${pattern}`);
  }
  return config;
}

function kindOf(target: PolicyTarget, action: "create" | "update" | "delete"): string {
  return `${action}_${target.repository === null ? "namespace" : "repository"}_autoprune_policy`;
}

function withRepo(target: PolicyTarget, metadata: Record<string, unknown>): Record<string, unknown> {
  return target.repository === null ? metadata : { ...metadata, repo: target.repository };
}

function repositoryIdOf(target: PolicyTarget): number | null {
  return target.scope.kind === "repository" ? target.scope.repositoryId : null;
}

/** `GET …/autoprunepolicy/`: `{"policies": [view…]}`. */
export async function listAutoPrunePolicies(deps: ManagementDeps, ctx: RequestContext, owner: PolicyOwner) {
  const target = await resolveTarget(deps, ctx, owner, false);
  const rows = await listPolicies(deps.sql, target.scope);
  return { policies: rows.map((row) => policyView(row.uuid, row.policy)) };
}

/** `GET …/autoprunepolicy/<uuid>`: the view, or 404. */
export async function getAutoPrunePolicy(deps: ManagementDeps, ctx: RequestContext, owner: PolicyOwner, uuid: string) {
  const target = await resolveTarget(deps, ctx, owner, false);
  const row = await findPolicy(deps.sql, target.scope, uuid);
  if (!row) throw ManagementError.notFound();
  return policyView(row.uuid, row.policy) satisfies AutoPrunePolicyView;
}

/** `POST …/autoprunepolicy/`: the new policy's uuid; also queues the namespace's task. */
export async function createAutoPrunePolicy(deps: ManagementDeps, ctx: RequestContext, owner: PolicyOwner, body: unknown) {
  const target = await resolveTarget(deps, ctx, owner, true);
  const config = await policyFromBody(deps, body);
  const uuid = crypto.randomUUID();
  await deps.sql.transaction(async (tx) => {
    await lockPolicies(tx, target.scope);
    for (const row of await listPolicies(tx, target.scope)) {
      if (samePolicy(readPolicyObject(row.policy), config)) {
        const where = target.repository === null ? "namespace" : "repository";
        throw ManagementError.invalid(`Existing policy with same values for this ${where}, duplicate policies are not permitted`);
      }
    }
    await insertPolicy(tx, target.scope, uuid, pythonJson(config));
    await ensureTask(tx, target.scope.namespaceId);
    await audit(tx, deps, ctx, {
      kind: kindOf(target, "create"),
      namespaceId: target.scope.namespaceId,
      repositoryId: repositoryIdOf(target),
      metadata: withRepo(target, { ...config, namespace: target.namespace }),
    });
  });
  return { uuid };
}

/** `PUT …/autoprunepolicy/<uuid>`: replaces the policy (no duplicate check, as in Quay); 404 when missing. */
export async function updateAutoPrunePolicy(deps: ManagementDeps, ctx: RequestContext, owner: PolicyOwner, uuid: string, body: unknown) {
  const target = await resolveTarget(deps, ctx, owner, true);
  const config = await policyFromBody(deps, body);
  await deps.sql.transaction(async (tx) => {
    await lockPolicies(tx, target.scope);
    if (!(await updatePolicy(tx, target.scope, uuid, pythonJson(config)))) throw ManagementError.notFound();
    await audit(tx, deps, ctx, {
      kind: kindOf(target, "update"),
      namespaceId: target.scope.namespaceId,
      repositoryId: repositoryIdOf(target),
      metadata: withRepo(target, { ...config, namespace: target.namespace }),
    });
  });
}

/** `DELETE …/autoprunepolicy/<uuid>`: `{"uuid"}`, or 404. The task stays; the worker drops it when no policy is left. */
export async function deleteAutoPrunePolicy(deps: ManagementDeps, ctx: RequestContext, owner: PolicyOwner, uuid: string) {
  const target = await resolveTarget(deps, ctx, owner, true);
  await deps.sql.transaction(async (tx) => {
    if (!(await deletePolicy(tx, target.scope, uuid))) throw ManagementError.notFound();
    await audit(tx, deps, ctx, {
      kind: kindOf(target, "delete"),
      namespaceId: target.scope.namespaceId,
      repositoryId: repositoryIdOf(target),
      metadata: withRepo(target, { policy_uuid: uuid, namespace: target.namespace }),
    });
  });
  return { uuid };
}
