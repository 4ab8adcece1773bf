/**
 * Robot accounts of organizations and users (endpoints/api/robot.py, data/model/user.py
 * create_robot / regenerate_robot_token / delete_robot). A robot is a `user` row named
 * `owner+short` with robot=true and a uuid e-mail, a `robotaccounttoken` holding its
 * 64-character token encrypted with DATABASE_SECRET_KEY, a `robotaccountmetadata` row
 * and a `quayrobot` federated login. With PIER_ROBOT_TOKENS=prefixed, new and regenerated
 * robots get a `pier_rbt_` token instead, kept only as SHA-256 in `pier.robot_token` and
 * shown once; their robotaccounttoken holds an encrypted placeholder Pier never accepts,
 * so Quay's rows stay complete while only the prefixed token logs the robot in here.
 */
import {
  deleteRobotAccount,
  findNamespace,
  findRobotAccount,
  insertNamespace,
  insertRobotRows,
  listRobotGrants,
  listRobots,
  replaceRobotToken,
  robotUsedByMirror,
  type RobotRow,
} from "../../db/queries/management-accounts.js";
import { deleteRobotTokenHash, robotTokenLastUses, storeRobotTokenHash } from "../../db/queries/robot-tokens.js";
import type { FieldEncrypter } from "../auth/field-encryption.js";
import { mintRobotToken, ROBOT_TOKEN_PLACEHOLDER, robotTokenHash } from "../auth/robot-tokens.js";
import type { Queryable } from "../ports/sql.js";
import { pythonJson } from "../audit.js";
import { audit } from "./audit.js";
import { validateBody } from "./body.js";
import { bumpRepositories, type ManagementDeps, type RequestContext } from "./deps.js";
import { isUniqueViolation, ManagementError } from "./errors.js";
import { namespaceNameIssue, randomToken, robotUsername } from "./names.js";
import { avatar, formatDate } from "./views.js";

/** Whose robots: an organization's (`/organization/<org>/robots`) or the caller's (`/user/robots`). */
export type RobotOwner = { kind: "org"; name: string } | { kind: "user" };

const CREATE_ROBOT = {
  properties: { description: { type: "string", maxLength: 255 }, unstructured_metadata: { type: "object" } },
} as const;

const TOKEN_LENGTH = 64;
/** Quay's ROBOT_MAX_SIZE for create bodies. */
export const ROBOT_BODY_LIMIT = 1024 * 1024;

const NO_KEY =
  "Robot accounts need the database secret key: set PIER_DATABASE_SECRET_KEY (Quay's DATABASE_SECRET_KEY) to the key of this database";

function encrypter(deps: ManagementDeps): FieldEncrypter {
  if (deps.fields === null) throw ManagementError.invalid(NO_KEY);
  return deps.fields;
}

/** The owner's namespace row after checking the caller may administer it (or, with `member`, see it). */
async function ownerNamespace(deps: ManagementDeps, ctx: RequestContext, owner: RobotOwner, member = false) {
  const access = ctx.access;
  if (owner.kind === "user") {
    const caller = access.requireCaller();
    if (access.userRole(caller.username) !== "admin") throw ManagementError.unauthorized();
    return (await findNamespace(deps.sql, caller.username))!;
  }
  const allowed = member ? await access.isOrgMember(owner.name) : await access.isOrgAdmin(owner.name);
  if (!allowed) throw ManagementError.unauthorized();
  const org = await findNamespace(deps.sql, owner.name);
  if (!org || !org.organization) throw ManagementError.notFound(`Organization does not exist: ${owner.name}`);
  return org;
}

async function decryptToken(deps: ManagementDeps, row: RobotRow): Promise<string | null> {
  if (row.token === null) return null;
  try {
    return await encrypter(deps).decrypt(row.token);
  } catch (error) {
    if (error instanceof ManagementError) throw error;
    throw ManagementError.invalid("The robot's token cannot be decrypted with the configured database secret key");
  }
}

