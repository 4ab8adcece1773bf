/**
 * `POST /api/v1/superuser/jobs/<name>?dry_run=true|false` (a Pier extension): runs one
 * batch of a job now, through the same runner as the schedules (lease, metrics). It is
 * how `npm run job` reaches an embedded registry that holds its data directory.
 */
import type { Context } from "hono";
import { runJob } from "../../core/jobs/runner.js";
import { jobs } from "../../core/jobs/scheduler.js";
import { ManagementError } from "../../core/management/errors.js";
import type { AppServices } from "../context.js";
import { requestContext } from "./auth.js";

function dryRunParam(value: string | undefined): boolean {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  throw ManagementError.invalid("dry_run must be true or false");
}

/**
 * 200 `{"job", "processed", "report": [...]}` plus `skipped` (locked, disabled,
 * no-dry-run) or `error` when the batch did not complete; superusers only (401/403 for
 * others, in Quay's shape); 404 for a job the table does not have.
 */
export function postRunJob(services: AppServices) {
  return async function postRunJob(c: Context): Promise<Response> {
    const { access } = requestContext(c);
    access.requireCaller();
    if (!access.isSuperuser()) throw ManagementError.unauthorized();
    const job = jobs.find((candidate) => candidate.name === c.req.param("job"));
    if (job === undefined) throw ManagementError.notFound(`no job named ${c.req.param("job")}`);
    const report: string[] = [];
    const outcome = await runJob(services.registry, job, {
      metrics: services.observability?.metrics ?? null,
      dryRun: dryRunParam(c.req.query("dry_run")),
      report: (line) => report.push(line),
    });
    return c.json({
      job: job.name,
      processed: outcome.processed ?? 0,
      report,
      ...(outcome.skipped && { skipped: outcome.skipped }),
      ...(outcome.error !== undefined && { error: outcome.error }),
    });
  };
}
