/**
 * The values of the Helm chart `charts/kingbus-operator`, in zod. `scripts/generate-crds.ts`
 * writes them as the chart's values.schema.json (helm checks every install and `helm lint`
 * against it), and a test parses the chart's values.yaml with this schema.
 */
import { z } from "zod";
import { CLUSTER_NAME_PATTERN, kingbusClusterSpecSchema, LOG_LEVELS, MAX_CLUSTER_NAME_LENGTH } from "./kingbus-cluster.ts";

const LABELS = z.record(z.string(), z.string());
const anyObject = z.record(z.string(), z.unknown());

export const chartValuesSchema = z.strictObject({
  image: z
    .strictObject({
      repository: z.string().min(1).meta({ description: "image of the operator; also the default image of the kingbus pods" }),
      tag: z.string().meta({ description: "image tag; the chart's appVersion when empty" }),
      pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]),
    })
    .meta({ description: "the kingbus image (one image runs `kingbus operator` and `kingbus node`)" }),
  imagePullSecrets: z.array(z.strictObject({ name: z.string().min(1) })),
  replicaCount: z.number().int().min(1).max(5).meta({ description: "operator replicas; one leads (Lease), the others wait" }),
  watchNamespaces: z
    .array(z.string().min(1))
    .meta({ description: "namespaces whose KingbusClusters the operator manages; empty: every namespace (a ClusterRole), else a Role in each" }),
  logLevel: z.enum(LOG_LEVELS),
  serviceAccount: z.strictObject({
    create: z.boolean(),
    name: z.string().meta({ description: "name of the ServiceAccount; the release's full name when empty" }),
    annotations: LABELS,
  }),
  rbac: z.strictObject({ create: z.boolean().meta({ description: "create the (Cluster)Roles and bindings the operator needs" }) }),
  resources: z.strictObject({ requests: LABELS.optional(), limits: LABELS.optional() }),
  nodeSelector: LABELS,
  tolerations: z.array(anyObject),
  affinity: anyObject,
  podAnnotations: LABELS,
  podLabels: LABELS,
  metrics: z.strictObject({ port: z.number().int().min(1024).max(65535).meta({ description: "port of the operator's /metrics, /healthz and /readyz" }) }),
  serviceMonitor: z
    .strictObject({
      enabled: z.boolean(),
      interval: z.string(),
      labels: LABELS,
    })
    .meta({ description: "a Prometheus Operator ServiceMonitor for the operator's own metrics" }),
  example: z
    .strictObject({
      enabled: z.boolean().meta({ description: "also install an example KingbusCluster" }),
      name: z.string().max(MAX_CLUSTER_NAME_LENGTH).regex(new RegExp(CLUSTER_NAME_PATTERN)),
      spec: kingbusClusterSpecSchema,
    })
    .meta({ description: "an example KingbusCluster in the release's namespace" }),
});

export type ChartValues = z.output<typeof chartValuesSchema>;

/** values.schema.json of the chart. */
export function chartValuesJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(chartValuesSchema, { target: "draft-07", io: "input", unrepresentable: "throw" }) as Record<string, unknown>;
  return { ...schema, title: "kingbus-operator chart values" };
}

export function chartValuesJsonSchemaText(): string {
  return `${JSON.stringify(chartValuesJsonSchema(), null, 2)}\n`;
}
