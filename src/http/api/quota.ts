/**
 * Quota endpoints (Quay's endpoints/api/namespacequota.py): organization quotas and
 * their limits, and the signed-in user's own, read-only. Writes answer 201 `"Created"`
 * or 204 as Quay does.
 */
import type { Context } from "hono";
import {
  changeOrganizationQuota,
  createOrganizationQuota,
  deleteOrganizationQuota,
  getOrganizationQuota,
  getUserQuota,
  listOrganizationQuotas,
  listUserQuotas,
} from "../../core/management/quota.js";
import {
  changeOrganizationQuotaLimit,
  createOrganizationQuotaLimit,
  deleteOrganizationQuotaLimit,
  getOrganizationQuotaLimit,
  getUserQuotaLimit,
  listOrganizationQuotaLimits,
  listUserQuotaLimits,
} from "../../core/management/quota-limits.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { readJson } from "./request.js";

type Deps = ReturnType<typeof managementDeps>;
type Answer = (deps: Deps, c: Context) => Promise<Response>;

function handler(answer: Answer) {
  return (services: AppServices) => {
    const deps = managementDeps(services);
    return (c: Context) => answer(deps, c);
  };
}

const org = (c: Context) => c.req.param("orgname")!;
const quotaId = (c: Context) => c.req.param("quotaId")!;
const limitId = (c: Context) => c.req.param("limitId")!;

export const listOrgQuotas = handler(async (deps, c) => c.json(await listOrganizationQuotas(deps, requestContext(c), org(c))));

export const createOrgQuota = handler(async (deps, c) => {
  await createOrganizationQuota(deps, requestContext(c), org(c), await readJson(c));
  return c.json("Created", 201);
});

export const getOrgQuota = handler(async (deps, c) => c.json(await getOrganizationQuota(deps, requestContext(c), org(c), quotaId(c))));

export const changeOrgQuota = handler(async (deps, c) =>
  c.json(await changeOrganizationQuota(deps, requestContext(c), org(c), quotaId(c), await readJson(c))),
);

export const deleteOrgQuota = handler(async (deps, c) => {
  await deleteOrganizationQuota(deps, requestContext(c), org(c), quotaId(c));
  return c.body(null, 204);
});

export const listOrgQuotaLimits = handler(async (deps, c) =>
  c.json(await listOrganizationQuotaLimits(deps, requestContext(c), org(c), quotaId(c))),
);

export const createOrgQuotaLimit = handler(async (deps, c) => {
  await createOrganizationQuotaLimit(deps, requestContext(c), org(c), quotaId(c), await readJson(c));
  return c.json("Created", 201);
});

export const getOrgQuotaLimit = handler(async (deps, c) =>
  c.json(await getOrganizationQuotaLimit(deps, requestContext(c), org(c), quotaId(c), limitId(c))),
);

export const changeOrgQuotaLimit = handler(async (deps, c) =>
  c.json(await changeOrganizationQuotaLimit(deps, requestContext(c), org(c), quotaId(c), limitId(c), await readJson(c))),
);

export const deleteOrgQuotaLimit = handler(async (deps, c) => {
  await deleteOrganizationQuotaLimit(deps, requestContext(c), org(c), quotaId(c), limitId(c));
  return c.body(null, 204);
});

export const listOwnQuotas = handler(async (deps, c) => c.json(await listUserQuotas(deps, requestContext(c))));
export const getOwnQuota = handler(async (deps, c) => c.json(await getUserQuota(deps, requestContext(c), quotaId(c))));
export const listOwnQuotaLimits = handler(async (deps, c) => c.json(await listUserQuotaLimits(deps, requestContext(c), quotaId(c))));
export const getOwnQuotaLimit = handler(async (deps, c) =>
  c.json(await getUserQuotaLimit(deps, requestContext(c), quotaId(c), limitId(c))),
);
