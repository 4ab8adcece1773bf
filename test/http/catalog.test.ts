/**
 * `GET /v2/_catalog` lists what the caller can see, as Quay's get_visible_repositories
 * does: its own namespace, repositories it or its teams have a role on, every repository
 * of organizations it administers — and public ones only where the catalog is public.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app.js";
import type { Queryable } from "../../src/core/ports/sql.js";
import { startOriginRegistry, TEST_HOST, type OriginFixture } from "../support/origin-registry.js";
import { createNamespace, createRepository, unique } from "../support/quay-seed.js";

let origin: OriginFixture;
const prefix = unique("cat");
const names = {
  alice: `${prefix}alice`,
  teamOrg: `${prefix}team`,
  adminOrg: `${prefix}admin`,
  other: `${prefix}other`,
  disabled: `${prefix}gone`,
};

async function team(sql: Queryable, orgId: number, role: "admin" | "member", memberId: number): Promise<number> {
  const { rows } = await sql.query<{ id: number }>(
    `INSERT INTO team (name, organization_id, role_id, description) SELECT $1, $2, id, '' FROM teamrole WHERE name = $3 RETURNING id`,
    [unique("t"), orgId, role],
  );
  await sql.query(`INSERT INTO teammember (user_id, team_id) VALUES ($1, $2)`, [memberId, rows[0]!.id]);
  return rows[0]!.id;
}

async function grant(sql: Queryable, repositoryId: number, who: { user?: number; team?: number }): Promise<void> {
  await sql.query(
    `INSERT INTO repositorypermission (user_id, team_id, repository_id, role_id) SELECT $1, $2, $3, id FROM role WHERE name = 'read'`,
    [who.user ?? null, who.team ?? null, repositoryId],
  );
}

beforeAll(async () => {
  origin = await startOriginRegistry("catalog");
  const seed = origin.registry;
  const sql = origin.direct;
  const alice = await createNamespace(seed, names.alice);
  const disabled = await createNamespace(seed, names.disabled);
  await sql.query(`UPDATE "user" SET enabled = false WHERE id = $1`, [disabled]);
  const teamOrg = await createNamespace(seed, names.teamOrg, { organization: true });
  const adminOrg = await createNamespace(seed, names.adminOrg, { organization: true });
  const other = await createNamespace(seed, names.other, { organization: true });
  const robot = await createNamespace(seed, `${names.teamOrg}+bot`);
  await sql.query(`UPDATE "user" SET robot = true WHERE id = $1`, [robot]);

  await createRepository(seed, alice, "mine", { visibility: "private" });
  const viaTeam = await createRepository(seed, teamOrg, "viateam", { visibility: "private" });
  const direct = await createRepository(seed, teamOrg, "direct", { visibility: "private" });
  await createRepository(seed, teamOrg, "unseen", { visibility: "private" });
  const robotRepo = await createRepository(seed, teamOrg, "robots", { visibility: "private" });
  await createRepository(seed, adminOrg, "everything", { visibility: "private" });
  await createRepository(seed, other, "hidden", { visibility: "private" });
  await createRepository(seed, other, "open", { visibility: "public" });
  await createRepository(seed, other, "doomed", { visibility: "private", state: 3 });
  await createRepository(seed, other, "chart", { visibility: "public", kind: "application" });
  const disabledRepo = await createRepository(seed, other, "fordisabled", { visibility: "private" });

  await grant(sql, viaTeam, { team: await team(sql, teamOrg, "member", alice) });
  await grant(sql, direct, { user: alice });
  await grant(sql, robotRepo, { user: robot });
  await grant(sql, disabledRepo, { user: disabled });
  await team(sql, adminOrg, "admin", alice);
}, 60_000);

afterAll(async () => {
  await origin?.close();
});

/** Every page of the catalog for `subject` (null: anonymous), restricted to this test's names. */
async function catalog(subject: string | null, publicCatalog = false, pageSize = 2): Promise<string[]> {
  const app = createApp({ ...origin.registry, config: { ...origin.registry.config, publicCatalog } });
  const headers: Record<string, string> = subject === null ? {} : { authorization: `Bearer ${await origin.token(subject, {})}` };
  const seen: string[] = [];
  let path: string | null = `/v2/_catalog?n=${pageSize}&last=${prefix}`;
  for (let pages = 0; path !== null && pages < 50; pages++) {
    const response: Response = await app.request(`https://${TEST_HOST}${path}`, { headers });
    expect(response.status).toBe(200);
    const page = (await response.json()) as { repositories: string[] };
    expect(page.repositories.length).toBeLessThanOrEqual(pageSize);
    seen.push(...page.repositories);
    if (page.repositories.some((name) => !name.startsWith(prefix))) break;
    path = /^<([^>]+)>; rel="next"$/.exec(response.headers.get("link") ?? "")?.[1] ?? null;
  }
  return seen.filter((name) => name.startsWith(prefix));
}

describe("_catalog", () => {
  it("lists what a user owns, has a role on (directly or through a team) and administers, in byte order", async () => {
    expect(await catalog(names.alice)).toEqual([
      `${names.adminOrg}/everything`,
      `${names.alice}/mine`,
      `${names.teamOrg}/direct`,
      `${names.teamOrg}/viateam`,
    ]);
  });

  it("adds public repositories only where the catalog is public", async () => {
    expect(await catalog(names.alice, true, 3)).toEqual([
      `${names.adminOrg}/everything`,
      `${names.alice}/mine`,
      `${names.other}/open`,
      `${names.teamOrg}/direct`,
      `${names.teamOrg}/viateam`,
    ]);
    expect(await catalog(null, true)).toEqual([`${names.other}/open`]);
    expect(await catalog(null, false)).toEqual([]);
  });

  it("lists a robot's repositories, and nothing of a disabled user's", async () => {
    expect(await catalog(`${names.teamOrg}+bot`)).toEqual([`${names.teamOrg}/robots`]);
    expect(await catalog(names.disabled)).toEqual([]);
  });
});
