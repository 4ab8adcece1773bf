/**
 * `/api/v1/repository/<ns>/<repo>/mirror…` (Quay's endpoints/api/mirror.py): create,
 * read and change a repository's mirror, ask for a sync now, cancel one; plus Pier's
 * counters (`…/mirror/metrics`) and Quay's `…/changestate`. Behind PIER_REPO_MIRROR
 * (404 when off, as Quay). Repository admins and superusers only. Credentials are stored
 * encrypted in Quay's `v0$$` format and the password is never returned.
 */
import { findRobotAccount } from "../../db/queries/management-accounts.js";
import { findRepositoryRecord, type RepositoryRecord } from "../../db/queries/management-repositories.js";
import { upsertUserPermission } from "../../db/queries/management-permissions.js";
import {
  directRole,
  findMirrorConfig,
  findMirrorStats,
  insertMirrorConfig,
  insertMirrorRule,
  namespaceHasOrgMirror,
  setRepositoryState,
  updateMirror,
  updateMirrorRule,
  type MirrorChanges,
  type MirrorRow,
} from "../../db/queries/repo-mirror.js";
import { pythonJson } from "../audit.js";
import { audit } from "../management/audit.js";
import { validateBody } from "../management/body.js";
import type { ManagementDeps, RequestContext } from "../management/deps.js";
import { ManagementError } from "../management/errors.js";
import { repositoryPath } from "../management/repositories.js";
import type { RepositoryName } from "../model/names.js";
import type { Queryable } from "../ports/sql.js";
import {
  checkArchitectureFilter,
  checkReference,
  checkRegistryConfig,
  checkRootRule,
  checkTimeout,
  credential,
  CREATE_REQUIRED,
  MIRROR_FIELDS,
  parseStartDate,
  storedRegistryConfig,
  type RegistryConfigValue,
} from "./config-body.js";
import { storedGlobs } from "./globs.js";
import { MirrorStatus, RepositoryState, statusName } from "./states.js";

const INVALID_USERNAME = "(invalid. please re-enter)";

interface MirrorTarget {
  name: RepositoryName;
  record: RepositoryRecord;
}

/** Feature flag, then admin or superuser (401/403), then the repository (404). */
async function mirrorRepository(deps: ManagementDeps, ctx: RequestContext, path: string, body?: () => void): Promise<MirrorTarget> {
  if (!deps.config.repoMirror) throw ManagementError.notFound();
  const name = repositoryPath(deps, path);
  if (!ctx.access.isSuperuser() && (await ctx.access.repositoryRole(name.namespace, name.repository)) !== "admin") {
    throw ManagementError.unauthorized();
  }
  body?.();
  const record = await findRepositoryRecord(deps.sql, name.namespace, name.repository);
  if (record === null) throw ManagementError.notFound();
  return { name, record };
}

function mirrorAudit(tx: Queryable, deps: ManagementDeps, ctx: RequestContext, target: MirrorTarget, changed: string, to: unknown) {
  return audit(tx, deps, ctx, {
    kind: "repo_mirror_config_changed",
    namespaceId: target.record.namespace_id,
    repositoryId: target.record.id,
    metadata: { repo: target.name.repository, namespace: target.name.namespace, changed, to },
  });
}

/** The robot named in the body: it must exist (Quay's texts) and belong to the repository's namespace. */
async function mirrorRobot(deps: ManagementDeps, target: MirrorTarget, username: string): Promise<number> {
  const robot = await findRobotAccount(deps.sql, username);
  if (robot === null) throw ManagementError.invalidMessage("Could not find robot with specified username");
  if (robot.username.split("+")[0] !== target.name.namespace) throw ManagementError.invalidMessage("Invalid robot");
  return robot.id;
}

/** Quay's set_mirroring_robot: the robot gets `write` unless it already has write or admin. */
async function grantRobotWrite(tx: Queryable, repositoryId: number, robotId: number): Promise<void> {
  const role = await directRole(tx, repositoryId, robotId);
  if (role === null || role === "read") await upsertUserPermission(tx, repositoryId, robotId, "write");
}

