/**
 * The Node runtimes' job timer runs the at-start jobs at once: a restart after kill -9
 * removes the temp files the killed process left in the filesystem store.
 */
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { fsBlobStore } from "../../src/adapters/blob/fs.js";
import type { JobOutcome } from "../../src/core/jobs/runner.js";
import { systemClock } from "../../src/core/ports/clock.js";
import type { Registry } from "../../src/core/registry.js";
import { startJobTimer } from "../../src/runtime/job-timer.js";

it("sweeps a killed process's temp files when the runtime starts", async () => {
  const root = await mkdtemp(join(tmpdir(), "pier-job-timer-"));
  const tmp = join(root, ".pier/tmp");
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, "left-by-kill-9"), new Uint8Array(4096));
  const yesterday = new Date(Date.now() - 24 * 3600_000);
  await utimes(join(tmp, "left-by-kill-9"), yesterday, yesterday);
  // The sweep needs only the store and the clock while no upload object exists.
  const registry = { blobs: fsBlobStore({ root }), clock: systemClock } as unknown as Registry;
  const outcomes: JobOutcome[] = [];
  let reported!: () => void;
  const done = new Promise<void>((resolve) => (reported = resolve));
  const stop = startJobTimer(registry, null, (outcome) => {
    outcomes.push(outcome);
    reported();
  });
  try {
    await done;
    expect(outcomes).toEqual([{ name: "upload-orphans", processed: 1 }]);
    expect(await readdir(tmp)).toEqual([]);
  } finally {
    stop();
    await rm(root, { recursive: true, force: true });
  }
});
