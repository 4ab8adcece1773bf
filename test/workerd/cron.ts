/** Fires the edge Worker's cron trigger of one job, as Cloudflare would, and waits for what it handed to waitUntil. */
import { cronOf, jobs } from "../../src/core/jobs/scheduler.js";
import worker from "../../workers/edge.js";

export async function fireCron(jobName: string, env: object): Promise<void> {
  const job = jobs.find((j) => j.name === jobName);
  if (job === undefined) throw new Error(`no job named ${jobName}`);
  const pending: Promise<unknown>[] = [];
  await worker.scheduled(
    { cron: cronOf(job), scheduledTime: Date.now(), noRetry() {} } as never,
    env as never,
    { waitUntil: (p: Promise<unknown>) => pending.push(p), passThroughOnException() {} } as never,
  );
  await Promise.all(pending);
}