async function encryptCredential(deps: ManagementDeps, value: string | null): Promise<string | null> {
  if (value === null) return null;
  if (deps.fields === null) {
    throw ManagementError.invalid("Registry credentials cannot be stored: the registry has no database secret key (PIER_DATABASE_SECRET_KEY)");
  }
  return deps.fields.encrypt(value);
}

/** `POST …/mirror`: 201 `""`; the repository becomes MIRROR. Nothing is written when any check fails. */
export async function createMirror(deps: ManagementDeps, ctx: RequestContext, path: string, body: unknown): Promise<void> {
  let data: Record<string, unknown> = {};
  const target = await mirrorRepository(deps, ctx, path, () => {
    data = validateBody(body, { ...MIRROR_FIELDS, required: CREATE_REQUIRED });
  });
  if (await namespaceHasOrgMirror(deps.sql, target.record.namespace_id)) {
    throw ManagementError.invalid("Repository mirror configuration cannot be managed when organization-level mirroring is configured");
  }
  if ((await findMirrorConfig(deps.sql, target.record.id)) !== null) throw existing(target);
  const registryConfig = data.external_registry_config === undefined ? {} : checkRegistryConfig(data.external_registry_config);
  const reference = checkReference(data.external_reference as string, registryConfig.verify_tls === false, policy(deps));
  const architectureFilter = checkArchitectureFilter((data.architecture_filter as unknown[] | null | undefined) ?? null);
  const timeout = checkTimeout(data.skopeo_timeout_interval as number);
  const startMs = parseStartDate(data.sync_start_date as string);
  const globs = checkRootRule(data.root_rule);
  const robotId = await mirrorRobot(deps, target, data.robot_username as string);
  const username = credential(data.external_registry_username, "external_registry_username");
  const password = credential(data.external_registry_password, "external_registry_password");
  if (password !== null && username === null) {
    throw ManagementError.invalid("Unable to set a new password without also specifying a username.");
  }
  const [encryptedUser, encryptedPassword] = [await encryptCredential(deps, username), await encryptCredential(deps, password)];
  const nowMs = deps.clock.now();
  await deps.sql.transaction(async (tx) => {
    if ((await findMirrorConfig(tx, target.record.id, true)) !== null) throw existing(target);
    const ruleId = await insertMirrorRule(tx, target.record.id, pythonJson(globs), nowMs);
    await grantRobotWrite(tx, target.record.id, robotId);
    await insertMirrorConfig(tx, {
      repositoryId: target.record.id,
      isEnabled: (data.is_enabled as boolean | undefined) ?? true,
      robotId,
      externalReference: reference,
      username: encryptedUser,
      password: encryptedPassword,
      externalRegistryConfig: pythonJson(registryConfig),
      architectureFilter,
      syncInterval: data.sync_interval as number,
      startMs,
      skopeoTimeout: timeout,
      ruleId,
      nowMs,
    });
    await setRepositoryState(tx, target.record.id, RepositoryState.MIRROR);
    await mirrorAudit(tx, deps, ctx, target, "external_reference", reference);
  });
  await deps.cache.bump(target.name.full);
}

function existing(target: MirrorTarget): ManagementError {
  return new ManagementError("conflict", `Mirror configuration already exits for repository ${target.name.full}`);
}

function policy(deps: ManagementDeps) {
  return { allowedHosts: deps.config.ssrfAllowedHosts };
}

/** Python's `datetime.isoformat() + "Z"` of PostgreSQL's timestamp text. */
function isoText(text: string | null): string | null {
  if (text === null) return null;
  const [date, time] = text.split(" ");
  const [clock, fraction] = (time ?? "").split(".");
  return `${date}T${clock}${fraction ? `.${fraction.padEnd(6, "0")}` : ""}Z`;
}

