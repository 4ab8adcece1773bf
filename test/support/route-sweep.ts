/**
 * The route sweep: every route of the route table asked with hostile values in each path
 * parameter and, on writes, hostile bodies (not JSON, JSON of the wrong shape, every field
 * Quay's API knows set to the wrong type, NUL, huge or negative numbers). An answer is a
 * defect if it is a 5xx, or a refusal outside its surface's error format (OCI errors on /v2,
 * Quay's error JSON on /api/v1). Runtime-neutral: the origin's test and the edge's (workerd)
 * run the same sweep. Failures are collected, so one run lists them all.
 */
import { routes, type Route } from "../../src/http/routes.js";

/** The optional features the sweep turns on, so their routes answer rather than 404. */
export const SWEEP_FEATURES = {
  PIER_QUOTA_MANAGEMENT: "true",
  PIER_PROXY_CACHE: "true",
  PIER_AUTO_PRUNE: "true",
  PIER_REPO_MIRROR: "true",
  // The front on, every request routed to Pier: its API is swept, legacy is never asked.
  PIER_LEGACY_URL: "http://127.0.0.1:9",
  PIER_FRONT_RULES: JSON.stringify({ rules: [{ id: "all", families: ["*"], target: "pier" }] }),
};

/** Path parameter values no route should choke on (already percent-encoded where they need to be). */
const HOSTILE_VALUES = [
  "%00",
  "a%00b",
  "x".repeat(1000),
  "%C3%A9t%C3%A9",
  "%FF%FE",
  "..%2F..%2Fetc",
  "-1",
  "0",
  "1.5",
  "1e309",
  "99999999999999999999999",
  "%20",
  "'%3B%20DROP%20TABLE%20tag%3B%20--",
  `sha256:${"z".repeat(64)}`,
  `sha256:${"a".repeat(64)}`,
  `sha512:${"b".repeat(10)}`,
  "UPPER",
];

/** Field names Quay's API bodies use, each set at once to one hostile value. */
const FIELDS = [
  "name",
  "role",
  "namespace",
  "repository",
  "visibility",
  "description",
  "repo_kind",
  "limit_bytes",
  "type",
  "threshold_percent",
  "method",
  "value",
  "tagPattern",
  "tagPatternMatches",
  "manifest_digest",
  "expiration",
  "include_submanifests",
  "is_enabled",
  "external_reference",
  "sync_interval",
  "sync_start_date",
  "root_rule",
  "rule_kind",
  "rule_value",
  "external_registry_username",
  "external_registry_password",
  "external_registry_config",
  "robot_username",
  "state",
  "upstream_registry",
  "expiration_s",
  "insecure",
  "upstream_registry_username",
  "upstream_registry_password",
  "anonymous_pulls",
  "killSwitch",
  "rules",
  "unstructured_metadata",
  "email",
  "dry_run",
];
const FIELD_VALUES: unknown[] = [null, 12, -1, 1e308, 1.5, true, [], {}, "\u0000", "x".repeat(70_000), [{ a: 1 }], { a: [null] }];

/** Bodies that are not what any handler expects, before the field-by-field ones. */
const RAW_BODIES = ["", "not json", "null", "[]", "{}", '"text"', "123", '{"a":', '{"name": "\\u0000"}', "[".repeat(5000)];

function bodies(): string[] {
  return [...RAW_BODIES, ...FIELD_VALUES.map((value) => JSON.stringify(Object.fromEntries(FIELDS.map((field) => [field, value]))))];
}

/** The route's path with every parameter given `valid[param]`, except `hostile` in `param`. */
function concretePath(route: Route, valid: Record<string, string>, override?: { param: string; value: string }): string {
  return route.path.replace(/:(\w+)(\{[^}]*\})?/g, (_, param: string) => {
    if (override?.param === param) return override.value;
    const value = valid[param];
    if (value === undefined) throw new Error(`no valid value for :${param} of ${route.name}`);
    return value;
  });
}

const paramsOf = (route: Route) => [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);

export interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

/** What the sweep looks at in a response (its body read whole: refusals are small). */
export async function answerOf(response: Response): Promise<Answer> {
  return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() };
}

