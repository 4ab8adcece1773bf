/**
 * What the shipped Grafana dashboard and Prometheus rules ask of Pier: their PromQL
 * expressions, and the metric names those expressions select. The rules file is read
 * for its `expr:` entries only (plain or `|` block scalars, as deploy/monitoring writes
 * them); promtool checks the rest of its syntax.
 */
import { readFile } from "node:fs/promises";

export const DASHBOARD = "deploy/monitoring/pier-dashboard.json";
export const ALERT_RULES = "deploy/monitoring/pier-alerts.yaml";

interface Panel {
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every query of the dashboard: panel targets (rows' nested panels too) and templating queries. */
export async function dashboardExpressions(path = DASHBOARD): Promise<string[]> {
  const dashboard = JSON.parse(await readFile(path, "utf8")) as {
    panels: Panel[];
    templating?: { list: { type: string; query?: string | { query?: string } }[] };
  };
  const found: string[] = [];
  const visit = (panel: Panel) => {
    for (const target of panel.targets ?? []) if (target.expr) found.push(target.expr);
    for (const inner of panel.panels ?? []) visit(inner);
  };
  dashboard.panels.forEach(visit);
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== "query") continue;
    const query = typeof variable.query === "string" ? variable.query : variable.query?.query;
    if (query) found.push(query);
  }
  return found;
}

/** Every `expr:` of the rules file, block scalars joined into one line. */
export async function ruleExpressions(path = ALERT_RULES): Promise<string[]> {
  const lines = (await readFile(path, "utf8")).split("\n");
  const found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)expr:\s*(.*)$/.exec(lines[i]!);
    if (!match) continue;
    const [, indent, value] = match;
    if (!/^[|>][-+]?$/.test(value!.trim())) {
      found.push(value!.trim().replace(/^(['"])(.*)\1$/, "$2"));
      continue;
    }
    const block: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1]!.trim() === "" || lines[i + 1]!.search(/\S/) > indent!.length))
      block.push(lines[++i]!.trim());
    found.push(block.join(" ").trim());
  }
  return found;
}

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects: identifiers left after removing strings,
 * label matchers, ranges, groupings, Grafana variables and numbers, that are not function
 * calls or keywords. `label_values(metric, label)` (a Grafana query) selects its metric.
 */
export function selectedMetrics(expression: string): string[] {
  const text = expression
    .replace(/label_values\(\s*([^,()]+?)\s*,\s*[A-Za-z_]\w*\s*\)/g, " $1 ")
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    .replace(/\$\{?\w+\}?/g, " ")
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, " ");
  const names = new Set<string>();
  for (const match of text.matchAll(/[A-Za-z_:][\w:]*(?=\s*(\(?))/g)) {
    const [name, call] = [match[0], match[1]];
    if (call === "(" || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}
