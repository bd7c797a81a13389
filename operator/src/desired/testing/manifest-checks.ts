/**
 * Offline checks of Kubernetes manifests, for tests only (kubernetes-models is a dev dependency):
 *
 * - the Kubernetes OpenAPI schema of the object's kind (kubernetes-models: types, required fields,
 *   enums, formats);
 * - no unknown fields: kubernetes-models accepts any extra key, so a misspelt field (`readinesProbe`)
 *   would pass and be pruned silently by the API server. The field lists come from the
 *   Kubernetes client's generated models (@kubernetes/client-node `attributeTypeMap`);
 * - KingbusCluster objects through the operator's own schema, ServiceMonitors through the subset
 *   of monitoring.coreos.com/v1 the operator and the chart write.
 */
import * as k8s from "@kubernetes/client-node";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1";
import { Deployment, StatefulSet } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { z } from "zod";
import { API_VERSION, KIND, parseKingbusCluster } from "../../api/kingbus-cluster.ts";
import { structuralProblems } from "../../api/structural.ts";

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Readonly<Record<string, ModelClass>> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "apps/v1/StatefulSet": StatefulSet,
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "apiextensions.k8s.io/v1/CustomResourceDefinition": CustomResourceDefinition,
};

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}
interface ModelWithAttributes {
  getAttributeTypeMap(): readonly Attribute[];
}

function modelAttributes(type: string): readonly Attribute[] | undefined {
  const model = (k8s as unknown as Record<string, unknown>)[type] as Partial<ModelWithAttributes> | undefined;
  return typeof model?.getAttributeTypeMap === "function" ? model.getAttributeTypeMap() : undefined;
}

const SCALARS = new Set(["string", "number", "boolean", "Date", "any", "object", "IntOrString"]);

/** Paths of the fields of `value` that the Kubernetes type (a client-node model name, e.g. "V1StatefulSet") does not have. */
export function unknownFieldPaths(value: unknown, type: string, path = "", out: string[] = []): string[] {
  if (value === undefined || value === null || SCALARS.has(type)) return out;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) value.forEach((v: unknown, i: number) => unknownFieldPaths(v, array[1]!, `${path}[${i}]`, out));
    return out;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value === "object") for (const [k, v] of Object.entries(value)) unknownFieldPaths(v, map[1]!, `${path}.${k}`, out);
    return out;
  }
  const attributes = modelAttributes(type);
  if (attributes === undefined) throw new Error(`no Kubernetes model named ${type} (at ${path || "the root"})`);
  if (typeof value !== "object" || Array.isArray(value)) return out;
  for (const [key, v] of Object.entries(value)) {
    const attribute = attributes.find((a) => a.baseName === key);
    const here = path === "" ? key : `${path}.${key}`;
    if (attribute === undefined) out.push(here);
    else unknownFieldPaths(v, attribute.type, here, out);
  }
  return out;
}

const labels = z.record(z.string(), z.string());
/** The part of monitoring.coreos.com/v1 ServiceMonitor that kingbus writes, strictly. */
const serviceMonitorSchema = z.strictObject({
  apiVersion: z.literal("monitoring.coreos.com/v1"),
  kind: z.literal("ServiceMonitor"),
  metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().min(1).optional(), labels: labels.optional() }),
  spec: z.strictObject({
    selector: z.strictObject({ matchLabels: labels }),
    namespaceSelector: z.strictObject({ matchNames: z.array(z.string()) }).optional(),
    endpoints: z
      .array(
        z.strictObject({
          port: z.string().min(1),
          path: z.string().startsWith("/"),
          scheme: z.enum(["http", "https"]),
          interval: z.string().regex(/^[0-9]+(ms|s|m|h)$/).optional(),
          scrapeTimeout: z.string().regex(/^[0-9]+(ms|s|m|h)$/).optional(),
        }),
      )
      .min(1),
  }),
});

/**
 * Every problem with one manifest (empty when it is valid): schema errors, unknown fields, and for
 * a CRD the structural-schema rules. Throws for a kind this module does not know.
 */
export function manifestProblems(manifest: unknown): string[] {
  if (typeof manifest !== "object" || manifest === null) return ["not an object"];
  const m = manifest as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  const id = `${String(m.apiVersion)}/${String(m.kind)}`;
  const where = `${id} ${String(m.metadata?.name)}`;
  if (m.apiVersion === API_VERSION && m.kind === KIND) {
    try {
      parseKingbusCluster({ ...manifest, metadata: { namespace: "default", uid: "00000000-0000-0000-0000-000000000000", ...m.metadata } });
      return [];
    } catch (e) {
      return [`${where}: ${(e as Error).message}`];
    }
  }
  if (id === "monitoring.coreos.com/v1/ServiceMonitor") {
    const result = serviceMonitorSchema.safeParse(manifest);
    return result.success ? [] : result.error.issues.map((i) => `${where}: ${i.path.join(".")}: ${i.message}`);
  }
  const Model = MODELS[id];
  if (Model === undefined) throw new Error(`no offline schema for ${id}`);
  const problems: string[] = [];
  try {
    new Model(manifest as never).validate();
  } catch (e) {
    problems.push(`${where}: ${(e as Error).message}`);
  }
  for (const p of unknownFieldPaths(manifest, `V1${String(m.kind)}`)) problems.push(`${where}: unknown field ${p}`);
  if (m.kind === "CustomResourceDefinition") {
    const versions = (manifest as { spec?: { versions?: Array<{ name?: string; schema?: { openAPIV3Schema?: unknown } }> } }).spec?.versions ?? [];
    for (const v of versions) for (const p of structuralProblems(v.schema?.openAPIV3Schema)) problems.push(`${where} ${String(v.name)}: ${p}`);
  }
  return problems;
}