/** What is wrong with an answer on `surface`, or null. */
function defect(surface: "v2" | "api", method: string, answer: Answer): string | null {
  if (answer.status >= 500) return `status ${answer.status}: ${answer.text.slice(0, 300)}`;
  if (answer.status < 400 || method === "HEAD") return null;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return `a ${answer.status} that is not JSON (${answer.contentType}): ${answer.text.slice(0, 200)}`;
  }
  if (surface === "v2") {
    const errors = (body as { errors?: { code?: unknown; message?: unknown }[] }).errors;
    const ok =
      Array.isArray(errors) && errors.length > 0 && errors.every((e) => typeof e.code === "string" && typeof e.message === "string");
    return ok ? null : `a ${answer.status} without OCI errors: ${answer.text.slice(0, 200)}`;
  }
  const { detail, error_message: message, error_type: type } = body as Record<string, unknown>;
  const ok = typeof detail === "string" && typeof message === "string" && typeof type === "string";
  return ok ? null : `a ${answer.status} not in Quay's error format: ${answer.text.slice(0, 200)}`;
}

export async function sweep(
  selected: Route[],
  valid: Record<string, string>,
  send: (method: string, path: string, body: string | undefined) => Promise<Answer>,
): Promise<{ failures: string[]; asked: number }> {
  const failures: string[] = [];
  let asked = 0;
  const ask = async (route: Route, path: string, body: string | undefined, what: string) => {
    asked++;
    const answer = await send(route.method, path, body);
    const wrong = defect(route.path.startsWith("/v2") ? "v2" : "api", route.method, answer);
    if (wrong) failures.push(`${route.name} ${route.method} ${path.slice(0, 160)} (${what}): ${wrong}`);
  };
  for (const route of selected) {
    for (const param of paramsOf(route)) {
      for (const value of HOSTILE_VALUES) {
        const body = route.method === "GET" || route.method === "DELETE" ? undefined : "{}";
        await ask(route, concretePath(route, valid, { param, value }), body, `:${param} = ${value.slice(0, 40)}`);
      }
    }
    // Deletes with valid parameters would only remove what the other routes are asked about.
    if (route.method === "GET" || route.method === "DELETE") continue;
    for (const body of bodies()) await ask(route, concretePath(route, valid), body, `body ${body.slice(0, 40)}`);
  }
  return { failures, asked };
}

export const apiRoutes = () => routes.filter((route) => route.path.startsWith("/api/v1/"));
/** /v2 routes but the token endpoint (its hostile input has tests of its own). */
export const registryRoutes = () => routes.filter((route) => route.path.startsWith("/v2/") && route.name !== "token");

export interface SweepReply {
  status: number;
  json: unknown;
}

/**
 * As a superuser (`call` carries the credentials): an organization with a repository `app`,
 * a team, robots, a quota with a limit and an auto-prune policy. The valid value of every
 * /api/v1 path parameter.
 */
export async function seedSweepTargets(
  call: (method: string, path: string, body?: unknown) => Promise<SweepReply>,
  org: string,
  superuser: string,
): Promise<Record<string, string>> {
  const expectStatus = async (reply: Promise<SweepReply>, status: number, what: string) => {
    const { status: got, json } = await reply;
    if (got !== status) throw new Error(`${what}: ${got} ${JSON.stringify(json)}`);
    return json as Record<string, unknown> & unknown[];
  };
  await expectStatus(call("POST", "/api/v1/organization/", { name: org }), 201, "organization");
  await expectStatus(
    call("POST", "/api/v1/repository", { namespace: org, repository: "app", visibility: "private", description: "" }),
    201,
    "repository",
  );
  await expectStatus(call("PUT", `/api/v1/organization/${org}/team/devs`, { role: "member" }), 200, "team");
  await expectStatus(call("PUT", `/api/v1/organization/${org}/robots/bot`, {}), 201, "organization robot");
  await expectStatus(call("PUT", `/api/v1/user/robots/mine`, {}), 201, "user robot");
  await expectStatus(call("POST", `/api/v1/organization/${org}/quota`, { limit_bytes: 10_000_000 }), 201, "quota");
  const quotaId = String(
    ((await expectStatus(call("GET", `/api/v1/organization/${org}/quota`), 200, "quotas")) as { id: number }[])[0]!.id,
  );
  await expectStatus(
    call("POST", `/api/v1/organization/${org}/quota/${quotaId}/limit`, { type: "Warning", threshold_percent: 80 }),
    201,
    "limit",
  );
  const limits = (await expectStatus(call("GET", `/api/v1/organization/${org}/quota/${quotaId}/limit`), 200, "limits")) as { id: string }[];
  const policy = await expectStatus(
    call("POST", `/api/v1/organization/${org}/autoprunepolicy/`, { method: "number_of_tags", value: 5 }),
    201,
    "policy",
  );
  return {
    orgname: org,
    repository: `${org}/app`,
    teamname: "devs",
    membername: superuser,
    username: superuser,
    shortname: "bot",
    quotaId,
    limitId: String(limits[0]!.id),
    uuid: String(policy.uuid),
    tag: "latest",
    job: "gc",
  };
}
