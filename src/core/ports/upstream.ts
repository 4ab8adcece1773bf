/**
 * Upstream HTTP port: every request Pier makes to another registry goes through this,
 * behind the SSRF guard (core/upstream-guard.ts).
 */
export interface Upstream {
  fetch(request: Request): Promise<Response>;
}
