/**
 * CustomResourceDefinitions and the custom resources they define:
 * - a CRD is checked as apiextensions.k8s.io/v1 checks it: name = <plural>.<group>, names, scope,
 *   exactly one storage version, a schema per version, and the structural-schema rules (a type on
 *   every specified field, `items` on arrays, no $ref/definitions/patternProperties/dependencies/
 *   additionalItems/uniqueItems, additionalProperties and properties mutually exclusive, no types
 *   or defaults inside anyOf/allOf/oneOf/not, list-map keys declared, metadata at the root only
 *   name and generateName);
 * - a custom resource is pruned (unknown fields dropped silently, unless
 *   x-kubernetes-preserve-unknown-fields), nulls of non-nullable fields dropped, defaulted from
 *   `default`, then validated against the schema (type, format int32/int64, enum, required,
 *   multipleOf, minimum/maximum and their exclusive forms, min/maxLength, pattern, min/maxItems,
 *   min/maxProperties, formats date-time/date/byte/uuid/ipv4, x-kubernetes-int-or-string,
 *   allOf/anyOf/oneOf/not) with the API server's
 *   messages. Not evaluated: x-kubernetes-validations (CEL rules), conversion webhooks (versions
 *   share one storage and differ only in apiVersion), scale subresources, printer columns.
 */
import { type FieldError } from "./errors.ts";
import { asArr, asObj, asStr, clone, isObj, jsonEqual, type Obj } from "./json.ts";
import type { ResourceInfo } from "./resources.ts";
import { schemaTypeInfo } from "./typeinfo.ts";

const FORBIDDEN_KEYWORDS = ["$schema", "$ref", "id", "definitions", "patternProperties", "dependencies", "additionalItems"];
const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);

