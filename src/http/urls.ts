import type { RegistryConfig } from "../core/config.js";

/** The registry's public origin: configured host and scheme, else the request's. */
export function publicOrigin(config: RegistryConfig, requestUrl: string): { scheme: string; host: string; origin: string } {
  const url = new URL(requestUrl);
  const scheme = config.urlScheme ?? url.protocol.replace(":", "");
  const host = config.serverHostname ?? url.host;
  return { scheme, host, origin: `${scheme}://${host}` };
}

/** `WWW-Authenticate` for a bearer challenge, in Quay's exact layout (no spaces after commas). */
export function bearerChallenge(config: RegistryConfig, requestUrl: string, scope?: string): string {
  const { host, origin } = publicOrigin(config, requestUrl);
  const parts = [`Bearer realm="${origin}/v2/auth"`, `service="${host}"`];
  if (scope) parts.push(`scope="${scope}"`);
  return parts.join(",");
}
