/**
 * Field ownership (metadata.managedFields) and server-side apply, after
 * sigs.k8s.io/structured-merge-diff at leaf granularity:
 * - a field set holds leaf paths (scalars, atomic lists and atomic objects, empty objects) and the
 *   members of associative lists (`k:{"name":"c"}`) and of sets (`v:"x"`); granular objects and
 *   maps (labels, annotations, spec, ...) are not members themselves. Serialised as FieldsV1,
 *   exactly as `kubectl get -o yaml --show-managed-fields` shows it.
 * - an Update (create, PUT, merge/JSON/strategic patch) gives its manager every field it added or
 *   changed and takes those fields from every other manager; fields it removed leave every set.
 * - an Apply merges the applied configuration into the live object (maps by key, associative
 *   lists by their keys, sets by value, atomic lists and objects whole); a field it changes that
 *   another manager (any manager, any operation, other than this manager's own Apply entry for
 *   the same subresource) owns is a conflict: 409 without force, taken over with force. The
 *   manager's set becomes exactly the applied fields; a field it applied before and no longer
 *   applies is removed from the object unless another manager owns it too (a list item stays,
 *   without this manager's fields, while another manager owns a field inside it).
 * Simplified: entries are keyed by manager, operation and subresource (not apiVersion: each
 * resource serves one version); null values in an applied configuration are dropped rather than
 * meaning "unset"; objects left empty by the removal of fields are pruned (as Go's omitempty does
 * for built-in types); the fields a type's schema would reject as unknown are owned like others.
 */
import { ApiStatusError, type StatusCause } from "./errors.ts";
import { asArr, asObj, asStr, clone, isObj, jsonEqual, nowTime, type Obj } from "./json.ts";
import { itemKey, type ListType, type TypeInfo } from "./typeinfo.ts";

/** A set of field paths; each node is a path element in FieldsV1 form ("f:spec", `k:{"name":"c"}`). */
export class FieldSet {
  member = false;
  readonly children = new Map<string, FieldSet>();

  static fromFieldsV1(json: unknown): FieldSet {
    const s = new FieldSet();
    const o = asObj(json);
    if (o === undefined) return s;
    for (const [k, v] of Object.entries(o)) {
      if (k === ".") s.member = true;
      else {
        const c = FieldSet.fromFieldsV1(v);
        if (asObj(v) !== undefined && Object.keys(v as Obj).length === 0) c.member = true;
        s.children.set(k, c);
      }
    }
    return s;
  }

  toFieldsV1(): Obj {
    const out: Obj = {};
    if (this.member && this.children.size > 0) out["."] = {};
    for (const k of [...this.children.keys()].sort()) out[k] = this.children.get(k)!.toFieldsV1();
    return out;
  }

  get empty(): boolean {
    return !this.member && this.children.size === 0;
  }

  insert(path: readonly string[], from = 0): void {
    if (from === path.length) { this.member = true; return; }
    let next = this.children.get(path[from]!);
    if (next === undefined) { next = new FieldSet(); this.children.set(path[from]!, next); }
    next.insert(path, from + 1);
  }

  /** The node at path, if the set has one. */
  at(path: readonly string[], from = 0): FieldSet | undefined {
    if (from === path.length) return this;
    return this.children.get(path[from]!)?.at(path, from + 1);
  }

  has(path: readonly string[]): boolean {
    return this.at(path)?.member === true;
  }

  /** Every member path, parents before their children. */
  paths(prefix: string[] = []): string[][] {
    const out: string[][] = [];
    if (this.member) out.push(prefix);
    for (const [k, c] of this.children) out.push(...c.paths([...prefix, k]));
    return out;
  }

  /** True when this set has a member at or below path. */
  hasUnder(path: readonly string[]): boolean {
    const node = this.at(path);
    return node !== undefined && !node.empty;
  }

