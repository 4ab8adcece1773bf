/** `GET /v2/<name>/referrers/<digest>[?artifactType=]`: an OCI image index of the subject's referrers. */
import type { Context } from "hono";
import { callerOf, digestParam, repositoryParam, textQuery, type AppServices } from "../context.js";

export function listReferrers(services: AppServices) {
  return async function listReferrers(c: Context): Promise<Response> {
    const name = repositoryParam(c, services);
    const subject = digestParam(c, "digest");
    const artifactType = textQuery(c, "artifactType");
    const index = await services.source.referrers(callerOf(c), name, subject, artifactType);
    const headers: Record<string, string> = { "Content-Type": index.mediaType };
    if (artifactType !== null) headers["OCI-Filters-Applied"] = "artifactType";
    return new Response(JSON.stringify(index), { status: 200, headers });
  };
}
