/**
 * JSON Schema (as zod writes it, OpenAPI 3.0 flavour) to a Kubernetes structural schema, and a
 * check of the rules the API server applies to a CRD's schema
 * (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema).
 */

/** A node of a JSON schema, as plain JSON. */
export type JsonSchema = { [key: string]: unknown };

const SAFE = Number.MAX_SAFE_INTEGER;

function isObject(v: unknown): v is JsonSchema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Rewrites what zod emits into what a CRD accepts:
 * - `x-kubernetes-int-or-string` nodes become the one allowed form: no type, `anyOf` of a bare
 *   integer and a bare string, the string's pattern on the node itself;
 * - `x-kubernetes-preserve-unknown-fields` objects lose their `additionalProperties: {}`;
 * - `additionalProperties: false` is dropped (the API server prunes unknown fields anyway, and a
 *   CRD cannot combine it with properties);
 * - integer bounds at +-(2^53-1) (zod's default for `int()`) are dropped for `format: int64`;
 * - `$schema` and empty `required` go.
 */
export function toStructural(node: JsonSchema): JsonSchema {
  if (node["x-kubernetes-int-or-string"] === true) {
    const branches = Array.isArray(node.anyOf) ? node.anyOf.filter(isObject) : [];
    const pattern = branches.find((b) => b.type === "string")?.pattern;
    const out: JsonSchema = { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] };
    if (typeof pattern === "string") out.pattern = pattern;
    if (typeof node.description === "string") out.description = node.description;
    return out;
  }
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "$schema") continue;
    if (key === "properties" && isObject(value)) {
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isObject(v) ? toStructural(v) : v]));
    } else if ((key === "items" || key === "additionalProperties" || key === "not") && isObject(value)) {
      out[key] = toStructural(value);
    } else if ((key === "anyOf" || key === "allOf" || key === "oneOf") && Array.isArray(value)) {
      out[key] = value.map((v: unknown) => (isObject(v) ? toStructural(v) : v));
    } else {
      out[key] = value;
    }
  }
  if (out.additionalProperties === false) delete out.additionalProperties;
  if (out["x-kubernetes-preserve-unknown-fields"] === true && isObject(out.additionalProperties) && Object.keys(out.additionalProperties).length === 0) {
    delete out.additionalProperties;
  }
  if (out.type === "integer") {
    if (out.minimum === -SAFE) delete out.minimum;
    if (out.maximum === SAFE) delete out.maximum;
    if (out.format === undefined && (typeof out.maximum !== "number" || out.maximum > 2 ** 31 - 1)) out.format = "int64";
  }
  if (Array.isArray(out.required) && out.required.length === 0) delete out.required;
  return out;
}

/** The keys a CRD's JSONSchemaProps has (apiextensions.k8s.io/v1). */
const ALLOWED_KEYS = new Set([
  "$ref", "$schema", "additionalItems", "additionalProperties", "allOf", "anyOf", "default", "definitions", "dependencies",
  "description", "enum", "example", "exclusiveMaximum", "exclusiveMinimum", "externalDocs", "format", "id", "items",
  "maxItems", "maxLength", "maxProperties", "maximum", "minItems", "minLength", "minProperties", "minimum", "multipleOf",
  "not", "nullable", "oneOf", "pattern", "patternProperties", "properties", "required", "title", "type", "uniqueItems",
  "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
  "x-kubernetes-map-type", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations",
]);
/** Keys apiextensions.k8s.io/v1 refuses outright. */
const FORBIDDEN_KEYS = new Set(["$ref", "$schema", "id", "definitions", "additionalItems", "patternProperties", "dependencies", "uniqueItems"]);
/** Keys the structural rules refuse inside allOf, anyOf, oneOf and not. */
const NOT_IN_JUNCTORS = ["description", "type", "default", "additionalProperties", "nullable"];
const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);

function isIntOrStringAnyOf(node: JsonSchema, key: string, value: unknown): boolean {
  if (node["x-kubernetes-int-or-string"] !== true || key !== "anyOf" || !Array.isArray(value) || value.length !== 2) return false;
  const types = value.map((v: unknown) => (isObject(v) ? JSON.stringify(v) : ""));
  return types.includes('{"type":"integer"}') && types.includes('{"type":"string"}');
}

