/**
 * Kubernetes objects as they travel on the wire (plain JSON), typed from client-node's models:
 * `Wire<V1StatefulSet>` is V1StatefulSet with its Date fields (metav1.Time, MicroTime) as the
 * strings the API server sends. The KubeClient neither serialises nor deserialises through
 * client-node's ObjectSerializer, which drops fields it does not know and turns times into Dates;
 * what you send is what the server gets, what you read is what it sent.
 */
import type {
  CoreV1Event, V1ConfigMap, V1Lease, V1Namespace, V1ObjectMeta, V1PersistentVolumeClaim, V1Pod, V1PodDisruptionBudget,
  V1Secret, V1Service, V1StatefulSet,
} from "@kubernetes/client-node";

/** A client-node model as JSON: Dates become RFC 3339 strings. */
export type Wire<T> = T extends Date
  ? string
  : T extends (infer U)[]
    ? Wire<U>[]
    : T extends object
      ? { [K in keyof T]: Wire<T[K]> }
      : T;

export type ObjectMeta = Wire<V1ObjectMeta>;

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export type Pod = Wire<V1Pod>;
export type Service = Wire<V1Service>;
export type ConfigMap = Wire<V1ConfigMap>;
export type Secret = Wire<V1Secret>;
export type Event = Wire<CoreV1Event>;
export type PersistentVolumeClaim = Wire<V1PersistentVolumeClaim>;
export type Namespace = Wire<V1Namespace>;
export type StatefulSet = Wire<V1StatefulSet>;
export type PodDisruptionBudget = Wire<V1PodDisruptionBudget>;
export type Lease = Wire<V1Lease>;

/** Objects whose schema the client does not model (ServiceMonitors, CRDs). */
export interface UntypedObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [field: string]: unknown;
}

/** Where a kind lives in the API; T is the object type requests and responses carry. */
export interface ResourceType<T extends KubeObject = KubeObject> {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Never set: carries T so that ResourceType<Pod> and ResourceType<Service> differ. */
  readonly _object?: T;
}

export function resourceType<T extends KubeObject>(r: Omit<ResourceType<T>, "_object">): ResourceType<T> {
  return r;
}

export function apiVersionOf(t: { group: string; version: string }): string {
  return t.group === "" ? t.version : `${t.group}/${t.version}`;
}

export const Pods = resourceType<Pod>({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true });
export const Services = resourceType<Service>({ group: "", version: "v1", kind: "Service", plural: "services", namespaced: true });
export const ConfigMaps = resourceType<ConfigMap>({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true });
export const Secrets = resourceType<Secret>({ group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true });
export const Events = resourceType<Event>({ group: "", version: "v1", kind: "Event", plural: "events", namespaced: true });
export const PersistentVolumeClaims = resourceType<PersistentVolumeClaim>({ group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true });
export const Namespaces = resourceType<Namespace>({ group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false });
export const StatefulSets = resourceType<StatefulSet>({ group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true });
export const PodDisruptionBudgets = resourceType<PodDisruptionBudget>({ group: "policy", version: "v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", namespaced: true });
export const Leases = resourceType<Lease>({ group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true });
export const ServiceMonitors = resourceType<UntypedObject>({ group: "monitoring.coreos.com", version: "v1", kind: "ServiceMonitor", plural: "servicemonitors", namespaced: true });
export const CustomResourceDefinitions = resourceType<UntypedObject>({ group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false });

/** "namespace/name", or "name" for cluster-scoped objects: the key of caches and work queues. */
export function objectKey(o: KubeObject): string {
  const ns = o.metadata?.namespace ?? "";
  const name = o.metadata?.name ?? "";
  return ns === "" ? name : `${ns}/${name}`;
}

/** The inverse of objectKey. */
export function splitKey(key: string): { namespace: string; name: string } {
  const at = key.indexOf("/");
  return at < 0 ? { namespace: "", name: key } : { namespace: key.slice(0, at), name: key.slice(at + 1) };
}

/** metav1.MicroTime as the API server parses it: exactly six fraction digits. */
export function microTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** metav1.Time: whole seconds. */
export function time(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
