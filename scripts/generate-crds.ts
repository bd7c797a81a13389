/**
 * Writes the files generated from the operator's zod schemas: the KingbusCluster CRD (crds/ and
 * the chart's crds/) and the chart's values.schema.json.
 *
 *   $NODE scripts/generate-crds.ts          # write them
 *   $NODE scripts/generate-crds.ts --check  # exit 1 naming every file that differs
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { generatedFiles, REPO_ROOT } from "../operator/src/api/generated-files.ts";

const check = process.argv.includes("--check");
const stale: string[] = [];
for (const file of generatedFiles()) {
  const path = join(REPO_ROOT, file.path);
  const current = existsSync(path) ? readFileSync(path, "utf8") : undefined;
  if (current === file.content) continue;
  if (check) {
    stale.push(file.path);
    continue;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, file.content);
  console.log(`wrote ${file.path}`);
}
if (stale.length > 0) {
  console.error(`out of date (run scripts/generate-crds.ts): ${stale.join(", ")}`);
  process.exit(1);
}
