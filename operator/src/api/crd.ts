/**
 * The KingbusCluster CustomResourceDefinition, built from the zod schemas in kingbus-cluster.ts.
 * `scripts/generate-crds.ts` writes it to `crds/` and into the Helm chart; a test fails when the
 * committed files differ from what this module builds.
 */
import { z } from "zod";
import { stringify } from "yaml";
import {
  CLUSTER_NAME_PATTERN,
  CRD_NAME,
  GROUP,
  KIND,
  kingbusClusterSpecSchema,
  kingbusClusterStatusSchema,
  LIST_KIND,
  MAX_CLUSTER_NAME_LENGTH,
  PLURAL,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
} from "./kingbus-cluster.ts";
import { structuralProblems, toStructural, type JsonSchema } from "./structural.ts";

export interface PrinterColumn {
  readonly name: string;
  readonly type: "integer" | "number" | "string" | "boolean" | "date";
  readonly jsonPath: string;
  readonly description?: string;
  readonly priority?: number;
}

/** The wire form of the CRD (client-node's V1CustomResourceDefinition renames the x-kubernetes keys). */
export interface CustomResourceDefinitionManifest {
  readonly apiVersion: "apiextensions.k8s.io/v1";
  readonly kind: "CustomResourceDefinition";
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec: {
    readonly group: string;
    readonly names: {
      readonly kind: string;
      readonly listKind: string;
      readonly plural: string;
      readonly singular: string;
      readonly shortNames: readonly string[];
      readonly categories: readonly string[];
    };
    readonly scope: "Namespaced";
    readonly versions: ReadonlyArray<{
      readonly name: string;
      readonly served: boolean;
      readonly storage: boolean;
      readonly subresources: { readonly status: Record<string, never> };
      readonly additionalPrinterColumns: readonly PrinterColumn[];
      readonly schema: { readonly openAPIV3Schema: JsonSchema };
    }>;
  };
}

export const PRINTER_COLUMNS: readonly PrinterColumn[] = [
  { name: "Replicas", type: "integer", jsonPath: ".spec.replicas", description: "desired members" },
  { name: "Ready", type: "integer", jsonPath: ".status.readyMembers", description: "healthy members" },
  { name: "Leader", type: "string", jsonPath: ".status.leader", description: "Raft leader" },
  { name: "Syncer", type: "string", jsonPath: ".status.syncer.state", description: "state of the syncer" },
  { name: "GTID", type: "string", jsonPath: ".status.syncer.executedGtidSet", description: "GTID set committed in the cluster" },
  { name: "Behind", type: "integer", jsonPath: ".status.syncer.secondsBehind", description: "seconds behind the primary", priority: 1 },
  { name: "Available", type: "string", jsonPath: '.status.conditions[?(@.type=="Available")].status', description: "the Available condition", priority: 1 },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", unrepresentable: "throw" }) as JsonSchema);
}

/** The openAPIV3Schema of kingbus.io/v1alpha1 KingbusCluster. */
export function kingbusClusterOpenApiSchema(): JsonSchema {
  return {
    type: "object",
    description:
      "A Raft-replicated MySQL/MariaDB binlog server: a StatefulSet of kingbus pods that replicates from a primary " +
      "(the syncer) and serves the binlog to replicas (the server). See docs/operator.md.",
    properties: {
      apiVersion: { type: "string", description: "APIVersion defines the versioned schema of this representation of an object." },
      kind: { type: "string", description: "Kind is a string value representing the REST resource this object represents." },
      // The API server allows restrictions of metadata.name (and generateName) only: the name
      // names the StatefulSet, Services and pods, so it is an RFC 1123 label short enough for them.
      metadata: {
        type: "object",
        properties: { name: { type: "string", maxLength: MAX_CLUSTER_NAME_LENGTH, pattern: CLUSTER_NAME_PATTERN } },
      },
      spec: { ...jsonSchemaOf(kingbusClusterSpecSchema), default: {} },
      status: jsonSchemaOf(kingbusClusterStatusSchema),
    },
  };
}

/** The CRD object. Throws when the schema is not structural (a schema change the API server would refuse). */
export function kingbusClusterCrd(): CustomResourceDefinitionManifest {
  const openAPIV3Schema = kingbusClusterOpenApiSchema();
  const problems = structuralProblems(openAPIV3Schema);
  if (problems.length > 0) throw new Error(`the KingbusCluster schema is not structural:\n${problems.join("\n")}`);
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: CRD_NAME, labels: { "app.kubernetes.io/name": "kingbus", "app.kubernetes.io/part-of": "kingbus" } },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: LIST_KIND, plural: PLURAL, singular: SINGULAR, shortNames: SHORT_NAMES, categories: ["kingbus"] },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: PRINTER_COLUMNS,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

export const GENERATED_HEADER = "# Generated by scripts/generate-crds.ts from operator/src/api/: do not edit.\n";

/** The CRD as the YAML file committed under crds/ and the chart's crds/. */
export function kingbusClusterCrdYaml(): string {
  return GENERATED_HEADER + stringify(kingbusClusterCrd(), { lineWidth: 0 });
}