function parseJson(text: string | null): unknown {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

/** A robot's new token of the configured kind: `shown` goes to the caller once, the rest is stored. */
interface NewRobotToken {
  shown: string;
  /** robotaccounttoken.token: the shown token encrypted, or for a prefixed token the encrypted placeholder. */
  quayToken: string;
  sha256: string | null;
}

async function newRobotToken(deps: ManagementDeps): Promise<NewRobotToken> {
  const fields = encrypter(deps);
  if (deps.config.robotTokens === "quay") {
    const shown = randomToken(TOKEN_LENGTH);
    return { shown, quayToken: await fields.encrypt(shown), sha256: null };
  }
  const shown = mintRobotToken();
  return {
    shown,
    quayToken: await fields.encrypt(ROBOT_TOKEN_PLACEHOLDER + randomToken(TOKEN_LENGTH)),
    sha256: await robotTokenHash(shown),
  };
}

/** Records a prefixed token's hash, or retires the robot's old one when it goes back to a Quay token. */
async function storeTokenHash(tx: Queryable, deps: ManagementDeps, robotId: number, token: NewRobotToken): Promise<void> {
  if (token.sha256 === null) await deleteRobotTokenHash(tx, robotId);
  else await storeRobotTokenHash(tx, robotId, token.sha256, token.quayToken, deps.clock.now());
}

/** When the robot was last used: its prefixed token's last use, or Quay's last_accessed. */
function lastUse(prefixed: ReadonlyMap<number, number | null>, row: RobotRow): Date | null {
  const usedMs = prefixed.get(row.id);
  return usedMs ? new Date(usedMs) : row.last_accessed;
}

function robotView(
  row: RobotRow,
  token: string | null | undefined,
  metadata?: unknown,
  lastUsed = row.last_accessed,
): Record<string, unknown> {
  const view: Record<string, unknown> = {
    name: row.username,
    created: formatDate(row.creation_date),
    last_accessed: formatDate(lastUsed),
    description: row.description ?? "",
  };
  if (token !== undefined) view.token = token;
  if (metadata !== undefined) view.unstructured_metadata = metadata;
  return view;
}

async function requireRobot(deps: ManagementDeps, owner: string, shortname: string, message: string): Promise<RobotRow> {
  const row = await findRobotAccount(deps.sql, robotUsername(owner, shortname));
  if (!row) throw ManagementError.notFound(message);
  return row;
}

export interface RobotListOptions {
  permissions: boolean;
  token: boolean;
  limit: number | null;
}

/** `GET …/robots`: org members see the list, only admins see tokens and grants. */
export async function listRobotAccounts(deps: ManagementDeps, ctx: RequestContext, owner: RobotOwner, options: RobotListOptions) {
  const namespace = await ownerNamespace(deps, ctx, owner, true);
  const admin = owner.kind === "user" || (await ctx.access.isOrgAdmin(namespace.username));
  const withToken = admin && options.token;
  const withGrants = admin && options.permissions;
  const rows = await listRobots(deps.sql, namespace.username, options.limit);
  const grants = withGrants
    ? await listRobotGrants(
        deps.sql,
        rows.map((r) => r.id),
      )
    : [];
  // Robots with a prefixed token: it was shown once and is kept only hashed, so their token reads null.
  const prefixed = await robotTokenLastUses(
    deps.sql,
    rows.map((r) => r.id),
  );
  const robots = [];
  for (const row of rows) {
    const readable = withToken && !prefixed.has(row.id) && deps.fields !== null;
    const token = readable ? await decryptToken(deps, row).catch(() => null) : withToken ? null : undefined;
    const view = robotView(row, token, undefined, lastUse(prefixed, row));
    if (withGrants) {
      const mine = grants.filter((g) => g.robot_id === row.id);
      const teams = [...new Set(mine.flatMap((g) => (g.team ? [g.team] : [])))];
      view.teams = teams.map((team) => ({ name: team, avatar: avatar(team, team, "team") }));
      view.repositories = [...new Set(mine.flatMap((g) => (g.repository ? [g.repository] : [])))];
    }
    robots.push(view);
  }
  return { robots };
}

/** `GET …/robots/<short>`: admins only, with its token and metadata. */
export async function getRobotAccount(deps: ManagementDeps, ctx: RequestContext, owner: RobotOwner, shortname: string) {
  const namespace = await ownerNamespace(deps, ctx, owner);
  const row = await requireRobot(deps, namespace.username, shortname, "Could not find robot with specified username");
  const prefixed = await robotTokenLastUses(deps.sql, [row.id]);
  const token = prefixed.has(row.id) ? null : await decryptToken(deps, row);
  return robotView(row, token, parseJson(row.unstructured_json), lastUse(prefixed, row));
}

/** `PUT …/robots/<short>`: 201 with the new robot, its token and metadata. */
export async function createRobotAccount(deps: ManagementDeps, ctx: RequestContext, owner: RobotOwner, shortname: string, body: unknown) {
  const namespace = await ownerNamespace(deps, ctx, owner);
  const data = body === undefined ? {} : validateBody(body, CREATE_ROBOT);
  const issue = namespaceNameIssue(shortname);
  if (issue) throw ManagementError.invalid(`The name for the robot '${shortname}' is invalid: ${issue}`);
  const username = robotUsername(namespace.username, shortname);
  const existing = `Existing robot with name: ${username}`;
  if (await findNamespace(deps.sql, username)) throw ManagementError.invalid(existing);

  const description = (data.description as string | undefined) || "";
  const metadata = (data.unstructured_metadata as Record<string, unknown> | undefined) ?? null;
  const token = await newRobotToken(deps);
  try {
    await deps.sql.transaction(async (tx) => {
      const now = new Date(deps.clock.now());
      const robotId = await insertNamespace(tx, {
        uuid: crypto.randomUUID(),
        username,
        email: crypto.randomUUID(),
        organization: false,
        robot: true,
        removedTagExpirationSeconds: 1_209_600,
        now,
      });
      await insertRobotRows(tx, robotId, token.quayToken, description.slice(0, 255), pythonJson(metadata ?? {}));
      if (token.sha256 !== null) await storeTokenHash(tx, deps, robotId, token);
      await audit(tx, deps, ctx, {
        kind: "create_robot",
        namespaceId: namespace.id,
        metadata: { robot: shortname, description: data.description ?? null, unstructured_metadata: metadata },
      });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw ManagementError.invalid(existing);
    throw error;
  }
  const row = (await findRobotAccount(deps.sql, username))!;
  return { ...robotView(row, token.shown, metadata), description };
}

/** `DELETE …/robots/<short>`: 204; refused while a mirror uses the robot. */
export async function deleteRobotAccountFor(
  deps: ManagementDeps,
  ctx: RequestContext,
  owner: RobotOwner,
  shortname: string,
): Promise<void> {
  const namespace = await ownerNamespace(deps, ctx, owner);
  const username = robotUsername(namespace.username, shortname);
  const row = await requireRobot(deps, namespace.username, shortname, `Could not find robot with username: ${username}`);
  if (await robotUsedByMirror(deps.sql, row.id)) throw ManagementError.invalid("Robot is being used by a mirror");
  const changed = await deps.sql.transaction(async (tx) => {
    const repositories = await deleteRobotAccount(tx, row.id);
    await audit(tx, deps, ctx, { kind: "delete_robot", namespaceId: namespace.id, metadata: { robot: shortname } });
    return repositories;
  });
  await bumpRepositories(deps, changed);
}

/** `POST …/robots/<short>/regenerate`: a new token; the old one stops working at once. */
export async function regenerateRobotToken(deps: ManagementDeps, ctx: RequestContext, owner: RobotOwner, shortname: string) {
  const namespace = await ownerNamespace(deps, ctx, owner);
  const row = await requireRobot(deps, namespace.username, shortname, "Could not find robot with specified username");
  const token = await newRobotToken(deps);
  await deps.sql.transaction(async (tx) => {
    await replaceRobotToken(tx, row.id, token.quayToken, crypto.randomUUID(), crypto.randomUUID());
    await storeTokenHash(tx, deps, row.id, token);
    await audit(tx, deps, ctx, { kind: "regenerate_robot_token", namespaceId: namespace.id, metadata: { robot: shortname } });
  });
  return robotView(row, token.shown);
}
