/**
 * `pier front show|set <rules.json>|kill|restore --url URL --user user:password`: reads and
 * changes the strangler front's rules through its API (docs/strangler.md), for operators
 * and scripts; `kill` is the rollback. PIER_URL and PIER_USER stand in for the flags.
 * Exit 0 on success, 1 when the registry refused, 2 for bad arguments.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";

const usage = "usage: pier front show|set <rules.json>|kill|restore --url URL --user user:password";

class UsageError extends Error {}

async function call(url: string, user: string, method: string, path: string, body?: string): Promise<unknown> {
  const response = await fetch(`${url.replace(/\/+$/, "")}/api/v1/superuser/front${path}`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(user).toString("base64")}`,
      ...(body !== undefined && { "content-type": "application/json" }),
    },
    body,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (!response.ok) {
    const message = (json as { error_message?: string }).error_message ?? text;
    throw new Error(`${response.status}: ${message}`);
  }
  return json;
}

try {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { url: { type: "string" }, user: { type: "string" } } });
  const url = values.url ?? process.env.PIER_URL;
  const user = values.user ?? process.env.PIER_USER;
  const [action, file] = positionals;
  if (url === undefined || user === undefined || action === undefined) throw new UsageError(usage);
  let result: unknown;
  if (action === "show") result = await call(url, user, "GET", "");
  else if (action === "set") {
    if (file === undefined) throw new UsageError(`set needs a rules file\n${usage}`);
    result = await call(url, user, "PUT", "", await readFile(file, "utf8"));
  } else if (action === "kill") result = await call(url, user, "POST", "/killswitch", JSON.stringify({ enabled: true }));
  else if (action === "restore") result = await call(url, user, "POST", "/killswitch", JSON.stringify({ enabled: false }));
  else throw new UsageError(`unknown action "${action}"\n${usage}`);
  console.log(JSON.stringify(result, null, 2));
} catch (error) {
  console.error(`pier front: ${(error as Error).message}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
