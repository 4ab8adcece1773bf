/**
 * The strangler front's controls (a Pier extension, superusers only; docs/strangler.md):
 * `GET /api/v1/superuser/front` reads the rules in force, `PUT` replaces them, and
 * `POST /api/v1/superuser/front/killswitch` sends everything to legacy (`{"enabled":
 * false}` lifts it). Rules that do not validate get a 400 and the old ones stay. Each
 * change is audited as `pier_front_rules_change` on the superuser's own namespace.
 */
import type { Context } from "hono";
import { audit } from "../../core/management/audit.js";
import { ManagementError } from "../../core/management/errors.js";
import { FrontRulesError, parseFrontRules, type FrontRules } from "../../core/routing/rules.js";
import { ensureLogKind } from "../../db/queries/audit-log.js";
import type { AppServices } from "../context.js";
import { managementDeps, requestContext } from "./auth.js";
import { readJson } from "./request.js";

function superuserFront(services: AppServices, c: Context) {
  const context = requestContext(c);
  const caller = context.access.requireCaller();
  if (!context.access.isSuperuser()) throw ManagementError.unauthorized();
  if (services.front === null) throw ManagementError.notFound("the strangler front is off (set PIER_LEGACY_URL)");
  return { context, caller, store: services.front };
}

function view(rules: FrontRules) {
  return { killSwitch: rules.killSwitch, rules: rules.rules };
}

async function store(services: AppServices, c: Context, rules: FrontRules, change: string): Promise<Response> {
  const { context, caller, store } = superuserFront(services, c);
  await store.replace(rules);
  await services.registry.sql.transaction(async (tx) => {
    await ensureLogKind(tx, "pier_front_rules_change");
    await audit(tx, managementDeps(services), context, {
      kind: "pier_front_rules_change",
      namespaceId: caller.id,
      metadata: { change, kill_switch: rules.killSwitch, rules: rules.rules.length },
    });
  });
  return c.json(view(rules));
}

export function getFrontRules(services: AppServices) {
  return async function getFrontRules(c: Context): Promise<Response> {
    const { store } = superuserFront(services, c);
    return c.json(view(await store.current()));
  };
}

export function putFrontRules(services: AppServices) {
  return async function putFrontRules(c: Context): Promise<Response> {
    superuserFront(services, c);
    let rules: FrontRules;
    try {
      rules = parseFrontRules(await readJson(c));
    } catch (error) {
      if (error instanceof FrontRulesError) throw ManagementError.invalid(error.message);
      throw error;
    }
    return store(services, c, rules, "rules");
  };
}

export function postFrontKillSwitch(services: AppServices) {
  return async function postFrontKillSwitch(c: Context): Promise<Response> {
    const { store: rules } = superuserFront(services, c);
    const body = await readJson(c, { optional: true });
    const enabled = (body as { enabled?: unknown } | undefined)?.enabled ?? true;
    if (typeof enabled !== "boolean") throw ManagementError.invalid("enabled must be true or false");
    return store(services, c, { ...(await rules.current()), killSwitch: enabled }, enabled ? "kill_switch_on" : "kill_switch_off");
  };
}