function checkStructural(node: unknown, at: string, errs: FieldError[], opts: { root: boolean; inJunctor: boolean }): void {
  const s = asObj(node);
  if (s === undefined) return;
  for (const k of FORBIDDEN_KEYWORDS) if (k in s) errs.push({ type: "Forbidden", field: `${at}.${k}`, detail: `${k} is not supported` });
  if (s.uniqueItems === true) errs.push({ type: "Forbidden", field: `${at}.uniqueItems`, detail: "uniqueItems cannot be set to true since the runtime complexity becomes quadratic" });
  if (opts.inJunctor) {
    for (const k of ["type", "additionalProperties", "default", "nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-embedded-resource", "description"]) {
      if (k in s && k !== "description") errs.push({ type: "Forbidden", field: `${at}.${k}`, detail: "must be empty to be structural" });
    }
  } else {
    const type = asStr(s.type) ?? "";
    const untyped = s["x-kubernetes-int-or-string"] === true || s["x-kubernetes-preserve-unknown-fields"] === true;
    if (type === "" && !untyped) errs.push({ type: "Required", field: `${at}.type`, detail: "must not be empty for specified object fields" });
    if (type !== "" && !TYPES.has(type)) errs.push({ type: "NotSupported", field: `${at}.type`, value: type, detail: 'supported values: "array", "boolean", "integer", "number", "object", "string"' });
    if (opts.root && type !== "object") errs.push({ type: "Invalid", field: `${at}.type`, value: type, detail: "must be object at the root" });
    if (type === "array" && s.items === undefined) errs.push({ type: "Required", field: `${at}.items`, detail: "must be specified" });
    if (s.properties !== undefined && s.additionalProperties !== undefined && s.additionalProperties !== true) {
      errs.push({ type: "Forbidden", field: `${at}.additionalProperties`, detail: "additionalProperties and properties are mutual exclusive" });
    }
    if (s["x-kubernetes-list-type"] === "map") {
      const keys = asArr(s["x-kubernetes-list-map-keys"]) ?? [];
      if (keys.length === 0) errs.push({ type: "Required", field: `${at}.x-kubernetes-list-map-keys`, detail: "must not be empty if x-kubernetes-list-type is map" });
      const itemProps = asObj(asObj(s.items)?.properties) ?? {};
      for (const k of keys) if (!(String(k) in itemProps)) errs.push({ type: "Invalid", field: `${at}.x-kubernetes-list-map-keys`, value: keys, detail: `entries must all be names of item properties` });
    }
  }
  if (opts.root) {
    const metaSchema = asObj(asObj(s.properties)?.metadata);
    if (metaSchema !== undefined) {
      const props = Object.keys(asObj(metaSchema.properties) ?? {});
      const extra = Object.keys(metaSchema).filter((k) => k !== "type" && k !== "properties" && k !== "description");
      if (props.some((p) => p !== "name" && p !== "generateName") || extra.length > 0) {
        errs.push({ type: "Forbidden", field: `${at}.properties[metadata]`, detail: "must not specify anything other than name and generateName, but metadata is implicitly specified" });
      }
    }
  }
  for (const [name, p] of Object.entries(asObj(s.properties) ?? {})) checkStructural(p, `${at}.properties[${name}]`, errs, { root: false, inJunctor: opts.inJunctor });
  if (isObj(s.additionalProperties)) checkStructural(s.additionalProperties, `${at}.additionalProperties`, errs, { root: false, inJunctor: opts.inJunctor });
  if (s.items !== undefined) {
    if (Array.isArray(s.items)) errs.push({ type: "Forbidden", field: `${at}.items`, detail: "items must be a schema object and not an array" });
    else checkStructural(s.items, `${at}.items`, errs, { root: false, inJunctor: opts.inJunctor });
  }
  // The one exception to "no types inside junctors": int-or-string's anyOf [{type: integer}, {type: string}].
  const intOrString = s["x-kubernetes-int-or-string"] === true;
  for (const j of ["allOf", "anyOf", "oneOf"]) {
    (asArr(s[j]) ?? []).forEach((sub, i) => {
      const t = asObj(sub);
      if (intOrString && j !== "oneOf" && t !== undefined && Object.keys(t).length === 1 && (t.type === "integer" || t.type === "string")) return;
      checkStructural(sub, `${at}.${j}[${i}]`, errs, { root: false, inJunctor: true });
    });
  }
  if (s.not !== undefined) checkStructural(s.not, `${at}.not`, errs, { root: false, inJunctor: true });
}

/** The CRD's own validation (422 causes); empty when it may be stored. */
export function validateCrd(crd: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const spec = asObj(crd.spec) ?? {};
  const names = asObj(spec.names) ?? {};
  const group = asStr(spec.group) ?? "";
  const plural = asStr(names.plural) ?? "";
  const kind = asStr(names.kind) ?? "";
  const name = asStr(asObj(crd.metadata)?.name) ?? "";
  if (group === "") errs.push({ type: "Required", field: "spec.group" });
  else if (!group.includes(".")) errs.push({ type: "Invalid", field: "spec.group", value: group, detail: "should be a domain with at least one dot" });
  if (plural === "") errs.push({ type: "Required", field: "spec.names.plural" });
  else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(plural)) errs.push({ type: "Invalid", field: "spec.names.plural", value: plural, detail: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character" });
  if (kind === "") errs.push({ type: "Required", field: "spec.names.kind" });
  if (name !== `${plural}.${group}`) errs.push({ type: "Invalid", field: "metadata.name", value: name, detail: 'must be spec.names.plural+"."+spec.group' });
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") errs.push({ type: "NotSupported", field: "spec.scope", value: spec.scope ?? "", detail: 'supported values: "Cluster", "Namespaced"' });
  const versions = (asArr(spec.versions) ?? []).map((v) => asObj(v) ?? {});
  if (versions.length === 0) errs.push({ type: "Invalid", field: "spec.versions", value: [], detail: "must have exactly one version marked as storage version" });
  const storage = versions.filter((v) => v.storage === true).length;
  if (versions.length > 0 && storage !== 1) errs.push({ type: "Invalid", field: "spec.versions", value: versions.map((v) => v.name), detail: "must have exactly one version marked as storage version" });
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    const vName = asStr(v.name) ?? "";
    if (vName === "") errs.push({ type: "Required", field: `spec.versions[${i}].name` });
    if (seen.has(vName)) errs.push({ type: "Invalid", field: `spec.versions`, value: vName, detail: "must contain unique version names" });
    seen.add(vName);
    const schema = asObj(asObj(v.schema)?.openAPIV3Schema);
    if (schema === undefined) errs.push({ type: "Required", field: `spec.versions[${i}].schema.openAPIV3Schema`, detail: "schemas are required" });
    else checkStructural(schema, `spec.versions[${i}].schema.openAPIV3Schema`, errs, { root: true, inJunctor: false });
  });
  return errs;
}

