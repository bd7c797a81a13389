/**
 * The three patch formats of the PATCH verb (server-side apply is in managed-fields.ts):
 * - JSON merge patch, RFC 7386 (application/merge-patch+json);
 * - JSON patch, RFC 6902 (application/json-patch+json), all six operations;
 * - strategic merge patch (application/strategic-merge-patch+json): a merge patch in which lists
 *   that the type declares as merging (containers by name, ports by containerPort, finalizers as a
 *   set, ...; see typeinfo.ts) merge by key instead of being replaced, with the `$patch: delete`,
 *   `$patch: replace`, `$retainKeys` and `$deleteFromPrimitiveList/<field>` directives.
 *   `$setElementOrder/<field>` is accepted and ignored: merged lists keep the live order, new
 *   items at the end. Custom resources refuse it with 415, as the real API server does.
 */
import { ApiStatusError, badRequest } from "./errors.ts";
import { clone, isObj, jsonEqual, type Obj } from "./json.ts";
import { itemKey, type TypeInfo } from "./typeinfo.ts";

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const result: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) Reflect.deleteProperty(result, k);
    else result[k] = mergePatch(result[k], v);
  }
  return result;
}

/** A JSON patch that cannot be applied: 422 as in the API server, with the library's message. */
function patchFailed(message: string): ApiStatusError {
  return new ApiStatusError(422, "Invalid", message);
}

function unescapePointer(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== "string") throw badRequest("json patch: path must be a string");
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw patchFailed(`json patch: invalid path ${JSON.stringify(pointer)}`);
  return pointer.slice(1).split("/").map(unescapePointer);
}

interface Located {
  container: Obj | unknown[];
  key: string;
}

function locate(doc: unknown, tokens: string[], op: string): Located {
  let cur: unknown = doc;
  for (let i = 0; i < tokens.length - 1; i++) {
    const t = tokens[i]!;
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length - 1, op)];
    else if (isObj(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw patchFailed(`${op} operation does not apply: doc is missing path: "/${tokens.join("/")}": missing value`);
  }
  if (!Array.isArray(cur) && !isObj(cur)) throw patchFailed(`${op} operation does not apply: doc is missing path: "/${tokens.join("/")}": missing value`);
  return { container: cur, key: tokens[tokens.length - 1]! };
}

function arrayIndex(token: string, max: number, op: string): number {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw patchFailed(`${op} operation does not apply: invalid index ${JSON.stringify(token)}`);
  const n = Number(token);
  if (n > max) throw patchFailed(`${op} operation does not apply: index out of bounds: ${n}`);
  return n;
}

function getAt(doc: unknown, tokens: string[], op: string): unknown {
  if (tokens.length === 0) return doc;
  const { container, key } = locate(doc, tokens, op);
  const v = Array.isArray(container) ? container[arrayIndex(key, container.length - 1, op)] : container[key];
  if (v === undefined) throw patchFailed(`${op} operation does not apply: doc is missing path: "/${tokens.join("/")}": missing value`);
  return v;
}

function removeAt(doc: unknown, tokens: string[], op: string): unknown {
  const { container, key } = locate(doc, tokens, op);
  if (Array.isArray(container)) {
    const i = arrayIndex(key, container.length - 1, op);
    return container.splice(i, 1)[0];
  }
  if (!(key in container)) throw patchFailed(`${op} operation does not apply: doc is missing key: /${tokens.join("/")}: missing value`);
  const v = container[key];
  Reflect.deleteProperty(container, key);
  return v;
}

function addAt(doc: unknown, tokens: string[], value: unknown, op: string): unknown {
  if (tokens.length === 0) return value;
  const { container, key } = locate(doc, tokens, op);
  if (Array.isArray(container)) {
    const i = key === "-" ? container.length : arrayIndex(key, container.length, op);
    container.splice(i, 0, value);
  } else {
    container[key] = value;
  }
  return doc;
}

