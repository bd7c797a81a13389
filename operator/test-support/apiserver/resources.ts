/** The resources the fake API server serves, and the discovery documents that describe them. */
import type { Obj } from "./json.ts";
import { builtinTypeInfo, type TypeInfo } from "./typeinfo.ts";

export type NameRule = "subdomain" | "dns1123label" | "dns1035label";

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  listKind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** PUT/PATCH of .../status changes only status; the main endpoint leaves status alone. */
  statusSubresource: boolean;
  /** metadata.generation is kept and bumped on changes outside metadata and status. */
  generation: boolean;
  names: NameRule;
  /** DELETE answers with the object (custom resources) rather than a Status. */
  returnDeletedObject: boolean;
  types: TypeInfo;
  /** Set for custom resources: their CRD and this version's schema. */
  custom?: { crdName: string; schema: Obj | undefined; preserveUnknownFields: boolean };
}

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}

/** Where objects live: one table per group and plural, whatever the version. */
export function storageKey(r: { group: string; plural: string }): string {
  return `${r.group}/${r.plural}`;
}

function builtin(group: string, version: string, kind: string, plural: string, opts: Partial<ResourceInfo> = {}): ResourceInfo {
  return {
    group, version, kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List`, namespaced: true,
    shortNames: [], categories: [], statusSubresource: false, generation: false, names: "subdomain",
    returnDeletedObject: false, types: builtinTypeInfo(kind), ...opts,
  };
}

export function builtinResources(): ResourceInfo[] {
  return [
    builtin("", "v1", "Namespace", "namespaces", { namespaced: false, statusSubresource: true, names: "dns1123label", shortNames: ["ns"] }),
    builtin("", "v1", "Pod", "pods", { statusSubresource: true, shortNames: ["po"], categories: ["all"], returnDeletedObject: true }),
    builtin("", "v1", "Service", "services", { statusSubresource: true, names: "dns1035label", shortNames: ["svc"], categories: ["all"] }),
    builtin("", "v1", "ConfigMap", "configmaps", { shortNames: ["cm"] }),
    builtin("", "v1", "Secret", "secrets"),
    builtin("", "v1", "Event", "events", { shortNames: ["ev"] }),
    builtin("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", { statusSubresource: true, shortNames: ["pvc"] }),
    builtin("apps", "v1", "StatefulSet", "statefulsets", { statusSubresource: true, generation: true, shortNames: ["sts"], categories: ["all"] }),
    builtin("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", { statusSubresource: true, generation: true, shortNames: ["pdb"] }),
    builtin("coordination.k8s.io", "v1", "Lease", "leases"),
    builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", {
      namespaced: false, statusSubresource: true, generation: true, shortNames: ["crd", "crds"], categories: ["api-extensions"],
    }),
  ];
}

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/** GET /api/v1 or /apis/<group>/<version>: an APIResourceList. */
export function resourceList(group: string, version: string, resources: ResourceInfo[]): Obj {
  const entries: Obj[] = [];
  for (const r of resources) {
    const e: Obj = { name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: VERBS };
    if (r.shortNames.length > 0) e.shortNames = r.shortNames;
    if (r.categories.length > 0) e.categories = r.categories;
    entries.push(e);
    if (r.statusSubresource) entries.push({ name: `${r.plural}/status`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] });
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: apiVersionOf({ group, version }), resources: entries };
}

export function apiGroup(name: string, versions: string[]): Obj {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}