/** The resources a CRD serves: one per served version. */
export function crdResources(crd: Obj): ResourceInfo[] {
  const spec = asObj(crd.spec) ?? {};
  const names = asObj(spec.names) ?? {};
  const kind = asStr(names.kind) ?? "";
  const out: ResourceInfo[] = [];
  for (const raw of asArr(spec.versions) ?? []) {
    const v = asObj(raw) ?? {};
    if (v.served === false) continue;
    const schema = asObj(asObj(v.schema)?.openAPIV3Schema);
    out.push({
      group: asStr(spec.group) ?? "",
      version: asStr(v.name) ?? "",
      kind,
      plural: asStr(names.plural) ?? "",
      singular: asStr(names.singular) ?? kind.toLowerCase(),
      listKind: asStr(names.listKind) ?? `${kind}List`,
      namespaced: spec.scope !== "Cluster",
      shortNames: (asArr(names.shortNames) ?? []).map(String),
      categories: (asArr(names.categories) ?? []).map(String),
      statusSubresource: asObj(asObj(v.subresources)?.status) !== undefined,
      generation: true,
      names: "subdomain",
      returnDeletedObject: true,
      types: schemaTypeInfo(schema),
      custom: { crdName: asStr(asObj(crd.metadata)?.name) ?? "", schema, preserveUnknownFields: spec.preserveUnknownFields === true },
    });
  }
  return out;
}

/** Fills what the API server sets on a CRD it accepts: conversion, status conditions. */
export function establishCrd(crd: Obj, now: string): void {
  const spec = asObj(crd.spec) ?? {};
  if (spec.conversion === undefined) spec.conversion = { strategy: "None" };
  const names = clone(asObj(spec.names) ?? {});
  if (names.singular === undefined) names.singular = String(names.kind ?? "").toLowerCase();
  if (names.listKind === undefined) names.listKind = `${String(names.kind ?? "")}List`;
  spec.names = names;
  const storage = (asArr(spec.versions) ?? []).map((v) => asObj(v) ?? {}).find((v) => v.storage === true);
  crd.status = {
    acceptedNames: names,
    conditions: [
      { type: "NamesAccepted", status: "True", lastTransitionTime: now, reason: "NoConflicts", message: "no conflicts found" },
      { type: "Established", status: "True", lastTransitionTime: now, reason: "InitialNamesAccepted", message: "the initial names have been accepted" },
    ],
    storedVersions: [asStr(storage?.name) ?? ""],
  };
}