export function jsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) {
    throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  }
  let doc = clone(target);
  for (const raw of patch) {
    if (!isObj(raw)) throw badRequest("json: cannot unmarshal into Go value of type jsonpatch.Operation");
    const op = raw.op;
    const path = parsePointer(raw.path);
    switch (op) {
      case "add":
        if (!("value" in raw)) throw patchFailed("add operation does not apply: missing value");
        doc = addAt(doc, path, clone(raw.value), "add");
        break;
      case "remove":
        removeAt(doc, path, "remove");
        break;
      case "replace": {
        if (!("value" in raw)) throw patchFailed("replace operation does not apply: missing value");
        if (path.length === 0) { doc = clone(raw.value); break; }
        getAt(doc, path, "replace");
        const { container, key } = locate(doc, path, "replace");
        if (Array.isArray(container)) container[arrayIndex(key, container.length - 1, "replace")] = clone(raw.value);
        else container[key] = clone(raw.value);
        break;
      }
      case "move": {
        const from = parsePointer(raw.from);
        const v = removeAt(doc, from, "move");
        doc = addAt(doc, path, v, "move");
        break;
      }
      case "copy": {
        const from = parsePointer(raw.from);
        doc = addAt(doc, path, clone(getAt(doc, from, "copy")), "copy");
        break;
      }
      case "test": {
        let actual: unknown;
        try { actual = getAt(doc, path, "test"); } catch { actual = undefined; }
        if (!jsonEqual(actual, raw.value)) throw patchFailed(`testing value ${String(raw.path)} failed: test failed`);
        break;
      }
      default:
        throw patchFailed(`Unexpected kind: ${String(op)}`);
    }
  }
  return doc;
}

const DELETE_FROM = "$deleteFromPrimitiveList/";
const SET_ORDER = "$setElementOrder/";

/** Strategic merge patch over the list types of `types`. */
export function strategicMergePatch(target: unknown, patch: unknown, types: TypeInfo): unknown {
  return smp(target, patch, types, []);
}

function smp(original: unknown, patch: unknown, types: TypeInfo, path: string[]): unknown {
  if (!isObj(patch)) return clone(patch);
  const directive = patch.$patch;
  if (directive === "replace") {
    const { $patch: _drop, ...rest } = patch;
    return stripDirectives(rest);
  }
  if (directive === "delete") return undefined;
  if (directive !== undefined) throw badRequest(`Unknown patch type: ${String(directive)}`);
  if (!isObj(original) || types.atomicObject(path)) return stripDirectives(patch);
  const result: Obj = { ...original };
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) {
    for (const k of Object.keys(result)) if (!retain.includes(k) && !(k in patch)) Reflect.deleteProperty(result, k);
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$retainKeys" || k.startsWith(SET_ORDER)) continue;
    if (k.startsWith(DELETE_FROM)) {
      const field = k.slice(DELETE_FROM.length);
      const cur = result[field];
      if (Array.isArray(cur) && Array.isArray(v)) result[field] = cur.filter((x) => !v.some((d) => jsonEqual(d, x)));
      continue;
    }
    if (v === null) { Reflect.deleteProperty(result, k); continue; }
    const childPath = [...path, k];
    if (Array.isArray(v)) {
      const merged = mergeList(result[k], v, types, childPath);
      if (merged === undefined) Reflect.deleteProperty(result, k);
      else result[k] = merged;
    } else if (isObj(v)) {
      const merged = smp(result[k], v, types, childPath);
      if (merged === undefined) Reflect.deleteProperty(result, k);
      else result[k] = merged;
    } else {
      result[k] = v;
    }
  }
  return result;
}

function stripDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((x) => !(isObj(x) && x.$patch !== undefined)).map(stripDirectives);
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith("$")) continue;
    out[k] = stripDirectives(v);
  }
  return out;
}

function mergeList(original: unknown, patch: unknown[], types: TypeInfo, path: string[]): unknown[] | undefined {
  const lt = types.list(path);
  if (patch.some((x) => isObj(x) && x.$patch === "replace")) {
    return patch.filter((x) => !(isObj(x) && x.$patch === "replace")).map(stripDirectives);
  }
  if (lt.type === "atomic" || !Array.isArray(original)) return patch.filter((x) => !(isObj(x) && x.$patch === "delete")).map(stripDirectives);
  if (lt.type === "set") {
    const out = [...original];
    for (const x of patch) if (!out.some((y) => jsonEqual(x, y))) out.push(clone(x));
    return out;
  }
  // Strategic merge keys on the patchMergeKey alone: the first key of the list map.
  const mergeKey = lt.keys[0]!;
  const single = { type: "map" as const, keys: [mergeKey], defaults: {} };
  const out: unknown[] = original.map((x) => clone(x));
  for (const item of patch) {
    const key = itemKey(item, single);
    if (key === undefined) throw badRequest(`map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`);
    const at = out.findIndex((x) => jsonEqual(itemKey(x, single), key));
    if (isObj(item) && item.$patch === "delete") {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    if (at >= 0) out[at] = smp(out[at], item, types, [...path, "[]"]);
    else out.push(stripDirectives(item));
  }
  return out;
}