async function decryptedUsername(deps: ManagementDeps, stored: string | null): Promise<string | null> {
  if (stored === null) return null;
  if (deps.fields === null) return INVALID_USERNAME;
  try {
    return await deps.fields.decrypt(stored);
  } catch {
    return INVALID_USERNAME;
  }
}

function storedArchitectures(text: string | null): unknown[] {
  try {
    const parsed = JSON.parse(text ?? "[]") as unknown;
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

async function requireMirror(deps: ManagementDeps, target: MirrorTarget, sql: Queryable = deps.sql, lock = false): Promise<MirrorRow> {
  const row = await findMirrorConfig(sql, target.record.id, lock);
  if (row === null) throw ManagementError.notFound();
  return row;
}

/** `GET …/mirror`: Quay's view; the password is never returned. */
export async function getMirror(deps: ManagementDeps, ctx: RequestContext, path: string): Promise<Record<string, unknown>> {
  const target = await mirrorRepository(deps, ctx, path);
  const row = await requireMirror(deps, target);
  return {
    is_enabled: row.is_enabled,
    mirror_type: "PULL",
    external_reference: row.external_reference,
    external_registry_username: await decryptedUsername(deps, row.external_registry_username),
    external_registry_config: storedRegistryConfig(row.external_registry_config),
    sync_interval: row.sync_interval,
    sync_start_date: isoText(row.start_text),
    sync_expiration_date: isoText(row.expiration_text),
    sync_retries_remaining: row.sync_retries_remaining,
    sync_status: statusName(row.sync_status),
    root_rule: { rule_kind: "tag_glob_csv", rule_value: storedGlobs(row.rule_value) },
    robot_username: row.robot_username,
    skopeo_timeout_interval: Number(row.skopeo_timeout),
    architecture_filter: storedArchitectures(row.architecture_filter),
  };
}

/** Quay's audit names of the registry config keys. */
const CONFIG_KEYS = ["verify_tls", "unsigned_images"] as const;
const PROXY_KEYS = ["http_proxy", "https_proxy", "no_proxy"] as const;

/**
 * `PUT …/mirror`: a partial change, all checked first, then written in one transaction
 * with one audit entry per changed field (Quay's `changed` names). 201 `""`. A change
 * while a sync runs keeps the sync's claim token (Quay's replaces it, orphaning the sync).
 */
export async function changeMirror(deps: ManagementDeps, ctx: RequestContext, path: string, body: unknown): Promise<void> {
  let data: Record<string, unknown> = {};
  const target = await mirrorRepository(deps, ctx, path, () => {
    data = validateBody(body, MIRROR_FIELDS);
  });
  const current = await requireMirror(deps, target);
  const changes: MirrorChanges = {};
  const audits: [string, unknown][] = [];
  const storedConfig = storedRegistryConfig(current.external_registry_config);
  let newConfig: RegistryConfigValue & Record<string, unknown> = storedConfig;
  if (data.external_registry_config !== undefined) {
    const given = checkRegistryConfig(data.external_registry_config);
    newConfig = { ...storedConfig, ...given };
    if (given.proxy !== undefined) newConfig.proxy = { ...(storedConfig.proxy ?? {}), ...given.proxy };
    for (const key of CONFIG_KEYS) if (given[key] !== undefined) audits.push([key, given[key]]);
    for (const key of PROXY_KEYS) if (given.proxy?.[key] !== undefined) audits.push([key, given.proxy[key]]);
    changes.external_registry_config = pythonJson(newConfig);
  }
  if (data.is_enabled !== undefined) {
    changes.is_enabled = data.is_enabled as boolean;
    audits.push(["is_enabled", data.is_enabled]);
  }
  if (data.external_reference !== undefined) {
    changes.external_reference = checkReference(data.external_reference as string, newConfig.verify_tls === false, policy(deps));
    audits.push(["external_reference", changes.external_reference]);
  }
  if (data.architecture_filter !== undefined) {
    changes.architecture_filter = checkArchitectureFilter(data.architecture_filter as unknown[] | null);
    audits.push(["architecture_filter", []]);
  }
  if (data.skopeo_timeout_interval !== undefined) {
    changes.skopeo_timeout = checkTimeout(data.skopeo_timeout_interval as number);
    audits.push(["skopeo_timeout_interval", changes.skopeo_timeout]);
  }
  if (data.sync_start_date !== undefined) {
    changes.sync_start_date = parseStartDate(data.sync_start_date as string);
    audits.push(["sync_start_date", Math.floor(changes.sync_start_date / 1000)]);
  }
  if (data.sync_interval !== undefined) {
    changes.sync_interval = data.sync_interval as number;
    audits.push(["sync_interval", changes.sync_interval]);
  }
  const globs = data.root_rule === undefined ? null : checkRootRule(data.root_rule);
  if (globs !== null) audits.push(["mirror_rule", globs]);
  if (data.robot_username !== undefined) changes.internal_robot_id = await mirrorRobot(deps, target, data.robot_username as string);
  await credentialChanges(deps, data, changes, audits);

  await deps.sql.transaction(async (tx) => {
    const row = await requireMirror(deps, target, tx, true);
    if (globs !== null) await updateMirrorRule(tx, row.root_rule_id, pythonJson(globs));
    if (changes.internal_robot_id !== undefined) await grantRobotWrite(tx, target.record.id, changes.internal_robot_id);
    if (Object.keys(changes).length > 0 || globs !== null) {
      await updateMirror(tx, row.id, changes);
      if (row.sync_status === MirrorStatus.SYNCING) await keepToken(tx, row);
    }
    for (const [changed, to] of audits) await mirrorAudit(tx, deps, ctx, target, changed, to);
  });
}

/** Puts the claim token of a running sync back after updateMirror replaced it. */
async function keepToken(tx: Queryable, row: MirrorRow): Promise<void> {
  await tx.query(`UPDATE repomirrorconfig SET sync_transaction_id = $2 WHERE id = $1`, [row.id, row.sync_transaction_id]);
}

/** Quay's credential rules for PUT: a password needs a username; clearing the username clears the password. */
async function credentialChanges(deps: ManagementDeps, data: Record<string, unknown>, changes: MirrorChanges, audits: [string, unknown][]) {
  const hasUser = data.external_registry_username !== undefined;
  const hasPassword = data.external_registry_password !== undefined;
  const password = hasPassword ? credential(data.external_registry_password, "external_registry_password") : null;
  if (password !== null && !hasUser) throw ManagementError.invalid("Unable to set a new password without also specifying a username.");
  if (password !== null && credential(data.external_registry_username, "external_registry_username") === null) {
    throw ManagementError.invalid("Unable to delete username while setting a password.");
  }
  if (hasUser) {
    const username = credential(data.external_registry_username, "external_registry_username");
    changes.external_registry_username = await encryptCredential(deps, username);
    audits.push(["external_registry_username", username]);
    if (username === null) changes.external_registry_password = null;
  }
  if (hasPassword) {
    changes.external_registry_password = await encryptCredential(deps, password);
    audits.push(["external_registry_password", password === null ? null : "********"]);
  }
}

/** `POST …/mirror/sync-now`: 404 while a sync runs; otherwise SYNC_NOW at once. 204. */
export async function syncNow(deps: ManagementDeps, ctx: RequestContext, path: string): Promise<void> {
  const target = await mirrorRepository(deps, ctx, path);
  await deps.sql.transaction(async (tx) => {
    const row = await requireMirror(deps, target, tx, true);
    if (row.sync_status === MirrorStatus.SYNCING) throw ManagementError.notFound();
    await updateMirror(tx, row.id, {
      sync_status: MirrorStatus.SYNC_NOW,
      sync_expiration_date: null,
      sync_retries_remaining: Math.max(row.sync_retries_remaining, 1),
    });
    await mirrorAudit(tx, deps, ctx, target, "sync_status", "SYNC_NOW");
  });
}

/** `POST …/mirror/sync-cancel`: only from SYNCING or SYNC_NOW (else 404); the running sync stops after its tag. 204. */
export async function syncCancel(deps: ManagementDeps, ctx: RequestContext, path: string): Promise<void> {
  const target = await mirrorRepository(deps, ctx, path);
  await deps.sql.transaction(async (tx) => {
    const row = await requireMirror(deps, target, tx, true);
    if (row.sync_status !== MirrorStatus.SYNCING && row.sync_status !== MirrorStatus.SYNC_NOW) throw ManagementError.notFound();
    await updateMirror(tx, row.id, { sync_status: MirrorStatus.CANCEL, sync_expiration_date: null, sync_retries_remaining: 0 });
    await mirrorAudit(tx, deps, ctx, target, "sync_status", "SYNC_CANCEL");
  });
}

/** `GET …/mirror/metrics` (Pier): the mirror's counters and the running sync's progress. */
export async function mirrorMetrics(deps: ManagementDeps, ctx: RequestContext, path: string): Promise<Record<string, unknown>> {
  const target = await mirrorRepository(deps, ctx, path);
  const row = await requireMirror(deps, target);
  const stats = await findMirrorStats(deps.sql, target.record.id);
  const number = (value: string | null | undefined) => (value === null || value === undefined ? null : Number(value));
  const seconds = (value: string | null | undefined) => (value === null || value === undefined ? null : Math.floor(Number(value) / 1000));
  return {
    sync_status: statusName(row.sync_status),
    last_success: seconds(stats?.last_success_ms),
    last_failure: seconds(stats?.last_failure_ms),
    last_error: stats?.last_error ?? null,
    runs: number(stats?.runs) ?? 0,
    failures: number(stats?.failures) ?? 0,
    tags_synced: number(stats?.tags_synced) ?? 0,
    tags_failed: number(stats?.tags_failed) ?? 0,
    tags_deleted: number(stats?.tags_deleted) ?? 0,
    bytes_copied: number(stats?.bytes_copied) ?? 0,
    blobs_copied: number(stats?.blobs_copied) ?? 0,
    blobs_linked: number(stats?.blobs_linked) ?? 0,
    progress: { tags_total: stats?.run_tags_total ?? 0, tags_done: stats?.run_tags_done ?? 0 },
  };
}

const CHANGE_STATE = { required: ["state"], properties: { state: { type: "string" } } } as const;
const SETTABLE_STATES: Record<string, number> = { NORMAL: 0, READ_ONLY: 1, MIRROR: 2 };

/** `PUT …/changestate` (Quay's RepositoryStateResource, only with the mirror feature): `{"success": true}`. */
export async function changeRepositoryState(deps: ManagementDeps, ctx: RequestContext, path: string, body: unknown): Promise<void> {
  let state = "";
  const target = await mirrorRepository(deps, ctx, path, () => {
    state = validateBody(body, CHANGE_STATE).state as string;
  });
  if (state === "ORG_MIRROR") throw ManagementError.invalid("ORG_MIRROR state is managed by organization-level mirroring");
  const value = SETTABLE_STATES[state];
  if (value === undefined) throw ManagementError.invalid(`Invalid repository state: ${state}`);
  if (target.record.state === RepositoryState.ORG_MIRROR) {
    throw ManagementError.invalid("ORG_MIRROR state is managed by organization-level mirroring");
  }
  await deps.sql.transaction(async (tx) => {
    await setRepositoryState(tx, target.record.id, value);
    await audit(tx, deps, ctx, {
      kind: "change_repo_state",
      namespaceId: target.record.namespace_id,
      repositoryId: target.record.id,
      metadata: { repo: target.name.repository, namespace: target.name.namespace, state_changed: state },
    });
  });
  await deps.cache.bump(target.name.full);
}
