/** Node's resolver for the SSRF guard: every address a name resolves to. */
import { lookup } from "node:dns/promises";

export async function resolveAll(hostname: string): Promise<string[]> {
  return (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);
}