  union(other: FieldSet): FieldSet {
    const out = this.copy();
    for (const p of other.paths()) out.insert(p);
    return out;
  }

  difference(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const p of this.paths()) if (!other.has(p)) out.insert(p);
    return out;
  }

  intersection(other: FieldSet): FieldSet {
    const out = new FieldSet();
    for (const p of this.paths()) if (other.has(p)) out.insert(p);
    return out;
  }

  copy(): FieldSet {
    return FieldSet.fromPaths(this.paths());
  }

  static fromPaths(paths: string[][]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }
}

/** Which top-level fields an operation may touch: all, all but status, or only status. */
export type Scope = "all" | "main" | "status";

const NEVER_OWNED_META = new Set([
  "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
  "deletionGracePeriodSeconds", "managedFields", "selfLink",
]);

function inScope(key: string, scope: Scope): boolean {
  if (key === "apiVersion" || key === "kind") return false;
  if (scope === "status") return key === "status";
  if (scope === "main") return key !== "status";
  return true;
}

function keyElement(key: Record<string, unknown>): string {
  return `k:${JSON.stringify(key)}`;
}

/** The field set of an object: its leaves and list members, within scope. */
export function fieldSetOf(obj: Obj, types: TypeInfo, scope: Scope): FieldSet {
  const set = new FieldSet();
  for (const [k, v] of Object.entries(obj)) {
    if (!inScope(k, scope) || v === undefined || v === null) continue;
    if (k === "metadata" && isObj(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (NEVER_OWNED_META.has(mk) || mv === undefined || mv === null) continue;
        walk(mv, ["metadata", mk], [`f:metadata`, `f:${mk}`], types, set);
      }
      continue;
    }
    walk(v, [k], [`f:${k}`], types, set);
  }
  return set;
}

function walk(value: unknown, typePath: string[], path: string[], types: TypeInfo, set: FieldSet): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    const lt = types.list(typePath);
    if (lt.type === "atomic" || value.length === 0) { set.insert(path); return; }
    if (lt.type === "set") {
      for (const item of value) set.insert([...path, `v:${JSON.stringify(item)}`]);
      return;
    }
    for (const item of value) {
      const key = itemKey(item, lt);
      if (key === undefined || !isObj(item)) { set.insert(path); return; }
      const itemPath = [...path, keyElement(key)];
      set.insert(itemPath);
      for (const [k, v] of Object.entries(item)) walk(v, [...typePath, "[]", k], [...itemPath, `f:${k}`], types, set);
    }
    return;
  }
  if (isObj(value)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined && value[k] !== null);
    if (keys.length === 0 || types.atomicObject(typePath)) { set.insert(path); return; }
    for (const k of keys) walk(value[k], [...typePath, k], [...path, `f:${k}`], types, set);
    return;
  }
  set.insert(path);
}

/** The value at a field path, or undefined. */
export function valueAt(obj: unknown, path: readonly string[], types: TypeInfo): unknown {
  let cur: unknown = obj;
  const typePath: string[] = [];
  for (const e of path) {
    if (cur === undefined) return undefined;
    if (e.startsWith("f:")) {
      const name = e.slice(2);
      cur = isObj(cur) ? cur[name] : undefined;
      typePath.push(name);
    } else {
      const arr = asArr(cur);
      if (arr === undefined) return undefined;
      cur = arr[indexIn(arr, e, types.list(typePath))];
      typePath.push("[]");
    }
  }
  return cur;
}

function indexIn(arr: unknown[], element: string, lt: ListType): number {
  if (element.startsWith("k:") && lt.type === "map") {
    const key = JSON.parse(element.slice(2)) as unknown;
    return arr.findIndex((x) => jsonEqual(itemKey(x, lt), key));
  }
  if (element.startsWith("v:")) {
    const v = JSON.parse(element.slice(2)) as unknown;
    return arr.findIndex((x) => jsonEqual(x, v));
  }
  if (element.startsWith("i:")) return Number(element.slice(2));
  return -1;
}

