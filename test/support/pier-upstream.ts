/**
 * A second Pier as a bearer-token upstream: the origin app on a loopback port (so its
 * /v2/auth realm is real), a user with a password owning `<user>/app` with one image.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { ensureUser } from "../../src/core/accounts.js";
import { createApp } from "../../src/http/app.js";
import { freePort } from "./edge-server.js";
import { startOriginRegistry } from "./origin-registry.js";
import { createRepository, storeImage, tagManifest, unique, type SeededImage } from "./quay-seed.js";

export interface PierUpstream {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  host: string;
  username: string;
  password: string;
  /** `<username>/app`. */
  repository: string;
  image: SeededImage;
  close(): Promise<void>;
}

export async function startPierUpstream(label: string): Promise<PierUpstream> {
  const origin = await startOriginRegistry(label);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  // Its challenges name its loopback address, over plain HTTP.
  const registry = { ...origin.registry, config: { ...origin.registry.config, serverHostname: host, urlScheme: "http" as const } };
  const username = unique("upstream");
  const password = `pw-${crypto.randomUUID()}`;
  await ensureUser(registry.sql, registry.clock, {
    username,
    email: `${username}@users.test`,
    password,
    removedTagExpirationSeconds: 1_209_600,
  });
  const { rows } = await registry.sql.query<{ id: number }>(`SELECT id FROM "user" WHERE username = $1`, [username]);
  const repoId = await createRepository(registry, rows[0]!.id, "app", { visibility: "private" });
  const image = await storeImage(registry, repoId);
  await tagManifest(registry, repoId, "latest", image.manifest.id);
  const server = serve({ fetch: createApp(registry).fetch, hostname: "127.0.0.1", port });
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
  if ((server.address() as AddressInfo).port !== port) throw new Error("the Pier upstream did not bind its port");
  return {
    url: `http://${host}`,
    host,
    username,
    password,
    repository: `${username}/app`,
    image,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await origin.close();
    },
  };
}
