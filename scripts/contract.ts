/**
 * `npm run contract -- --pier URL [--legacy URL] [--pier-user u:p] [--legacy-user u:p]
 * [--var name=value]… [--fixtures DIR] [--route NAME]`: replays the contract fixtures
 * (scripts/contract/fixtures/) against a Pier and, when given, a legacy Quay, and prints
 * where answers depart from the fixtures or from each other (docs/contract-runner.md).
 * Exit 0 when everything matched, 1 when something did not, 2 for bad arguments or fixtures.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { FixtureError, loadFixtures } from "./contract/fixtures.js";
import { formatReport, runContract, type ContractTarget } from "./contract/run.js";

const usage =
  "usage: npm run contract -- --pier URL [--legacy URL] [--pier-user u:p] [--legacy-user u:p] [--var name=value]… [--fixtures DIR] [--route NAME]";

try {
  const { values } = parseArgs({
    options: {
      pier: { type: "string" },
      legacy: { type: "string" },
      "pier-user": { type: "string" },
      "legacy-user": { type: "string" },
      var: { type: "string", multiple: true },
      fixtures: { type: "string" },
      route: { type: "string" },
    },
  });
  if (values.pier === undefined && values.legacy === undefined) throw new FixtureError(usage);
  const vars: Record<string, string> = {};
  for (const entry of values.var ?? []) {
    const at = entry.indexOf("=");
    if (at < 1) throw new FixtureError(`--var ${entry}: expected name=value`);
    vars[entry.slice(0, at)] = entry.slice(at + 1);
  }
  const dir = values.fixtures ?? join(dirname(fileURLToPath(import.meta.url)), "contract", "fixtures");
  const fixtures = (await loadFixtures(dir)).filter((fixture) => values.route === undefined || fixture.route === values.route);
  const targets: ContractTarget[] = [];
  if (values.legacy !== undefined) targets.push({ name: "legacy", url: values.legacy, credentials: values["legacy-user"] });
  if (values.pier !== undefined) targets.push({ name: "pier", url: values.pier, credentials: values["pier-user"] });
  const results = await runContract(fixtures, targets, vars);
  console.log(formatReport(results));
  process.exitCode = results.some((result) => result.problems.length > 0) ? 1 : 0;
} catch (error) {
  console.error(`contract: ${(error as Error).message}`);
  process.exitCode = 2;
}
