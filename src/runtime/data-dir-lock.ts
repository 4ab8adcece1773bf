/**
 * One process per data directory: PGlite has no cross-process locking, so a second
 * embedded registry on the same ./data would corrupt it. A pid file guards it.
 */
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { StartupError } from "./startup.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid of the live process holding `dataDir`, or null when none does. */
export async function dataDirHolder(dataDir: string): Promise<number | null> {
  const holder = Number((await readFile(join(dataDir, "pier.pid"), "utf8").catch(() => "")).trim());
  return holder && alive(holder) ? holder : null;
}

/** Takes the lock or throws naming the holder; returns the release function. */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, "pier.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const file = await open(path, "wx");
      await file.writeFile(String(process.pid));
      await file.close();
      return () => rm(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (holder && holder !== process.pid && alive(holder)) {
        throw new StartupError(`${dataDir} is in use by another Pier process (pid ${holder}); stop it or choose another PIER_DATA_DIR`);
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`could not lock ${dataDir}`);
}
