/**
 * `npm run -s signing-key [name]`: creates an RSA signing key for the edge, registers its
 * public half approved in DATABASE_URL's `servicekey` table, and prints the private JWK —
 * only that, to stdout, for piping into the secret store:
 *
 *   DATABASE_URL=… npm run -s signing-key | npx wrangler secret put PIER_SIGNING_KEY
 */
import { nodePostgresSql } from "../src/adapters/sql/node-postgres.js";
import { createConfiguredSigningKey } from "../src/core/auth/service-keys.js";
import { requireString } from "../src/core/config.js";
import { systemClock } from "../src/core/ports/clock.js";
import { requireFipsWhenAsked } from "../src/runtime/fips.js";

try {
  requireFipsWhenAsked(process.env);
} catch (error) {
  console.error(`signing key not created: ${(error as Error).message}`);
  process.exit(1);
}
const sql = nodePostgresSql(requireString(process.env, "DATABASE_URL"));
try {
  const jwk = await createConfiguredSigningKey(sql, systemClock, process.argv[2] ?? "pier-edge");
  process.stdout.write(`${JSON.stringify(jwk)}\n`);
  console.error(`registered signing key ${jwk.kid} (approved, no expiry)`);
} catch (error) {
  console.error(`signing key not created: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
} finally {
  await sql.close();
}
