/**
 * `GET /api/v1/repository/<ns>/<repo>/tag/` (endpoints/api/tag.py ListRepositoryTags):
 * the repository's tag-row history — every move and delete leaves a row — newest first,
 * page by page, with Quay's filters and tag view. Writes are in tag-writes.ts.
 */
import { isManifestList } from "../model/media-types.js";
import { listTagHistory, type TagHistoryQuery, type TagHistoryRow } from "../../db/queries/management-tags.js";
import type { ManagementDeps, RequestContext } from "./deps.js";
import { ManagementError } from "./errors.js";
import { authorizeRepository, repositoryPath } from "./repositories.js";
import { findRepositoryRecord } from "../../db/queries/management-repositories.js";
import type { RepoRole } from "./access.js";

const FILTER_SYNTAX = "Unsupported syntax for filter_tag_name. Expected <operation>:<tag_name> where <operation>can be 'like' or 'eq'.";

export interface TagListParams {
  page: number | null;
  limit: number | null;
  onlyActiveTags: boolean;
  specificTag: string | null;
  filterTagName: string | null;
}

/** Quay's format_date (email.utils.formatdate in UTC): `Wed, 01 Jan 2025 00:00:00 -0000`. */
export function formatDate(seconds: number): string {
  return new Date(seconds * 1000).toUTCString().replace("GMT", "-0000");
}

/** `like:<s>` or `eq:<s>`; an unknown operation filters nothing, as in Quay; no colon is a 400. */
function parseFilter(text: string | null): TagHistoryQuery["filter"] {
  if (text === null) return null;
  const colon = text.indexOf(":");
  if (colon < 0) throw ManagementError.invalidMessage(FILTER_SYNTAX);
  const op = text.slice(0, colon);
  return op === "like" || op === "eq" ? { op, value: text.slice(colon + 1) } : null;
}

/** Quay's tag view (endpoints/api/tag.py tag_view); `immutable` always, as Pier always honours it. */
export function tagView(row: TagHistoryRow): Record<string, unknown> {
  const startS = Math.floor(Number(row.start_ms) / 1000);
  const endS = row.end_ms === null ? 0 : Math.floor(Number(row.end_ms) / 1000);
  const view: Record<string, unknown> = {
    name: row.name,
    reversion: row.reversion,
    immutable: row.immutable,
    manifest_digest: row.digest,
    is_manifest_list: isManifestList(row.media_type),
    size: row.layers_compressed_size === null ? null : Number(row.layers_compressed_size),
  };
  if (startS > 0) Object.assign(view, { start_ts: startS, last_modified: formatDate(startS) });
  if (endS > 0) Object.assign(view, { end_ts: endS, expiration: formatDate(endS) });
  if (isManifestList(row.media_type)) {
    const children = row.children ?? [];
    const present = children.filter((c) => c.present).length;
    Object.assign(view, {
      is_sparse: present < children.length,
      child_manifest_count: children.length,
      present_child_count: present,
      child_manifests_presence: Object.fromEntries(children.map((c) => [c.digest, c.present])),
    });
  }
  return view;
}

/** The repository for a tag endpoint: `needed` role, or a superuser (Quay lets them in too); 404 after authorization. */
export async function requireTagRepository(deps: ManagementDeps, ctx: RequestContext, path: string, needed: RepoRole) {
  const name = repositoryPath(deps, path);
  const record = await findRepositoryRecord(deps.sql, name.namespace, name.repository);
  if (!ctx.access.isSuperuser()) await authorizeRepository(ctx, name, needed, record);
  if (!record) throw ManagementError.notFound();
  return { name, record };
}

/** One page of the tag history: `page` from 1, `limit` clamped to 1..100 (default 50). */
export async function listRepositoryTags(deps: ManagementDeps, ctx: RequestContext, path: string, params: TagListParams) {
  const { record } = await requireTagRepository(deps, ctx, path, "read");
  const filter = parseFilter(params.filterTagName);
  const page = Math.max(1, params.page ?? 1);
  const limit = Math.min(100, Math.max(1, params.limit ?? 50));
  const rows = await listTagHistory(deps.sql, record.id, {
    onlyActive: params.onlyActiveTags,
    specificTag: params.specificTag,
    filter,
    nowMs: deps.clock.now(),
    limit,
    offset: limit * (page - 1),
  });
  return { tags: rows.slice(0, limit).map(tagView), page, has_additional: rows.length > limit };
}