function junctorProblems(node: unknown, path: string, out: string[]): void {
  if (!isObject(node)) return;
  for (const key of NOT_IN_JUNCTORS) if (key in node) out.push(`${path}: ${key} is not allowed inside allOf/anyOf/oneOf/not`);
  if (isObject(node.properties)) for (const [k, v] of Object.entries(node.properties)) junctorProblems(v, `${path}.properties.${k}`, out);
  if (isObject(node.items)) junctorProblems(node.items, `${path}.items`, out);
}

/**
 * Every way the schema breaks the rules the API server applies to a CRD (an empty list when it is
 * structural): a type on every node, known keys only, properties and additionalProperties never
 * together, nothing typed inside junctors but the int-or-string form, list-map keys required,
 * preserve-unknown-fields objects typed.
 */
export function structuralProblems(node: unknown, path = "openAPIV3Schema", out: string[] = []): string[] {
  if (!isObject(node)) {
    out.push(`${path}: must be an object`);
    return out;
  }
  for (const key of Object.keys(node)) {
    if (!ALLOWED_KEYS.has(key)) out.push(`${path}: unknown key ${key}`);
    else if (FORBIDDEN_KEYS.has(key)) out.push(`${path}: ${key} is not allowed in apiextensions.k8s.io/v1`);
  }
  const intOrString = node["x-kubernetes-int-or-string"] === true;
  const preserve = node["x-kubernetes-preserve-unknown-fields"] === true;
  if (node.type === undefined) {
    if (!intOrString && !preserve) out.push(`${path}: type is missing`);
  } else if (typeof node.type !== "string" || !TYPES.has(node.type)) {
    out.push(`${path}: type ${JSON.stringify(node.type)} is not one of ${[...TYPES].join(", ")}`);
  }
  if (intOrString && node.type !== undefined) out.push(`${path}: x-kubernetes-int-or-string must not have a type`);
  if (preserve && node.type !== undefined && node.type !== "object") out.push(`${path}: x-kubernetes-preserve-unknown-fields needs type object`);
  if (typeof node.exclusiveMinimum !== "undefined" && typeof node.exclusiveMinimum !== "boolean") out.push(`${path}: exclusiveMinimum must be a boolean`);
  if (typeof node.exclusiveMaximum !== "undefined" && typeof node.exclusiveMaximum !== "boolean") out.push(`${path}: exclusiveMaximum must be a boolean`);
  if (node.properties !== undefined && node.additionalProperties !== undefined) out.push(`${path}: properties and additionalProperties are mutually exclusive`);
  if (node.additionalProperties === false || node.additionalProperties === true) out.push(`${path}: additionalProperties must be a schema`);
  if ((node.properties !== undefined || node.additionalProperties !== undefined) && node.type !== "object") out.push(`${path}: properties need type object`);
  if (node.items !== undefined && node.type !== "array") out.push(`${path}: items need type array`);
  if (node.type === "array" && !isObject(node.items)) out.push(`${path}: an array needs items`);
  if (Array.isArray(node.required)) {
    const props = isObject(node.properties) ? node.properties : {};
    for (const r of node.required) if (typeof r !== "string" || !(r in props)) out.push(`${path}: required ${String(r)} is not a property`);
  }
  if (node["x-kubernetes-list-type"] === "map") {
    const keys = node["x-kubernetes-list-map-keys"];
    const item = isObject(node.items) ? node.items : {};
    const required = Array.isArray(item.required) ? item.required : [];
    if (!Array.isArray(keys) || keys.length === 0) out.push(`${path}: x-kubernetes-list-type map needs x-kubernetes-list-map-keys`);
    else for (const k of keys) if (!required.includes(k)) out.push(`${path}: list map key ${String(k)} must be required in the items`);
  }
  if (isObject(node.properties)) for (const [k, v] of Object.entries(node.properties)) structuralProblems(v, `${path}.properties.${k}`, out);
  if (isObject(node.items)) structuralProblems(node.items, `${path}.items`, out);
  if (isObject(node.additionalProperties)) structuralProblems(node.additionalProperties, `${path}.additionalProperties`, out);
  for (const junctor of ["allOf", "anyOf", "oneOf"] as const) {
    const list = node[junctor];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      out.push(`${path}: ${junctor} must be a list`);
      continue;
    }
    if (isIntOrStringAnyOf(node, junctor, list)) continue;
    list.forEach((v: unknown, i: number) => junctorProblems(v, `${path}.${junctor}[${i}]`, out));
  }
  if (node.not !== undefined) junctorProblems(node.not, `${path}.not`, out);
  return out;
}