/** Removes the field at path from obj (in place); true when something was there. */
function removeAt(obj: Obj, path: readonly string[], types: TypeInfo): boolean {
  let cur: unknown = obj;
  const typePath: string[] = [];
  for (let i = 0; i < path.length; i++) {
    const e = path[i]!;
    const last = i === path.length - 1;
    if (e.startsWith("f:")) {
      const name = e.slice(2);
      if (!isObj(cur)) return false;
      if (last) { const had = name in cur; Reflect.deleteProperty(cur, name); return had; }
      cur = cur[name];
      typePath.push(name);
    } else {
      const arr = asArr(cur);
      if (arr === undefined) return false;
      const at = indexIn(arr, e, types.list(typePath));
      if (at < 0) return false;
      if (last) { arr.splice(at, 1); return true; }
      cur = arr[at];
      typePath.push("[]");
    }
  }
  return false;
}

/** Drops objects (and lists) left empty under path's ancestors by a removal. */
function pruneEmpty(obj: Obj, path: readonly string[]): void {
  for (let depth = path.length - 1; depth >= 1; depth--) {
    const parentPath = path.slice(0, depth);
    const last = parentPath[parentPath.length - 1]!;
    if (!last.startsWith("f:")) return;
    let cur: unknown = obj;
    for (const e of parentPath.slice(0, -1)) {
      if (!e.startsWith("f:") || !isObj(cur)) return;
      cur = cur[e.slice(2)];
    }
    if (!isObj(cur)) return;
    const v = cur[last.slice(2)];
    const isEmpty = (isObj(v) && Object.keys(v).length === 0) || (Array.isArray(v) && v.length === 0);
    if (!isEmpty) return;
    if (parentPath.length === 1 && last === "f:metadata") return;
    Reflect.deleteProperty(cur, last.slice(2));
  }
}

export interface Change {
  /** Added or modified fields. */
  changed: FieldSet;
  removed: FieldSet;
}

/** The fields that differ between two versions of an object, within scope. */
export function compare(before: Obj, after: Obj, types: TypeInfo, scope: Scope): Change {
  const a = fieldSetOf(before, types, scope);
  const b = fieldSetOf(after, types, scope);
  const changed = new FieldSet();
  for (const p of b.paths()) {
    if (!a.has(p)) { changed.insert(p); continue; }
    if (isLeaf(a, p) && isLeaf(b, p) && !jsonEqual(valueAt(before, p, types), valueAt(after, p, types))) changed.insert(p);
  }
  return { changed, removed: a.difference(b) };
}

function isLeaf(set: FieldSet, path: readonly string[]): boolean {
  const node = set.at(path);
  return node !== undefined && node.children.size === 0;
}

export interface ManagedEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  subresource: string;
  fields: FieldSet;
}

export function readManagedFields(obj: Obj): ManagedEntry[] {
  const raw = asArr(asObj(obj.metadata)?.managedFields) ?? [];
  const out: ManagedEntry[] = [];
  for (const r of raw) {
    const e = asObj(r);
    if (e === undefined) continue;
    out.push({
      manager: asStr(e.manager) ?? "",
      operation: e.operation === "Apply" ? "Apply" : "Update",
      apiVersion: asStr(e.apiVersion) ?? "",
      time: asStr(e.time) ?? nowTime(),
      subresource: asStr(e.subresource) ?? "",
      fields: FieldSet.fromFieldsV1(e.fieldsV1),
    });
  }
  return out;
}

export function writeManagedFields(obj: Obj, entries: ManagedEntry[]): void {
  const m = asObj(obj.metadata) ?? {};
  obj.metadata = m;
  const kept = entries.filter((e) => !e.fields.empty);
  if (kept.length === 0) { delete m.managedFields; return; }
  m.managedFields = kept.map((e) => {
    const out: Obj = { manager: e.manager, operation: e.operation, apiVersion: e.apiVersion, time: e.time, fieldsType: "FieldsV1", fieldsV1: e.fields.toFieldsV1() };
    if (e.subresource !== "") out.subresource = e.subresource;
    return out;
  });
}

