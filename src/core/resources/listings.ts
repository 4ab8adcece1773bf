/**
 * Paged listings: a repository's tags and the catalog, with Quay's page-size rules
 * (at most 100 per page) and lexical (byte-order) pages continued with `last`.
 */
import type { Caller } from "../auth/access.js";
import type { RepositoryName } from "../model/names.js";
import { listCatalog, listTags } from "../../db/queries/pull.js";
import type { PullDeps } from "./deps.js";
import { readableRepository } from "./repositories.js";

/** Quay's _MAX_RESULTS_PER_PAGE: the largest and the default page. */
export const MAX_PAGE_SIZE = 100;

export interface Page {
  items: string[];
  /** The `n` of the page (capped), and the last item when another page follows. */
  limit: number;
  next: string | null;
}

/** `n` of tags/list: a non-integer means the default; capped to 0..100 (0 is an empty page). */
export function tagPageSize(n: string | undefined): number {
  const requested = n !== undefined && /^-?\d+$/.test(n.trim()) ? Number(n) : MAX_PAGE_SIZE;
  return Math.max(Math.min(requested, MAX_PAGE_SIZE), 0);
}

/** `n` of _catalog: Quay reads a non-integer as 0, then pages at least 1. */
export function catalogPageSize(n: string | undefined): number {
  const requested = n === undefined ? MAX_PAGE_SIZE : /^-?\d+$/.test(n.trim()) ? Number(n) : 0;
  return Math.max(Math.min(requested, MAX_PAGE_SIZE), 1);
}

async function page(limit: number, fetch: (limit: number) => Promise<string[]>): Promise<Page> {
  if (limit === 0) return { items: [], limit, next: null };
  const rows = await fetch(limit + 1);
  const items = rows.slice(0, limit);
  return { items, limit, next: rows.length > limit ? items[items.length - 1]! : null };
}

export async function readTags(deps: PullDeps, caller: Caller, name: RepositoryName, limit: number, last: string | null): Promise<Page> {
  const repository = await readableRepository(deps, caller, name);
  return page(limit, (n) => listTags(deps.sql, repository.id, last, n, deps.clock.now()));
}

/**
 * The catalog as `caller` may see it (Quay's get_visible_repositories): what it owns or
 * has a role on, plus public repositories where the catalog is public (Quay's
 * FEATURE_PUBLIC_CATALOG). Anonymous callers see only those, or nothing.
 */
export async function readCatalog(deps: PullDeps, caller: Caller, limit: number, last: string | null): Promise<Page> {
  if (caller.subject === null && !deps.config.publicCatalog) return { items: [], limit, next: null };
  const viewer = { username: caller.subject, includePublic: deps.config.publicCatalog };
  return page(limit, (n) => listCatalog(deps.sql, viewer, last, n));
}
