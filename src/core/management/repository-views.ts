/**
 * Reading repositories through the API (endpoints/api/repository.py GET handlers and
 * repository_models_interface.py views): one repository with its tags and stats, and
 * the visible-repositories listing with Quay's page size of 100.
 */
import {
  findActionSums,
  findLastModified,
  findStarredIds,
  isStarred,
  listActionCounts,
  listActiveTags,
  listVisibleRepositories,
} from "../../db/queries/management-repositories.js";
import type { ManagementDeps, RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import { requireRepository } from "./repositories.js";
import { formatDate } from "./views.js";

/** Quay's RepositoryState names. */
const STATE_NAMES: Record<number, string> = { 0: "NORMAL", 1: "READ_ONLY", 2: "MIRROR", 3: "MARKED_FOR_DELETION", 4: "ORG_MIRROR" };
/** Quay's REPOS_PER_PAGE. */
const REPOS_PER_PAGE = 100;
const MAX_TAGS = 500;
const STATS_DAYS = 92;
const DAY_MS = 86_400_000;

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** Whole seconds, as Quay turns `lifetime_*_ms` into timestamps before formatting. */
const secondsDate = (ms: string) => new Date(Math.floor(Number(ms) / 1000) * 1000);

export interface RepositoryReadOptions {
  includeTags: boolean;
  includeStats: boolean;
}

/** `GET /api/v1/repository/<ns>/<repo>`: readers and anyone for public repositories. */
export async function getRepository(deps: ManagementDeps, ctx: RequestContext, path: string, options: RepositoryReadOptions) {
  const { name, record, role } = await requireRepository(deps, ctx, path, "read");
  const caller = ctx.access.caller;
  const isPublic = record.visibility === "public";
  const base = {
    namespace: name.namespace,
    name: name.repository,
    kind: record.kind,
    description: record.description,
    is_public: isPublic,
    is_organization: record.namespace_organization,
    is_starred: caller ? await isStarred(deps.sql, caller.id, record.id) : false,
  };
  const permissions = { can_write: (role === "write" || role === "admin") && record.state === 0, can_admin: role === "admin" };
  const state = STATE_NAMES[record.state] ?? null;
  if (record.kind === "application") {
    return { ...base, channels: [], releases: [], state, is_free_account: record.namespace_stripe_id === null, ...permissions };
  }
  const view: Record<string, unknown> = {
    ...base,
    status_token: isPublic ? "" : record.badge_token,
    trust_enabled: false,
    tag_expiration_s: Number(record.namespace_tag_expiration_s),
    is_free_account: record.namespace_stripe_id === null,
    state,
  };
  if (options.includeTags) {
    const tags = await listActiveTags(deps.sql, record.id, deps.clock.now(), MAX_TAGS);
    view.tags = Object.fromEntries(
      tags.map((tag) => {
        const info: Record<string, unknown> = { name: tag.name, size: tag.size === null ? null : Number(tag.size) };
        if (Number(tag.lifetime_start_ms) >= 1000) info.last_modified = formatDate(secondsDate(tag.lifetime_start_ms));
        if (tag.lifetime_end_ms !== null && Number(tag.lifetime_end_ms) >= 1000)
          info.expiration = formatDate(secondsDate(tag.lifetime_end_ms));
        if (tag.digest !== null) info.manifest_digest = tag.digest;
        return [tag.name, info];
      }),
    );
  }
  Object.assign(view, permissions);
  if (options.includeStats) view.stats = await stats(deps, record.id);
  return view;
}

/** Daily action counts of the last three months, missing days filled with zeros (Quay's order). */
async function stats(deps: ManagementDeps, repositoryId: number) {
  const now = deps.clock.now();
  const counts = await listActionCounts(deps.sql, repositoryId, isoDate(now - STATS_DAYS * DAY_MS));
  const key = (date: string) => `${Number(date.slice(5, 7))}/${Number(date.slice(8, 10))}`;
  const found = new Set(counts.map((c) => key(c.date)));
  const out = counts.map((c) => ({ date: c.date, count: c.count }));
  for (let day = 1; day < STATS_DAYS; day++) {
    const date = isoDate(now - day * DAY_MS);
    if (!found.has(key(date))) out.push({ date, count: 0 });
  }
  return out;
}

export interface RepositoryListOptions {
  namespace: string | null;
  starred: boolean;
  public: boolean;
  lastModified: boolean;
  popularity: boolean;
  kind: string;
  nextPage: string | null;
}

/** Opaque page tokens: base64url JSON `{"start_index": <repository id>}`; anything else restarts. */
function decodePageToken(token: string | null): number | null {
  if (!token) return null;
  try {
    const parsed = JSON.parse(atob(token.replace(/-/g, "+").replace(/_/g, "/"))) as { start_index?: unknown };
    return Number.isSafeInteger(parsed.start_index) ? (parsed.start_index as number) : null;
  } catch {
    return null;
  }
}

function encodePageToken(startIndex: number): string {
  return btoa(JSON.stringify({ start_index: startIndex }))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** `GET /api/v1/repository`: needs `namespace`, `starred` or `public`; pages of 100 unless one namespace is listed. */
export async function listRepositories(deps: ManagementDeps, ctx: RequestContext, options: RepositoryListOptions) {
  if (!options.namespace && !options.starred && !options.public) {
    throw ManagementError.invalid("namespace, starred or public are required for this API call");
  }
  const caller = ctx.access.caller;
  if (options.starred && !caller) {
    throw ManagementError.invalid("The browser (or proxy) sent a request that this server could not understand.");
  }
  const paged = !options.starred && !options.namespace;
  const rows = await listVisibleRepositories(deps.sql, {
    userId: caller?.id ?? null,
    namespace: options.starred ? null : options.namespace,
    includePublic: options.starred || options.public,
    starredOnly: options.starred,
    kind: options.kind,
    startId: paged ? decodePageToken(options.nextPage) : null,
    limit: paged ? REPOS_PER_PAGE + 1 : null,
  });
  const page = paged ? rows.slice(0, REPOS_PER_PAGE) : rows;
  const ids = page.map((r) => r.id);
  const starred = caller ? await findStarredIds(deps.sql, caller.id, ids) : new Set<number>();
  const lastModified = options.lastModified ? await findLastModified(deps.sql, ids, deps.clock.now()) : new Map<number, string>();
  const sums = options.popularity ? await findActionSums(deps.sql, ids, isoDate(deps.clock.now() - 7 * DAY_MS)) : new Map<number, number>();
  const repositories = page.map((row) => {
    const view: Record<string, unknown> = {
      namespace: row.namespace,
      name: row.name,
      description: row.description,
      is_public: row.visibility === "public",
      kind: options.kind,
      state: STATE_NAMES[row.state] ?? null,
      quota: null,
    };
    if (options.lastModified) {
      const start = lastModified.get(row.id);
      view.last_modified = start === undefined ? null : Math.floor(Number(start) / 1000);
    }
    if (options.popularity) view.popularity = sums.get(row.id) ?? 0;
    if (caller) view.is_starred = starred.has(row.id);
    return view;
  });
  const result: Record<string, unknown> = { repositories };
  if (paged && rows.length > REPOS_PER_PAGE) result.next_page = encodePageToken(rows[REPOS_PER_PAGE]!.id);
  return result;
}
