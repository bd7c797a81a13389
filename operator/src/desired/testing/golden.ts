/**
 * The golden files of the desired-state functions: ../testdata/<case>.yaml holds, for each case of
 * fixtures.ts, every manifest `desiredResources` applies (YAML documents in apply order) and the
 * objects it prunes (in the header). `UPDATE_GOLDEN=1` rewrites them from the code; otherwise the
 * test compares.
 */
import { join } from "node:path";
import { stringify } from "yaml";
import { desiredResources } from "../resources.ts";
import type { GoldenCase } from "./fixtures.ts";

export const TESTDATA_DIR = join(import.meta.dirname, "..", "testdata");

export function goldenPath(c: GoldenCase): string {
  return join(TESTDATA_DIR, `${c.name}.yaml`);
}

export function renderGolden(c: GoldenCase): string {
  const { apply, prune } = desiredResources(c.cluster, c.options);
  const header = [
    `# Golden file of operator/src/desired: ${c.what}.`,
    "# Regenerate with UPDATE_GOLDEN=1 (operator/src/desired/golden.test.ts); review the diff.",
    `# options: ${JSON.stringify(c.options)}`,
    ...(prune.length === 0 ? ["# prune: none"] : prune.map((r) => `# prune: ${r.apiVersion} ${r.kind} ${r.namespace}/${r.name}`)),
  ];
  const docs = apply.map((m) => stringify(m, { lineWidth: 0 }));
  return `${header.join("\n")}\n---\n${docs.join("---\n")}`;
}
