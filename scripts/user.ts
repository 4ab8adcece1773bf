/**
 * `npm run user -- <command>`: the first users of an origin or edge deployment, whose
 * database no `npm start` bootstraps.
 *
 *   npm run user -- create <name> [--email <e>] [--password <p> | --password-stdin] [--superuser]
 *   npm run user -- reset-password <name> [--password <p> | --password-stdin]
 *
 * Against DATABASE_URL. Without a password one is generated and printed once. Superusers
 * are Quay's SUPER_USERS: the command says which setting to extend.
 */
import { parseArgs } from "node:util";
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { ensureUser, userExists } from "../src/core/accounts.js";
import { generatePassword } from "../src/core/auth/passwords.js";
import { loadRegistryConfig, readString } from "../src/core/config.js";
import { namespaceNameIssue } from "../src/core/management/names.js";
import { systemClock } from "../src/core/ports/clock.js";
import { requireFipsWhenAsked } from "../src/runtime/fips.js";

const USAGE = `usage: npm run user -- create <name> [--email <e>] [--password <p> | --password-stdin] [--superuser]
       npm run user -- reset-password <name> [--password <p> | --password-stdin]`;

function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        email: { type: "string" },
        password: { type: "string" },
        "password-stdin": { type: "boolean" },
        superuser: { type: "boolean" },
      },
    });
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`);
  }
})();
try {
  requireFipsWhenAsked(process.env);
} catch (error) {
  fail((error as Error).message, 1);
}
const [command, name, ...extra] = positionals;
if ((command !== "create" && command !== "reset-password") || name === undefined || extra.length > 0) fail(USAGE);
const nameIssue = namespaceNameIssue(name);
if (nameIssue !== null) fail(`"${name}" is not a valid user name: ${nameIssue}`);
if (values.password !== undefined && values["password-stdin"]) fail("give --password or --password-stdin, not both");
const databaseUrl =
  readString(process.env, "DATABASE_URL") ?? fail("DATABASE_URL is required: the database of the origin or edge deployment");

const given = values["password-stdin"] ? await readStdin() : (values.password ?? null);
if (given !== null && given.length < 8) fail("the password must have at least 8 characters");
const password = given ?? generatePassword();
const config = loadRegistryConfig(process.env);
const sql = nodePostgresSql(databaseUrl, { max: 1 });
try {
  const exists = await userExists(sql, name);
  if (command === "create" && exists) fail(`user "${name}" already exists; use reset-password to change its password`);
  if (command === "reset-password" && !exists) fail(`user "${name}" does not exist; use create`);
  await ensureUser(sql, systemClock, {
    username: name,
    email: values.email ?? `${name}@localhost`,
    password,
    removedTagExpirationSeconds: config.defaultTagExpirationSeconds,
  });
  console.log(command === "create" ? `Created user "${name}".` : `Reset the password of "${name}".`);
  if (given === null) console.log(`Password: ${password}`);
  if (values.superuser) {
    const current = config.superUsers.includes(name) ? "already listed" : "add it";
    console.log(
      `Superuser: Pier's superusers are PIER_SUPER_USERS (Quay's SUPER_USERS); ${current}: PIER_SUPER_USERS=${[...new Set([...config.superUsers, name])].join(",")}`,
    );
  }
} finally {
  await sql.close();
}
