/**
 * The fake API server's storage and request semantics, independent of HTTP: one global
 * resourceVersion counter (as etcd's revision), a table per resource, a bounded event history per
 * resource (the watch cache) and the watchers fed from it. See index.ts for what is faithful and
 * what is simplified.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { parse as parseYaml } from "yaml";
import {
  alreadyExists, ApiStatusError, badRequest, conflict, gone, internalError, invalid, methodNotSupported, notFound,
  unsupportedMediaType, type FieldError,
} from "./errors.ts";
import { asArr, asObj, asStr, clone, isObj, jsonEqual, meta, nowTime, type Obj } from "./json.ts";
import { crdResources, establishCrd, prepareCustomResource, validateCrd, validateCustomResource } from "./crd.ts";
import { applyDefaults, initialStatus } from "./defaults.ts";
import { recordUpdate, serverSideApply, type Scope } from "./managed-fields.ts";
import { jsonPatch, mergePatch, strategicMergePatch } from "./patch.ts";
import { apiVersionOf, builtinResources, storageKey, type ResourceInfo } from "./resources.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, type FieldRequirement, type LabelSelector } from "./selectors.ts";
import { checkSchema, validateBuiltin, validateObjectMeta } from "./validation.ts";

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent {
  type: EventType | "BOOKMARK" | "ERROR";
  object: Obj;
}

/** Who makes a request: the field manager it names, or one derived from its User-Agent. */
export interface Actor {
  fieldManager?: string;
  userAgent?: string;
}

export interface WriteOptions {
  subresource?: string;
  dryRun?: boolean;
}

export type PatchType = "merge" | "json" | "strategic" | "apply";

export interface PatchOptions extends WriteOptions {
  force?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  sendInitialEvents?: boolean;
}

export interface WatchSink {
  send(event: WatchEvent): void;
  /** Ends the stream; abrupt drops the connection instead of ending it cleanly. */
  close(abrupt: boolean): void;
}

/** A change as in-process listeners see it. */
export interface Change {
  resource: ResourceInfo;
  type: EventType;
  object: Obj;
  old: Obj | undefined;
}

interface HistoryEntry {
  rv: number;
  type: EventType;
  object: Obj;
  old: Obj | undefined;
}

interface Table {
  objects: Map<string, Obj>;
  history: HistoryEntry[];
  /** Watches from a resourceVersion below this are too old (410). */
  floor: number;
}

interface Watcher {
  storage: string;
  resource: ResourceInfo;
  namespace: string | undefined;
  labels: LabelSelector;
  fields: FieldRequirement[];
  sink: WatchSink;
  bookmarks: boolean;
  closed: boolean;
}

export interface StoreOptions {
  /** Events kept per resource for watches that resume (the watch cache). */
  historyLimit: number;
}

function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function managerOf(actor: Actor): string {
  if (actor.fieldManager !== undefined && actor.fieldManager !== "") return actor.fieldManager;
  const ua = actor.userAgent ?? "";
  const prefix = ua.split("/")[0] ?? "";
  return prefix === "" ? "unknown" : prefix;
}

function nameOf(o: Obj): string {
  return asStr(asObj(o.metadata)?.name) ?? "";
}

function namespaceOf(o: Obj): string {
  return asStr(asObj(o.metadata)?.namespace) ?? "";
}

function without(o: Obj, keys: string[]): Obj {
  const out = { ...o };
  for (const k of keys) Reflect.deleteProperty(out, k);
  return out;
}

/** The object with managedFields' timestamps blanked: a write that changes only those is a no-op. */
function forNoopCheck(o: Obj): Obj {
  const c = clone(o);
  for (const e of asArr(asObj(c.metadata)?.managedFields) ?? []) if (isObj(e)) delete e.time;
  return c;
}

const STANDARD_FINALIZERS = new Set(["orphan", "foregroundDeletion"]);

export class Store {
  #rv = 100;
  readonly #resources = new Map<string, ResourceInfo>();
  readonly #tables = new Map<string, Table>();
  readonly #watchers = new Set<Watcher>();
  readonly #listeners = new Set<(c: Change) => void>();
  readonly #options: StoreOptions;
  #nextIp = 10;

