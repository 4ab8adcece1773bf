/**
 * The embedded registry's first start, in a child process. PGlite's initdb and the
 * migrations leave ~70 MB that the process never returns (WASM memory and code outlive
 * the closed instance), so a first start would idle at ~235 MB where a restart idles at
 * ~160 MB. A child that creates and migrates the database, then exits, takes that peak
 * with it; the server then opens the files as on any restart.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Set in the child: the database directory to create and migrate, then exit. */
export const PREPARE_DATABASE_ENV = "PIER_EMBEDDED_PREPARE_DATABASE";

/**
 * Creates and migrates `databaseDir` in a child process when it holds no database yet and
 * this process was started on the entry itself (`entryUrl`), so the child can be the same
 * command. Otherwise (a restart, or the entry loaded by another script) does nothing: the
 * caller migrates in-process as usual.
 */
export async function prepareFirstStartInChild(entryUrl: string, databaseDir: string): Promise<void> {
  if (existsSync(resolve(databaseDir, "PG_VERSION"))) return;
  const entry = process.argv[1];
  if (entry === undefined || resolve(entry) !== fileURLToPath(entryUrl)) return;
  const child = spawn(process.execPath, [...process.execArgv, entry], {
    env: { ...process.env, [PREPARE_DATABASE_ENV]: databaseDir },
    // Its stdout is not the server's: nothing in it is for whoever reads "ready".
    stdio: ["ignore", "ignore", "inherit"],
  });
  const code = await new Promise<number | null>((done, fail) => {
    child.once("error", fail);
    child.once("exit", done);
  });
  if (code !== 0) throw new Error(`creating the database in ${databaseDir} failed (exit ${code}); see the lines above`);
}