/** Drops unknown fields and nulls of non-nullable fields, in place; returns the pruned value. */
export function pruneAndDefault(value: unknown, schema: Obj | undefined): unknown {
  if (schema === undefined) return value;
  if (schema["x-kubernetes-preserve-unknown-fields"] === true && schema.properties === undefined && schema.items === undefined) return value;
  if (isObj(value)) {
    const props = asObj(schema.properties);
    const additional = schema.additionalProperties;
    const preserve = schema["x-kubernetes-preserve-unknown-fields"] === true;
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) {
      const propSchema = props === undefined ? undefined : asObj(props[k]);
      const childSchema = propSchema ?? (isObj(additional) ? additional : undefined);
      if (childSchema === undefined && !(additional === true) && !preserve) continue;
      if (v === null && childSchema !== undefined && childSchema.nullable !== true) continue;
      out[k] = childSchema === undefined ? v : pruneAndDefault(v, childSchema);
    }
    for (const [k, p] of Object.entries(props ?? {})) {
      const ps = asObj(p);
      if (out[k] === undefined && ps !== undefined && ps.default !== undefined) out[k] = pruneAndDefault(clone(ps.default), ps);
    }
    return out;
  }
  if (Array.isArray(value)) {
    const items = asObj(schema.items);
    return value.map((x) => (items === undefined ? x : pruneAndDefault(x, items)));
  }
  return value;
}

/** A custom resource prepared for storage: root fields pruned and defaulted (metadata untouched). */
export function prepareCustomResource(obj: Obj, schema: Obj | undefined): Obj {
  if (schema === undefined) return obj;
  const { apiVersion, kind, metadata, ...rest } = obj;
  const props: Obj = { ...(asObj(schema.properties) ?? {}) };
  delete props.metadata; delete props.apiVersion; delete props.kind;
  const body = pruneAndDefault(rest, { ...schema, properties: props }) as Obj;
  return { apiVersion, kind, metadata, ...body };
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function valueMatchesType(v: unknown, type: string): boolean {
  const t = typeOf(v);
  if (type === "number") return t === "number" || t === "integer";
  return t === type;
}

/** The string formats the API server checks in custom resources (kube-openapi's strfmt registry, the common ones). */
function formatOk(format: string, v: string): boolean {
  switch (format) {
    case "date-time": return /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v));
    case "date": return /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(v));
    case "byte": return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(v);
    case "uuid": return /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(v);
    case "ipv4": return /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(v);
    default: return true;
  }
}

