/** The KingbusCluster API: schema, types, parse, CRD, conditions. */
export * from "./kingbus-cluster.ts";
export { ClusterSpecError, type ClusterIssue } from "./errors.ts";
export { setCondition, findCondition, type ConditionUpdate } from "./conditions.ts";
export { kingbusClusterCrd, kingbusClusterCrdYaml, kingbusClusterOpenApiSchema, PRINTER_COLUMNS } from "./crd.ts";
export type { CustomResourceDefinitionManifest, PrinterColumn } from "./crd.ts";
export { BYTE_QUANTITY_PATTERN, DURATION_PATTERN, parseByteQuantity, parseDurationMs, QUANTITY_PATTERN } from "./units.ts";