/** Records an Update by `manager`: it owns what it changed; the others lose it. */
export function recordUpdate(before: Obj | undefined, after: Obj, types: TypeInfo, scope: Scope, who: { manager: string; subresource: string; apiVersion: string }): void {
  const entries = before === undefined ? [] : readManagedFields(before);
  const { changed, removed } = before === undefined
    ? { changed: fieldSetOf(after, types, scope), removed: new FieldSet() }
    : compare(before, after, types, scope);
  if (changed.empty && removed.empty) { writeManagedFields(after, entries); return; }
  const next: ManagedEntry[] = [];
  let mine: ManagedEntry | undefined;
  for (const e of entries) {
    if (e.manager === who.manager && e.operation === "Update" && e.subresource === who.subresource) { mine = e; continue; }
    next.push({ ...e, fields: e.fields.difference(changed).difference(removed) });
  }
  const base = mine?.fields ?? new FieldSet();
  next.push({
    manager: who.manager, operation: "Update", apiVersion: who.apiVersion, time: nowTime(), subresource: who.subresource,
    fields: base.union(changed).difference(removed),
  });
  writeManagedFields(after, next);
}

/** Drops null members (an applied null is treated as absent). */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((x) => x !== null).map(dropNulls);
  if (!isObj(value)) return value;
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = dropNulls(v);
  return out;
}

function merge(live: unknown, applied: unknown, types: TypeInfo, typePath: string[]): unknown {
  if (isObj(applied) && isObj(live) && !types.atomicObject(typePath)) {
    const out: Obj = { ...live };
    for (const [k, v] of Object.entries(applied)) out[k] = merge(live[k], v, types, [...typePath, k]);
    return out;
  }
  if (Array.isArray(applied) && Array.isArray(live)) {
    const lt = types.list(typePath);
    if (lt.type === "set") {
      const out = [...live];
      for (const x of applied) if (!out.some((y) => jsonEqual(x, y))) out.push(clone(x));
      return out;
    }
    if (lt.type === "map") {
      const out = live.map((x) => clone(x));
      for (const item of applied) {
        const key = itemKey(item, lt);
        const at = key === undefined ? -1 : out.findIndex((x) => jsonEqual(itemKey(x, lt), key));
        if (at >= 0) out[at] = merge(out[at], item, types, [...typePath, "[]"]);
        else out.push(clone(item));
      }
      return out;
    }
  }
  return clone(applied);
}

/** The path as the API server prints it in conflicts: `.spec.containers[name="c"].image`. */
export function formatPath(path: readonly string[]): string {
  let s = "";
  for (const e of path) {
    if (e.startsWith("f:")) s += `.${e.slice(2)}`;
    else if (e.startsWith("k:")) {
      const key = JSON.parse(e.slice(2)) as Record<string, unknown>;
      s += `[${Object.entries(key).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}]`;
    } else if (e.startsWith("v:")) s += `[=${e.slice(2)}]`;
    else if (e.startsWith("i:")) s += `[${e.slice(2)}]`;
  }
  return s;
}

export interface ApplyRequest {
  manager: string;
  force: boolean;
  subresource: string;
  apiVersion: string;
  types: TypeInfo;
  scope: Scope;
  /** Names the resource in the conflict message: `statefulsets.apps "web"`. */
  describe: string;
  resource: { group: string; plural: string; name: string };
}

/**
 * Server-side apply of `appliedRaw` onto `live` (undefined: the object is created). Returns the
 * merged object with its managedFields written; throws 409 on conflicts without force.
 */