/** Validates a value against a schema node, collecting field errors (kube-openapi's messages). */
export function validateValue(v: unknown, s: Obj, at: string, errs: FieldError[]): void {
  if (v === null) {
    if (s.nullable !== true) errs.push({ type: "Invalid", field: at, value: null, detail: `${at} in body must be of type ${String(s.type ?? "object")}: "null"` });
    return;
  }
  const type = asStr(s.type);
  if (s["x-kubernetes-int-or-string"] === true) {
    if (typeOf(v) !== "integer" && typeof v !== "string") errs.push({ type: "TypeInvalid", field: at, value: v, detail: `${at} in body must be of type integer-or-string: "${typeOf(v)}"` });
  } else if (type !== undefined && !valueMatchesType(v, type)) {
    errs.push({ type: "TypeInvalid", field: at, value: v, detail: `${at} in body must be of type ${type}: "${typeOf(v)}"` });
    return;
  }
  if (s.format === "int32" && typeof v === "number" && (v < -(2 ** 31) || v > 2 ** 31 - 1)) errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body should be a valid int32` });
  const en = asArr(s.enum);
  if (en !== undefined && !en.some((x) => jsonEqual(x, v))) errs.push({ type: "NotSupported", field: at, value: v, detail: `supported values: ${en.map((x) => JSON.stringify(x)).join(", ")}` });
  if (typeof v === "number") {
    if (typeof s.multipleOf === "number" && s.multipleOf > 0 && !Number.isInteger(v / s.multipleOf)) {
      errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body should be a multiple of ${s.multipleOf}` });
    }
    if (typeof s.minimum === "number") {
      if (s.exclusiveMinimum === true ? v <= s.minimum : v < s.minimum) errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body should be greater than ${s.exclusiveMinimum === true ? "" : "or equal to "}${s.minimum}` });
    }
    if (typeof s.maximum === "number") {
      if (s.exclusiveMaximum === true ? v >= s.maximum : v > s.maximum) errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body should be less than ${s.exclusiveMaximum === true ? "" : "or equal to "}${s.maximum}` });
    }
  }
  if (typeof v === "string" && typeof s.format === "string" && !formatOk(s.format, v)) {
    errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body must be of type ${s.format}: ${JSON.stringify(v)}` });
  }
  if (typeof v === "string") {
    if (typeof s.maxLength === "number" && [...v].length > s.maxLength) errs.push({ type: "TooLong", field: at, value: v, detail: `may not be more than ${s.maxLength} bytes` });
    if (typeof s.minLength === "number" && [...v].length < s.minLength) errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body should be at least ${s.minLength} chars long` });
    if (typeof s.pattern === "string" && !new RegExp(s.pattern, "u").test(v)) errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body should match '${s.pattern}'` });
  }
  if (Array.isArray(v)) {
    if (typeof s.maxItems === "number" && v.length > s.maxItems) errs.push({ type: "TooMany", field: at, value: v.length, detail: `must have at most ${s.maxItems} items` });
    if (typeof s.minItems === "number" && v.length < s.minItems) errs.push({ type: "Invalid", field: at, value: v.length, detail: `${at} in body should have at least ${s.minItems} items` });
    const items = asObj(s.items);
    if (items !== undefined) v.forEach((x, i) => validateValue(x, items, `${at}[${i}]`, errs));
  }
  if (isObj(v)) {
    const props = asObj(s.properties) ?? {};
    for (const r of asArr(s.required) ?? []) if (v[String(r)] === undefined) errs.push({ type: "Required", field: at === "" ? String(r) : `${at}.${String(r)}` });
    const count = Object.keys(v).length;
    if (typeof s.maxProperties === "number" && count > s.maxProperties) errs.push({ type: "TooMany", field: at, value: count, detail: `must have at most ${s.maxProperties} items` });
    if (typeof s.minProperties === "number" && count < s.minProperties) errs.push({ type: "Invalid", field: at, value: count, detail: `${at} in body should have at least ${s.minProperties} properties` });
    for (const [k, x] of Object.entries(v)) {
      const ps = asObj(props[k]) ?? (isObj(s.additionalProperties) ? s.additionalProperties : undefined);
      if (ps !== undefined) validateValue(x, ps, at === "" ? k : `${at}.${k}`, errs);
    }
  }
  for (const sub of asArr(s.allOf) ?? []) if (isObj(sub)) validateValue(v, { ...sub, type: undefined }, at, errs);
  const anyOf = (asArr(s.anyOf) ?? []).filter(isObj);
  if (anyOf.length > 0 && !anyOf.some((sub) => { const e: FieldError[] = []; validateValue(v, sub, at, e); return e.length === 0; })) {
    errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body must match at least one schema in anyOf` });
  }
  const oneOf = (asArr(s.oneOf) ?? []).filter(isObj);
  if (oneOf.length > 0) {
    const n = oneOf.filter((sub) => { const e: FieldError[] = []; validateValue(v, sub, at, e); return e.length === 0; }).length;
    if (n !== 1) errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body must match exactly one schema in oneOf` });
  }
  if (isObj(s.not)) {
    const e: FieldError[] = [];
    validateValue(v, s.not, at, e);
    if (e.length === 0) errs.push({ type: "Invalid", field: at, value: v, detail: `${at} in body should not be valid against schema in not` });
  }
}

/** A custom resource against its version's schema; metadata is validated as ObjectMeta elsewhere. */
export function validateCustomResource(obj: Obj, schema: Obj | undefined): FieldError[] {
  if (schema === undefined) return [];
  const errs: FieldError[] = [];
  const { apiVersion: _a, kind: _k, metadata: _m, ...body } = obj;
  const props: Obj = { ...(asObj(schema.properties) ?? {}) };
  delete props.metadata;
  const required = (asArr(schema.required) ?? []).filter((r) => r !== "metadata" && r !== "apiVersion" && r !== "kind");
  const rootSchema: Obj = { ...schema, properties: props, required };
  validateValue(body, rootSchema, "", errs);
  return errs;
}
