#!/usr/bin/env node
/**
 * `pier`: one command for every way to run Pier. It loads the TypeScript entry points in
 * this process (no child process), so SIGTERM and SIGINT reach the server directly.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Subcommand → entry point, and what it does. */
const COMMANDS = {
  start: ["workers/embedded.ts", "run the whole registry on this machine (embedded defaults, like npm start) [--config config.yaml]"],
  origin: ["workers/origin.ts", "run the origin service (DATABASE_URL, REDIS_URL, S3_* or PIER_STORAGE_DIR) [--config config.yaml]"],
  dev: ["scripts/dev.ts", "run the edge under wrangler dev with an origin and the local gateways"],
  migrate: ["scripts/migrate.ts", "bring DATABASE_URL to Pier's schema"],
  user: ["scripts/user.ts", "create a user or reset a password: pier user create <name> [--superuser]"],
  "signing-key": ["scripts/signing-key.ts", "register a signing key for the edge and print it"],
  job: ["scripts/job.ts", "run a job now: pier job <name>|all [--dry-run]"],
  front: ["scripts/front.ts", "read or change the strangler front's rules: pier front show|set FILE|kill|restore --url URL --user u:p"],
  contract: ["scripts/contract.ts", "replay the contract fixtures against a Pier and a legacy Quay: pier contract --pier URL --legacy URL"],
  cert: ["scripts/cert.ts", "make a local CA and a server (or --client NAME) certificate for HTTPS: pier cert [--dir certs] [--host h,…]"],
};

function version() {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    // Not a git checkout: the version alone.
  }
  return `pier ${version} (commit ${commit}, node ${process.version})`;
}

function help() {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, [, what]]) => `  ${name.padEnd(width)}  ${what}`);
  return [
    "usage: pier <command> [arguments]",
    "",
    "commands:",
    ...lines,
    "",
    "  --config F  (start, origin) read Quay's config.yaml F; environment variables override it (or PIER_CONFIG=F)",
    "  --version   print the version and commit",
    "  --help      this text",
  ].join("\n");
}

const [command] = process.argv.slice(2);
if (command === "--version" || command === "-v") {
  console.log(version());
} else if (command === undefined || command === "--help" || command === "-h" || command === "help") {
  console.log(help());
} else if (!Object.hasOwn(COMMANDS, command)) {
  console.error(`pier: unknown command "${command}"\n\n${help()}`);
  process.exitCode = 2;
} else {
  // The entry reads its own arguments from process.argv, as when run on its own.
  process.argv.splice(2, 1);
  register();
  await import(join(root, COMMANDS[command][0]));
}
