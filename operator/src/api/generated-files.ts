/**
 * The files generated from the schemas in this directory, committed so that `kubectl apply -f
 * crds/` and the Helm chart work without running anything. `scripts/generate-crds.ts` writes them;
 * a test fails when a committed file differs.
 */
import { join, resolve } from "node:path";
import { chartValuesJsonSchemaText } from "./chart-values.ts";
import { kingbusClusterCrdYaml } from "./crd.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "../../..");
export const CHART_DIR = join(REPO_ROOT, "charts", "kingbus-operator");
export const CRD_FILE = "kingbus.io_kingbusclusters.yaml";

export interface GeneratedFile {
  /** Path from the repository root. */
  readonly path: string;
  readonly content: string;
}

export function generatedFiles(): GeneratedFile[] {
  const crd = kingbusClusterCrdYaml();
  return [
    { path: `crds/${CRD_FILE}`, content: crd },
    // Helm installs the chart's crds/ on first install (and never deletes them with the release).
    { path: `charts/kingbus-operator/crds/${CRD_FILE}`, content: crd },
    { path: "charts/kingbus-operator/values.schema.json", content: chartValuesJsonSchemaText() },
  ];
}