  constructor(options: StoreOptions) {
    this.#options = options;
    for (const r of builtinResources()) this.#register(r);
    for (const ns of ["default", "kube-system", "kube-public", "kube-node-lease"]) {
      this.create(this.resolveKind("Namespace"), "", { metadata: { name: ns } }, { fieldManager: "kube-apiserver" });
    }
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  // ---- resources ----------------------------------------------------------------------------

  #register(r: ResourceInfo): void {
    this.#resources.set(`${r.group}/${r.version}/${r.plural}`, r);
    const key = storageKey(r);
    if (!this.#tables.has(key)) this.#tables.set(key, { objects: new Map(), history: [], floor: this.#rv });
  }

  resources(): ResourceInfo[] {
    return [...this.#resources.values()];
  }

  resolve(group: string, version: string, plural: string): ResourceInfo | undefined {
    return this.#resources.get(`${group}/${version}/${plural}`);
  }

  /** A resource by kind ("StatefulSet"), plural ("statefulsets") or plural.group ("statefulsets.apps"). */
  resolveKind(name: string): ResourceInfo {
    for (const r of this.#resources.values()) {
      if (r.kind === name || r.plural === name || `${r.plural}.${r.group}` === name || r.shortNames.includes(name)) return r;
    }
    throw new ApiStatusError(404, "NotFound", `the server doesn't have a resource type "${name}"`);
  }

  #table(r: ResourceInfo): Table {
    const t = this.#tables.get(storageKey(r));
    if (t === undefined) throw internalError(`no storage for ${r.plural}`);
    return t;
  }

  // ---- events -------------------------------------------------------------------------------

  onChange(listener: (c: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #commit(r: ResourceInfo, type: EventType, object: Obj, old: Obj | undefined): Obj {
    const table = this.#table(r);
    const rv = ++this.#rv;
    meta(object).resourceVersion = String(rv);
    const key = objectKey(namespaceOf(object), nameOf(object));
    if (type === "DELETED") table.objects.delete(key);
    else table.objects.set(key, object);
    table.history.push({ rv, type, object, old });
    while (table.history.length > this.#options.historyLimit) table.floor = table.history.shift()!.rv;
    for (const w of this.#watchers) if (w.storage === storageKey(r)) this.#deliver(w, { rv, type, object, old });
    if (type !== "DELETED" && (asArr(asObj(object.metadata)?.ownerReferences) ?? []).length > 0) {
      setImmediate(() => this.#collect(r, object));
    }
    for (const l of this.#listeners) {
      try { l({ resource: r, type, object: clone(object), old: old === undefined ? undefined : clone(old) }); } catch { /* a listener's failure is its own */ }
    }
    return object;
  }

  // ---- reads --------------------------------------------------------------------------------

  /** The object as served through resource r (its apiVersion and kind). */
  present(r: ResourceInfo, o: Obj): Obj {
    const c = clone(o);
    return { apiVersion: apiVersionOf(r), kind: r.kind, ...without(c, ["apiVersion", "kind"]) };
  }

  #find(r: ResourceInfo, namespace: string, name: string): Obj | undefined {
    return this.#table(r).objects.get(objectKey(r.namespaced ? namespace : "", name));
  }

  get(r: ResourceInfo, namespace: string, name: string): Obj {
    const o = this.#find(r, namespace, name);
    if (o === undefined) throw notFound(r, name);
    return this.present(r, o);
  }

  list(r: ResourceInfo, namespace: string | undefined, opts: ListOptions = {}): Obj {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector, r.kind);
    const table = this.#table(r);
    let keys = [...table.objects.keys()].sort();
    let listRv = this.#rv;
    if (opts.continue !== undefined && opts.continue !== "") {
      let token: { rv: number; start: string };
      try {
        token = JSON.parse(Buffer.from(opts.continue, "base64").toString("utf8")) as { rv: number; start: string };
      } catch {
        throw badRequest("continue key is not valid: illegal base64 data");
      }
      if (token.rv < table.floor) throw gone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
      keys = keys.filter((k) => k > token.start);
      listRv = token.rv;
    }
    const matching: Obj[] = [];
    for (const k of keys) {
      const o = table.objects.get(k)!;
      if (namespace !== undefined && r.namespaced && namespaceOf(o) !== namespace) continue;
      if (!matchesLabels(labels, asObj(asObj(o.metadata)?.labels)) || !matchesFields(fields, o)) continue;
      matching.push(o);
    }
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : matching.length;
    const page = matching.slice(0, limit);
    const listMeta: Obj = { resourceVersion: String(listRv) };
    if (page.length < matching.length) {
      const last = page[page.length - 1]!;
      listMeta.continue = Buffer.from(JSON.stringify({ rv: listRv, start: objectKey(namespaceOf(last), nameOf(last)) })).toString("base64");
      listMeta.remainingItemCount = matching.length - page.length;
    }
    // Built-in lists carry items without apiVersion and kind, as the real server encodes them.
    const items = page.map((o) => (r.custom !== undefined ? this.present(r, o) : without(clone(o), ["apiVersion", "kind"])));
    return { kind: r.listKind, apiVersion: apiVersionOf(r), metadata: listMeta, items };
  }

  /** Stored objects of a resource, optionally in one namespace (for the test API). */
  objects(r: ResourceInfo, namespace?: string): Obj[] {
    return [...this.#table(r).objects.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([, o]) => o)
      .filter((o) => namespace === undefined || namespaceOf(o) === namespace)
      .map((o) => this.present(r, o));
  }

  // ---- watches ------------------------------------------------------------------------------

  #matches(w: Watcher, o: Obj | undefined): boolean {
    if (o === undefined) return false;
    if (w.namespace !== undefined && w.resource.namespaced && namespaceOf(o) !== w.namespace) return false;
    return matchesLabels(w.labels, asObj(asObj(o.metadata)?.labels)) && matchesFields(w.fields, o);
  }

  #deliver(w: Watcher, e: HistoryEntry): void {
    if (w.closed) return;
    const now = this.#matches(w, e.object);
    const before = e.type === "MODIFIED" && this.#matches(w, e.old);
    let type: EventType | undefined;
    if (e.type === "ADDED") type = now ? "ADDED" : undefined;
    else if (e.type === "DELETED") type = now ? "DELETED" : undefined;
    else if (now && before) type = "MODIFIED";
    else if (now) type = "ADDED";
    else if (before) type = "DELETED";
    if (type !== undefined) w.sink.send({ type, object: this.present(w.resource, e.object) });
  }

  /** Starts a watch; events before the call returns are sent synchronously. Returns a stop function. */
  watch(r: ResourceInfo, namespace: string | undefined, opts: WatchOptions, sink: WatchSink): () => void {
    const w: Watcher = {
      storage: storageKey(r), resource: r, namespace,
      labels: parseLabelSelector(opts.labelSelector), fields: parseFieldSelector(opts.fieldSelector, r.kind),
      sink, bookmarks: opts.allowWatchBookmarks === true, closed: false,
    };
    const table = this.#table(r);
    const rvText = opts.resourceVersion ?? "";
    if (rvText === "" || rvText === "0" || opts.sendInitialEvents === true) {
      for (const key of [...table.objects.keys()].sort()) {
        const o = table.objects.get(key)!;
        if (this.#matches(w, o)) sink.send({ type: "ADDED", object: this.present(r, o) });
      }
      if (opts.sendInitialEvents === true && w.bookmarks) {
        sink.send({ type: "BOOKMARK", object: { kind: r.kind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(this.#rv), annotations: { "k8s.io/initial-events-end": "true" } } } });
      }
    } else {
      if (!/^\d+$/.test(rvText)) throw badRequest(`invalid resource version: ${JSON.stringify(rvText)}`);
      const from = Number(rvText);
      if (from < table.floor) {
        sink.send({ type: "ERROR", object: gone(`too old resource version: ${from} (${table.floor})`).toStatus() });
        sink.close(false);
        return () => undefined;
      }
      for (const e of table.history) if (e.rv > from) this.#deliver(w, e);
    }
    this.#watchers.add(w);
    return () => { w.closed = true; this.#watchers.delete(w); };
  }

  /** Sends a BOOKMARK at the current resourceVersion to every watch that allows them. */
  bookmark(): void {
    for (const w of this.#watchers) {
      if (!w.bookmarks || w.closed) continue;
      w.sink.send({ type: "BOOKMARK", object: { kind: w.resource.kind, apiVersion: apiVersionOf(w.resource), metadata: { resourceVersion: String(this.#rv) } } });
    }
  }

  get watchCount(): number {
    return this.#watchers.size;
  }

  /** Ends every watch (cleanly, or by dropping the connection); returns how many. */
  dropWatches(abrupt: boolean): number {
    const all = [...this.#watchers];
    this.#watchers.clear();
    for (const w of all) { w.closed = true; w.sink.close(abrupt); }
    return all.length;
  }

  /** Forgets every resource's history: any resourceVersion a client holds is now too old. */
  compactHistory(): void {
    this.#rv++;
    for (const t of this.#tables.values()) { t.history = []; t.floor = this.#rv; }
  }

  // ---- writes -------------------------------------------------------------------------------

  #checkTypeMeta(r: ResourceInfo, o: Obj): void {
    const av = o.apiVersion;
    const kind = o.kind;
    if (av !== undefined && av !== apiVersionOf(r)) {
      throw badRequest(`the API version in the data (${String(av)}) does not match the expected API version (${apiVersionOf(r)})`);
    }
    if (kind !== undefined && kind !== r.kind) throw badRequest(`the kind in the data (${String(kind)}) does not match the expected kind (${r.kind})`);
  }

  /** Kind-specific preparation before validation (PrepareForCreate/Update, defaulting, pruning). */
  #prepare(r: ResourceInfo, o: Obj, old: Obj | undefined): void {
    if (r.kind === "Secret" && r.group === "") {
      const sd = asObj(o.stringData);
      if (sd !== undefined) {
        const data = asObj(o.data) ?? {};
        for (const [k, v] of Object.entries(sd)) data[k] = Buffer.from(String(v), "utf8").toString("base64");
        o.data = data;
        delete o.stringData;
      }
    }
    if (r.kind === "Service" && r.group === "") {
      const spec = asObj(o.spec) ?? {};
      o.spec = spec;
      const oldSpec = asObj(old?.spec);
      if ((spec.clusterIP === undefined || spec.clusterIP === "") && oldSpec?.clusterIP !== undefined) {
        spec.clusterIP = oldSpec.clusterIP;
        spec.clusterIPs = oldSpec.clusterIPs;
      }
      if ((spec.clusterIP === undefined || spec.clusterIP === "") && spec.type !== "ExternalName") {
        const n = this.#nextIp++;
        spec.clusterIP = `10.96.${Math.floor(n / 250)}.${n % 250}`;
      }
      if (spec.clusterIP !== undefined && spec.clusterIPs === undefined) spec.clusterIPs = [spec.clusterIP];
    }
    if (r.custom !== undefined) {
      const pruned = prepareCustomResource(o, r.custom.schema);
      for (const k of Object.keys(o)) Reflect.deleteProperty(o, k);
      Object.assign(o, pruned);
    } else {
      applyDefaults(r.kind, o);
    }
  }

  #validate(r: ResourceInfo, o: Obj, old: Obj | undefined): void {
    const name = nameOf(o);
    let errors: FieldError[];
    if (r.custom !== undefined) {
      errors = [...validateObjectMeta(r, o), ...validateCustomResource(o, r.custom.schema)];
    } else {
      errors = [...checkSchema(r, o), ...validateBuiltin(r, o, old)];
      if (r.kind === "CustomResourceDefinition") errors.push(...validateCrd(o));
    }
    if (errors.length > 0) throw invalid(r.kind, r.group, name, errors);
  }

  #scopeFor(r: ResourceInfo, subresource: string): Scope {
    if (!r.statusSubresource) return "all";
    return subresource === "status" ? "status" : "main";
  }

  #checkNamespace(r: ResourceInfo, namespace: string): void {
    if (!r.namespaced) return;
    const ns = this.#table(this.resolveKind("Namespace")).objects.get(objectKey("", namespace));
    if (ns === undefined) throw notFound({ plural: "namespaces", group: "", kind: "Namespace" }, namespace);
    if (asObj(ns.metadata)?.deletionTimestamp !== undefined) {
      throw new ApiStatusError(403, "Forbidden", `${r.plural}${r.group === "" ? "" : `.${r.group}`} "${nameOf(ns)}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
        name: namespace, group: r.group === "" ? undefined : r.group, kind: r.plural,
        causes: [{ reason: "NamespaceTerminating", message: `namespace ${namespace} is being terminated`, field: "metadata.namespace" }],
      });
    }
  }

  /** Fills the server-owned metadata of a new object and checks its name and namespace. */
  #newObject(r: ResourceInfo, namespace: string, body: Obj): Obj {
    const o = clone(body);
    this.#checkTypeMeta(r, o);
    o.apiVersion = apiVersionOf(r);
    o.kind = r.kind;
    const m = meta(o);
    if (r.namespaced) {
      if (m.namespace !== undefined && m.namespace !== "" && m.namespace !== namespace) {
        throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      m.namespace = namespace;
    } else {
      delete m.namespace;
    }
    if (m.resourceVersion !== undefined && m.resourceVersion !== "") throw badRequest("resourceVersion should not be set on objects to be created");
    if ((m.name === undefined || m.name === "") && typeof m.generateName === "string") {
      const alphabet = "bcdfghjklmnpqrstvwxz2456789";
      let candidate: string;
      do {
        candidate = m.generateName + [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join("");
      } while (this.#find(r, namespace, candidate) !== undefined);
      m.name = candidate;
    }
    m.uid = randomUUID();
    m.creationTimestamp = nowTime();
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.managedFields;
    delete m.selfLink;
    if (r.generation) m.generation = 1;
    else delete m.generation;
    if (r.statusSubresource) {
      const initial = r.custom === undefined ? initialStatus(r.kind) : undefined;
      if (initial === undefined) delete o.status;
      else o.status = initial;
    }
    return o;
  }

  create(r: ResourceInfo, namespace: string, body: Obj, actor: Actor, opts: WriteOptions = {}): Obj {
    if (opts.subresource !== undefined && opts.subresource !== "") throw methodNotSupported(r, "create");
    const o = this.#newObject(r, namespace, body);
    return this.#finishCreate(r, namespace, o, opts, (obj) => {
      recordUpdate(undefined, obj, r.types, "all", { manager: managerOf(actor), subresource: "", apiVersion: apiVersionOf(r) });
    });
  }

  #finishCreate(r: ResourceInfo, namespace: string, o: Obj, opts: WriteOptions, recordFields: (o: Obj) => void): Obj {
    const name = nameOf(o);
    if (name !== "" && this.#find(r, namespace, name) !== undefined) throw alreadyExists(r, name);
    if (name !== "") this.#checkNamespace(r, namespace);
    this.#prepare(r, o, undefined);
    this.#validate(r, o, undefined);
    if (r.kind === "CustomResourceDefinition") establishCrd(o, nowTime());
    recordFields(o);
    if (opts.dryRun === true) return this.present(r, o);
    const stored = this.#commit(r, "ADDED", o, undefined);
    if (r.kind === "CustomResourceDefinition") this.#installCrd(stored);
    return this.present(r, stored);
  }

  update(r: ResourceInfo, namespace: string, name: string, body: Obj, actor: Actor, opts: WriteOptions = {}): Obj {
    const subresource = this.#subresource(r, opts.subresource);
    const old = this.#find(r, namespace, name);
    if (old === undefined) throw notFound(r, name);
    const o = clone(body);
    this.#checkTypeMeta(r, o);
    const m = meta(o);
    if (m.name !== undefined && m.name !== name) throw badRequest(`the name of the object (${String(m.name)}) does not match the name on the URL (${name})`);
    if (r.namespaced && m.namespace !== undefined && m.namespace !== "" && m.namespace !== namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    this.#preconditionRv(r, old, m.resourceVersion);
    return this.#commitUpdate(r, old, o, subresource, opts, (before, after) => {
      recordUpdate(before, after, r.types, this.#scopeFor(r, subresource), { manager: managerOf(actor), subresource, apiVersion: apiVersionOf(r) });
    });
  }

  #subresource(r: ResourceInfo, sub: string | undefined): string {
    const s = sub ?? "";
    if (s === "") return "";
    if (s === "status" && r.statusSubresource) return "status";
    throw new ApiStatusError(404, "NotFound", "the server could not find the requested resource");
  }

  #preconditionRv(r: ResourceInfo, old: Obj, rv: unknown): void {
    if (rv === undefined || rv === null || rv === "") return;
    if (String(rv) !== asStr(asObj(old.metadata)?.resourceVersion)) throw conflict(r, nameOf(old));
  }

  /**
   * The shared tail of PUT, PATCH and apply: carries server-owned metadata over, applies the
   * status subresource rules, prepares, validates, bumps generation, records field ownership,
   * skips no-op writes, and completes a deletion once the last finalizer is gone.
   */
  #commitUpdate(r: ResourceInfo, old: Obj, candidate: Obj, subresource: string, opts: WriteOptions, recordFields: (before: Obj, after: Obj) => void): Obj {
    let next = clone(candidate);
    next.apiVersion = apiVersionOf(r);
    next.kind = r.kind;
    const om = asObj(old.metadata) ?? {};
    if (r.statusSubresource && subresource === "status") {
      const status = next.status;
      const mf = asObj(next.metadata)?.managedFields;
      next = clone(old);
      if (status === undefined) delete next.status;
      else next.status = status;
      if (mf !== undefined) meta(next).managedFields = mf;
      else delete meta(next).managedFields;
    } else if (r.statusSubresource) {
      if (old.status === undefined) delete next.status;
      else next.status = clone(old.status);
    }
    const m = meta(next);
    for (const k of ["name", "namespace", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"]) {
      if (om[k] === undefined) Reflect.deleteProperty(m, k);
      else m[k] = clone(om[k]);
    }
    m.resourceVersion = om.resourceVersion;
    if (!("managedFields" in m) && om.managedFields !== undefined && subresource !== "status") m.managedFields = clone(om.managedFields);
    this.#prepare(r, next, old);
    if (om.deletionTimestamp !== undefined) {
      const before = new Set((asArr(om.finalizers) ?? []).map(String));
      const added = (asArr(m.finalizers) ?? []).map(String).filter((f) => !before.has(f));
      if (added.length > 0) {
        throw invalid(r.kind, r.group, nameOf(old), [{ type: "Forbidden", field: "metadata.finalizers", detail: `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(", ")}}` }]);
      }
    }
    this.#validate(r, next, old);
    if (r.generation && !jsonEqual(without(next, ["metadata", "status"]), without(old, ["metadata", "status"]))) {
      m.generation = (typeof om.generation === "number" ? om.generation : 0) + 1;
    }
    recordFields(old, next);
    if (jsonEqual(forNoopCheck(next), forNoopCheck(old))) return this.present(r, old);
    if (opts.dryRun === true) return this.present(r, next);
    if (m.deletionTimestamp !== undefined && (asArr(m.finalizers) ?? []).length === 0) {
      const gone = this.#commit(r, "DELETED", next, old);
      this.#afterDelete(r, gone);
      return this.present(r, gone);
    }
    const stored = this.#commit(r, "MODIFIED", next, old);
    if (r.kind === "CustomResourceDefinition") this.#installCrd(stored);
    return this.present(r, stored);
  }

  patch(r: ResourceInfo, namespace: string, name: string, type: PatchType, body: string, actor: Actor, opts: PatchOptions = {}): Obj {
    const subresource = this.#subresource(r, opts.subresource);
    if (type === "apply") return this.#apply(r, namespace, name, body, actor, subresource, opts);
    if (opts.force === true) throw badRequest("force must be false for non-apply patch types");
    if (type === "strategic" && r.custom !== undefined) {
      throw unsupportedMediaType("application/strategic-merge-patch+json", ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]);
    }
    const old = this.#find(r, namespace, name);
    if (old === undefined) throw notFound(r, name);
    let patchDoc: unknown;
    try {
      patchDoc = JSON.parse(body);
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    if (type !== "json" && !isObj(patchDoc)) throw badRequest("json: cannot unmarshal array into Go value of type map[string]interface {}");
    const base = this.present(r, old);
    let patched: unknown;
    if (type === "merge") patched = mergePatch(base, patchDoc);
    else if (type === "json") patched = jsonPatch(base, patchDoc);
    else patched = strategicMergePatch(base, patchDoc, r.types);
    if (!isObj(patched)) throw badRequest("the patch produced something other than an object");
    const pm = asObj(patched.metadata) ?? {};
    if (pm.name !== undefined && pm.name !== name) throw badRequest(`the name of the object (${String(pm.name)}) does not match the name on the URL (${name})`);
    this.#preconditionRv(r, old, pm.resourceVersion);
    this.#checkTypeMeta(r, patched);
    return this.#commitUpdate(r, old, patched, subresource, opts, (before, after) => {
      recordUpdate(before, after, r.types, this.#scopeFor(r, subresource), { manager: managerOf(actor), subresource, apiVersion: apiVersionOf(r) });
    });
  }

  #apply(r: ResourceInfo, namespace: string, name: string, body: string, actor: Actor, subresource: string, opts: PatchOptions): Obj {
    if (actor.fieldManager === undefined || actor.fieldManager === "") throw badRequest("PATCH requests with apply content type (application/apply-patch+yaml) require fieldManager to be set");
    let applied: unknown;
    try {
      applied = parseYaml(body);
    } catch (e) {
      throw badRequest(`error decoding YAML: ${(e as Error).message}`);
    }
    if (!isObj(applied)) throw badRequest("error decoding YAML: the applied configuration is not an object");
    if (typeof applied.apiVersion !== "string" || applied.apiVersion === "") throw badRequest("apiVersion must be specified in an applied configuration");
    if (typeof applied.kind !== "string" || applied.kind === "") throw badRequest("kind must be specified in an applied configuration");
    this.#checkTypeMeta(r, applied);
    const am = asObj(applied.metadata) ?? {};
    if (am.managedFields !== undefined) throw badRequest("metadata.managedFields must be nil");
    if (am.name !== undefined && am.name !== name) throw badRequest(`the name of the object (${String(am.name)}) does not match the name on the URL (${name})`);
    if (r.namespaced && am.namespace !== undefined && am.namespace !== namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    const req = {
      manager: actor.fieldManager, force: opts.force === true, subresource, apiVersion: apiVersionOf(r), types: r.types,
      scope: this.#scopeFor(r, subresource), describe: `${r.plural} "${name}"`, resource: { group: r.group, plural: r.plural, name },
    };
    const old = this.#find(r, namespace, name);
    if (old === undefined) {
      if (subresource === "status") throw notFound(r, name);
      if (am.resourceVersion !== undefined) throw notFound(r, name);
      const body2: Obj = { ...clone(applied), metadata: { ...clone(am), name } };
      const o = this.#newObject(r, namespace, body2);
      const managed = serverSideApply(undefined, applied, req);
      return this.#finishCreate(r, namespace, o, opts, (obj) => { meta(obj).managedFields = asObj(managed.metadata)?.managedFields; });
    }
    this.#preconditionRv(r, old, am.resourceVersion);
    const merged = serverSideApply(this.present(r, old), applied, req);
    return this.#commitUpdate(r, old, merged, subresource, opts, () => undefined);
  }

  delete(r: ResourceInfo, namespace: string, name: string, opts: DeleteOptions = {}): { object: Obj; status: number; body: Obj } {
    const old = this.#find(r, namespace, name);
    if (old === undefined) throw notFound(r, name);
    const om = asObj(old.metadata) ?? {};
    const pre = opts.preconditions ?? {};
    if (pre.uid !== undefined && pre.uid !== om.uid) {
      throw conflict(r, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(om.uid)}`);
    }
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== om.resourceVersion) {
      throw conflict(r, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(om.resourceVersion)}`);
    }
    if (opts.dryRun === true) return { object: this.present(r, old), status: 200, body: this.present(r, old) };
    const policy = opts.propagationPolicy ?? "Background";
    if (policy === "Orphan") this.#orphanDependents(String(om.uid));
    if (policy === "Foreground") this.#deleteDependentsNow(String(om.uid));
    if (r.kind === "Namespace" && r.group === "") return this.#deleteNamespace(r, old);
    const finalizers = (asArr(om.finalizers) ?? []).map(String).filter((f) => !STANDARD_FINALIZERS.has(f));
    if (finalizers.length > 0) {
      if (om.deletionTimestamp !== undefined) return { object: this.present(r, old), status: 202, body: this.present(r, old) };
      const next = clone(old);
      const m = meta(next);
      m.deletionTimestamp = nowTime();
      m.deletionGracePeriodSeconds = 0;
      m.finalizers = finalizers;
      if (typeof m.generation === "number") m.generation += 1;
      const stored = this.#commit(r, "MODIFIED", next, old);
      return { object: this.present(r, stored), status: 202, body: this.present(r, stored) };
    }
    const gone = this.#commit(r, "DELETED", clone(old), old);
    this.#afterDelete(r, gone);
    const body = r.returnDeletedObject ? this.present(r, gone) : {
      kind: "Status", apiVersion: "v1", metadata: {}, status: "Success",
      details: { name, group: r.group === "" ? undefined : r.group, kind: r.plural, uid: om.uid },
    };
    return { object: this.present(r, gone), status: 200, body };
  }

  deleteCollection(r: ResourceInfo, namespace: string | undefined, opts: ListOptions & DeleteOptions): Obj {
    const list = this.list(r, namespace, { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector });
    const items: Obj[] = [];
    for (const item of asArr(list.items) ?? []) {
      const o = item as Obj;
      try { items.push(this.delete(r, namespaceOf(o), nameOf(o), opts).object); } catch (e) { if (!(e instanceof ApiStatusError && e.status === 404)) throw e; }
    }
    return { kind: r.listKind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: String(this.#rv) }, items };
  }

  #deleteNamespace(r: ResourceInfo, ns: Obj): { object: Obj; status: number; body: Obj } {
    const name = nameOf(ns);
    const terminating = clone(ns);
    meta(terminating).deletionTimestamp = nowTime();
    terminating.status = { phase: "Terminating" };
    const marked = this.#commit(r, "MODIFIED", terminating, ns);
    for (const res of this.#uniqueResources()) {
      if (!res.namespaced) continue;
      for (const o of [...this.#table(res).objects.values()]) {
        if (namespaceOf(o) !== name) continue;
        const gone = this.#commit(res, "DELETED", clone(o), o);
        this.#afterDelete(res, gone);
      }
    }
    const done = this.#commit(r, "DELETED", clone(marked), marked);
    return { object: this.present(r, done), status: 200, body: this.present(r, done) };
  }

  /** One resource per storage table (the storage version's, for custom resources). */
  #uniqueResources(): ResourceInfo[] {
    const seen = new Map<string, ResourceInfo>();
    for (const r of this.#resources.values()) if (!seen.has(storageKey(r))) seen.set(storageKey(r), r);
    return [...seen.values()];
  }

  #afterDelete(r: ResourceInfo, gone: Obj): void {
    if (r.kind === "CustomResourceDefinition") this.#uninstallCrd(gone);
    const uid = asStr(asObj(gone.metadata)?.uid);
    if (uid !== undefined) setImmediate(() => this.#collectGarbage(uid));
  }

  #dependents(ownerUid: string): { res: ResourceInfo; obj: Obj }[] {
    const out: { res: ResourceInfo; obj: Obj }[] = [];
    for (const res of this.#uniqueResources()) {
      for (const o of this.#table(res).objects.values()) {
        const refs = asArr(asObj(o.metadata)?.ownerReferences) ?? [];
        if (refs.some((ref) => asObj(ref)?.uid === ownerUid)) out.push({ res, obj: o });
      }
    }
    return out;
  }

  /** Whether the owner a reference names exists with that uid; true when its kind is not served here. */
  #ownerExists(ref: Obj, dependentNamespace: string): boolean {
    const [group, version] = String(ref.apiVersion ?? "").includes("/") ? String(ref.apiVersion).split("/") : ["", String(ref.apiVersion ?? "")];
    const res = [...this.#resources.values()].find((x) => x.group === group && x.version === version && x.kind === ref.kind);
    if (res === undefined) return true;
    const owner = this.#table(res).objects.get(objectKey(res.namespaced ? dependentNamespace : "", String(ref.name ?? "")));
    return owner !== undefined && asObj(owner.metadata)?.uid === ref.uid;
  }

  #collectGarbage(ownerUid: string): void {
    for (const { res, obj } of this.#dependents(ownerUid)) this.#collect(res, obj);
  }

  /**
   * The garbage collector, in the background: an object none of whose owners exist (by kind, name,
   * namespace and uid) is deleted; one that keeps an owner loses its references to the missing ones.
   */
  #collect(res: ResourceInfo, obj: Obj): void {
    const current = this.#find(res, namespaceOf(obj), nameOf(obj));
    if (current === undefined || asObj(current.metadata)?.uid !== asObj(obj.metadata)?.uid) return;
    const refs = (asArr(asObj(current.metadata)?.ownerReferences) ?? []).map((x) => asObj(x) ?? {});
    if (refs.length === 0) return;
    const remaining = refs.filter((ref) => this.#ownerExists(ref, namespaceOf(current)));
    if (remaining.length === refs.length) return;
    try {
      if (remaining.length > 0) {
        const next = clone(current);
        meta(next).ownerReferences = remaining;
        this.#commitUpdate(res, current, next, "", {}, (b, a) => recordUpdate(b, a, res.types, this.#scopeFor(res, ""), { manager: "kube-controller-manager", subresource: "", apiVersion: apiVersionOf(res) }));
      } else {
        this.delete(res, namespaceOf(current), nameOf(current), { propagationPolicy: "Background" });
      }
    } catch {
      // Gone already, or refused: the collector moves on, as the real one retries later.
    }
  }

  #orphanDependents(ownerUid: string): void {
    for (const { res, obj } of this.#dependents(ownerUid)) {
      const next = clone(obj);
      meta(next).ownerReferences = (asArr(asObj(obj.metadata)?.ownerReferences) ?? []).filter((ref) => asObj(ref)?.uid !== ownerUid);
      if ((asArr(meta(next).ownerReferences) ?? []).length === 0) delete meta(next).ownerReferences;
      this.#commitUpdate(res, obj, next, "", {}, (b, a) => recordUpdate(b, a, res.types, this.#scopeFor(res, ""), { manager: "kube-controller-manager", subresource: "", apiVersion: apiVersionOf(res) }));
    }
  }

  #deleteDependentsNow(ownerUid: string): void {
    for (const { res, obj } of this.#dependents(ownerUid)) {
      try { this.delete(res, namespaceOf(obj), nameOf(obj), { propagationPolicy: "Foreground" }); } catch { /* already gone */ }
    }
  }

  // ---- custom resource definitions ----------------------------------------------------------

  #installCrd(crd: Obj): void {
    const name = nameOf(crd);
    for (const [key, r] of this.#resources) if (r.custom?.crdName === name) this.#resources.delete(key);
    for (const r of crdResources(crd)) this.#register(r);
  }

  #uninstallCrd(crd: Obj): void {
    const name = nameOf(crd);
    const removed = [...this.#resources.entries()].filter(([, r]) => r.custom?.crdName === name);
    if (removed.length === 0) return;
    const r = removed[0]![1];
    for (const o of [...this.#table(r).objects.values()]) this.#commit(r, "DELETED", clone(o), o);
    for (const [key] of removed) this.#resources.delete(key);
    for (const w of [...this.#watchers]) {
      if (w.storage === storageKey(r)) { w.closed = true; this.#watchers.delete(w); w.sink.close(false); }
    }
    this.#tables.delete(storageKey(r));
  }
}
