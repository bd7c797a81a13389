/**
 * What the fake API server knows of a type's structure, for server-side apply, strategic merge
 * patch and pruning: how each list merges (atomic, set, or map keyed by fields) and which objects
 * are atomic. Built-in kinds use a table of the list types that the Kubernetes OpenAPI declares
 * (x-kubernetes-list-type / -map-keys, patchMergeKey) for the fields these resources use;
 * custom resources use their CRD's structural schema. Paths are field names, with "[]" standing
 * for a list item: ["spec", "template", "spec", "containers", "[]", "ports"].
 */
import { asObj, asStr, isObj, type Obj } from "./json.ts";

export type ListType =
  | { type: "atomic" }
  | { type: "set" }
  /** An associative list; `defaults` fill key fields left out (a port's protocol is TCP). */
  | { type: "map"; keys: string[]; defaults: Record<string, unknown> };

export interface TypeInfo {
  list(path: readonly string[]): ListType;
  /** True when the object at path is replaced whole (x-kubernetes-map-type: atomic, LabelSelector). */
  atomicObject(path: readonly string[]): boolean;
}

const ATOMIC: ListType = { type: "atomic" };
const SET: ListType = { type: "set" };
function mapList(keys: string[], defaults: Record<string, unknown> = {}): ListType {
  return { type: "map", keys, defaults };
}

/** ObjectMeta's lists, the same for every kind. */
function metadataList(path: readonly string[]): ListType | undefined {
  if (path.length !== 2 || path[0] !== "metadata") return undefined;
  if (path[1] === "ownerReferences") return mapList(["uid"]);
  if (path[1] === "finalizers") return SET;
  return ATOMIC;
}

const NAME_KEYED = new Set([
  "containers", "initContainers", "ephemeralContainers", "volumes", "imagePullSecrets", "resourceClaims",
  "schedulingGates", "env",
]);

/** The built-in kinds' lists (core/v1, apps/v1, policy/v1, coordination.k8s.io/v1, events). */
export function builtinTypeInfo(kind: string): TypeInfo {
  return {
    list(path) {
      const m = metadataList(path);
      if (m !== undefined) return m;
      const name = path[path.length - 1] ?? "";
      if (NAME_KEYED.has(name)) return mapList(["name"]);
      switch (name) {
        case "volumeMounts": return mapList(["mountPath"]);
        case "volumeDevices": return mapList(["devicePath"]);
        case "hostAliases": return mapList(["ip"]);
        case "topologySpreadConstraints": return mapList(["topologyKey", "whenUnsatisfiable"]);
        case "podIPs": case "hostIPs": return mapList(["ip"]);
        case "conditions": return mapList(["type"]);
        case "ports": {
          const inContainer = path.length >= 3 && path[path.length - 2] === "[]" &&
            ["containers", "initContainers", "ephemeralContainers"].includes(path[path.length - 3] ?? "");
          if (inContainer) return mapList(["containerPort", "protocol"], { protocol: "TCP" });
          if (kind === "Service" && path.length === 2 && path[0] === "spec") return mapList(["port", "protocol"], { protocol: "TCP" });
          return ATOMIC;
        }
        default: return ATOMIC;
      }
    },
    atomicObject(path) {
      const name = path[path.length - 1] ?? "";
      // metav1.LabelSelector is +structType=atomic; Service.spec.selector and PodSpec.nodeSelector are +mapType=atomic.
      return name === "selector" || name === "labelSelector" || name === "namespaceSelector" || name === "nodeSelector";
    },
  };
}

/** A CRD's openAPIV3Schema walked along a path; undefined where the schema says nothing. */
function schemaAt(root: Obj, path: readonly string[]): Obj | undefined {
  let node: Obj | undefined = root;
  for (const step of path) {
    if (node === undefined) return undefined;
    if (step === "[]") {
      node = asObj(node.items);
    } else {
      const props = asObj(node.properties);
      const own = props === undefined ? undefined : asObj(props[step]);
      if (own !== undefined) node = own;
      else if (isObj(node.additionalProperties)) node = node.additionalProperties;
      else return undefined;
    }
  }
  return node;
}

/** A custom resource's structure from its CRD version's openAPIV3Schema (metadata as built-ins). */
export function schemaTypeInfo(schema: Obj | undefined): TypeInfo {
  return {
    list(path) {
      const m = metadataList(path);
      if (m !== undefined) return m;
      const node = schema === undefined ? undefined : schemaAt(schema, path);
      if (node === undefined) return ATOMIC;
      const listType = asStr(node["x-kubernetes-list-type"]);
      if (listType === "set") return SET;
      if (listType === "map") {
        const keys = Array.isArray(node["x-kubernetes-list-map-keys"]) ? node["x-kubernetes-list-map-keys"].filter((k): k is string => typeof k === "string") : [];
        const defaults: Record<string, unknown> = {};
        const itemProps = asObj(asObj(node.items)?.properties);
        for (const k of keys) {
          const d = asObj(itemProps?.[k])?.default;
          if (d !== undefined) defaults[k] = d;
        }
        return mapList(keys, defaults);
      }
      return ATOMIC;
    },
    atomicObject(path) {
      if (path[0] === "metadata") return false;
      const node = schema === undefined ? undefined : schemaAt(schema, path);
      return node !== undefined && (node["x-kubernetes-map-type"] === "atomic");
    },
  };
}

/** The key of a list-map item, with key defaults filled, or undefined when a key field is missing. */
export function itemKey(item: unknown, lt: Extract<ListType, { type: "map" }>): Record<string, unknown> | undefined {
  if (!isObj(item)) return undefined;
  const key: Record<string, unknown> = {};
  for (const k of [...lt.keys].sort()) {
    const v = item[k] ?? lt.defaults[k];
    if (v === undefined) {
      if (lt.keys.length === 1) return undefined;
      continue;
    }
    key[k] = v;
  }
  return key;
}
