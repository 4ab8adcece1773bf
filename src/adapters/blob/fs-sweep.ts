/**
 * Leftovers of the filesystem store's interrupted writes (a process killed mid-put
 * keeps its temp file; an abandoned multipart upload keeps its parts folder): entries
 * of the hidden folders whose newest change is older than the cutoff.
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/** The newest modification time of `path` and, for a folder, of the files directly in it. */
async function lastTouched(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.mtimeMs;
  const names = await readdir(path);
  const times = await Promise.all(
    names.map((name) =>
      stat(join(path, name)).then(
        (s) => s.mtimeMs,
        () => 0,
      ),
    ),
  );
  return Math.max(info.mtimeMs, ...times);
}

/** Removes up to `limit` entries of `dirs` untouched since `before`; returns how many. */
export async function removeUntouchedEntries(dirs: readonly string[], before: Date, limit: number): Promise<number> {
  let removed = 0;
  for (const dir of dirs) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (removed >= limit) return removed;
      const path = join(dir, name);
      // Gone meanwhile (a write finished): nothing to remove.
      const touched = await lastTouched(path).catch(() => Infinity);
      if (touched >= before.getTime()) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