export function serverSideApply(live: Obj | undefined, appliedRaw: Obj, req: ApplyRequest): Obj {
  const applied = dropNulls(appliedRaw) as Obj;
  const appliedSet = fieldSetOf(applied, req.types, req.scope);
  const now = nowTime();
  if (live === undefined) {
    const created = clone(applied);
    writeManagedFields(created, [{ manager: req.manager, operation: "Apply", apiVersion: req.apiVersion, time: now, subresource: req.subresource, fields: appliedSet }]);
    return created;
  }
  const entries = readManagedFields(live);
  const merged: Obj = clone(live);
  for (const [k, v] of Object.entries(applied)) {
    if (k === "apiVersion" || k === "kind") continue;
    if (k === "metadata" && isObj(v) && req.scope !== "status") {
      const mm = asObj(merged.metadata) ?? {};
      merged.metadata = mm;
      for (const [mk, mv] of Object.entries(v)) {
        if (NEVER_OWNED_META.has(mk)) continue;
        mm[mk] = merge(mm[mk], mv, req.types, ["metadata", mk]);
      }
      continue;
    }
    if (!inScope(k, req.scope)) continue;
    merged[k] = merge(merged[k], v, req.types, [k]);
  }
  const { changed } = compare(live, merged, req.types, req.scope);
  const isMine = (e: ManagedEntry): boolean => e.manager === req.manager && e.operation === "Apply" && e.subresource === req.subresource;
  const conflicts: { manager: string; paths: string[][] }[] = [];
  for (const e of entries) {
    if (isMine(e)) continue;
    const clash = e.fields.intersection(changed).paths();
    if (clash.length > 0) conflicts.push({ manager: e.manager, paths: clash });
  }
  if (conflicts.length > 0 && !req.force) throw applyConflict(conflicts, req);
  const next: ManagedEntry[] = [];
  let previous = new FieldSet();
  for (const e of entries) {
    if (isMine(e)) { previous = e.fields; continue; }
    next.push(req.force ? { ...e, fields: e.fields.difference(changed) } : e);
  }
  let othersOwn = new FieldSet();
  for (const e of next) othersOwn = othersOwn.union(e.fields);
  const dropped = previous.difference(appliedSet).paths();
  // A list item that goes goes whole: its own fields (its key among them) are not removed one by
  // one first, which would leave an item the key no longer finds.
  const toRemove = dropped
    .filter((p) => !dropped.some((q) => q.length < p.length && !q[q.length - 1]!.startsWith("f:") && q.every((e, i) => p[i] === e) && !othersOwn.hasUnder(q)))
    .sort((a, b) => b.length - a.length);
  for (const p of toRemove) {
    if (othersOwn.has(p)) continue;
    const last = p[p.length - 1]!;
    if (!last.startsWith("f:") && othersOwn.hasUnder(p)) continue;
    if (removeAt(merged, p, req.types)) pruneEmpty(merged, p);
  }
  next.push({ manager: req.manager, operation: "Apply", apiVersion: req.apiVersion, time: now, subresource: req.subresource, fields: appliedSet });
  writeManagedFields(merged, next);
  return merged;
}

function applyConflict(conflicts: { manager: string; paths: string[][] }[], req: ApplyRequest): ApiStatusError {
  const causes: StatusCause[] = [];
  const lines: string[] = [];
  let count = 0;
  for (const c of conflicts) {
    for (const p of c.paths) {
      count++;
      const field = formatPath(p);
      causes.push({ reason: "FieldManagerConflict", message: `conflict with "${c.manager}"`, field });
      lines.push(`conflict with "${c.manager}": ${field}`);
    }
  }
  const message = count === 1
    ? `Apply failed with 1 conflict: ${lines[0]!}`
    : `Apply failed with ${count} conflicts: ${lines.join("\n")}`;
  return new ApiStatusError(409, "Conflict", message, {
    name: req.resource.name, group: req.resource.group === "" ? undefined : req.resource.group, kind: req.resource.plural, causes,
  });
}
