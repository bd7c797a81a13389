/** startFakeApiServer: the HTTP server on 127.0.0.1 and the in-process control API for tests. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { ApiStatusError } from "./errors.ts";
import { HttpFrontend, type FailureOptions, type RequestRecord, type Verb } from "./http.ts";
import { asObj, asStr, type Obj } from "./json.ts";
import type { ResourceInfo } from "./resources.ts";
import { Store, type Change, type DeleteOptions, type EventType } from "./store.ts";
import { StatefulSetSimulator, type StatefulSetSimulatorOptions } from "./statefulset-simulator.ts";
import { serviceMonitorCrd } from "./service-monitor.ts";

export interface FakeApiServerOptions {
  /** Events kept per resource for resuming watches; older resourceVersions get 410 Gone (default 1000). */
  historyLimit?: number;
  /** How often watches that allow bookmarks get one (default 1000 ms; the real server: about a minute). */
  bookmarkIntervalMs?: number;
  /** Install the monitoring.coreos.com ServiceMonitor CRD, as prometheus-operator does (default true). */
  serviceMonitors?: boolean;
}

export interface ObjectChange {
  type: EventType;
  object: Obj;
  old: Obj | undefined;
}

export interface ApplyOptions {
  fieldManager: string;
  force?: boolean;
  subresource?: "status";
}

export interface InProcessWriteOptions {
  fieldManager?: string;
  subresource?: "status";
}

export interface FakeApiServer {
  readonly url: string;
  /** The bearer token every request must carry (kubeConfig() carries it). */
  readonly token: string;
  /** Every HTTP request served, in order, with the status it got. */
  readonly requests: readonly RequestRecord[];
  /** The current (global) resourceVersion. */
  readonly resourceVersion: string;
  /** A client-node KubeConfig for this server; its context namespace defaults to "default". */
  kubeConfig(options?: { namespace?: string }): KubeConfig;
  close(): Promise<void>;
  /** Forgets all watch history: every resourceVersion a client holds becomes too old (410 Gone). */
  compactHistory(): void;
  /** Ends every open watch, cleanly (as on a server-side timeout) or abruptly (connection reset). */
  dropWatches(options?: { abrupt?: boolean }): number;
  /** Open watches. */
  watchCount(): number;
  /** Stored objects of a kind ("StatefulSet", "statefulsets", "statefulsets.apps"), as a GET returns them. */
  objects(kind: string, namespace?: string): Obj[];
  object(kind: string, namespace: string, name: string): Obj | undefined;
  /** The next `times` (default 1) requests of verb (or "*") on kind (or "*") fail with status. */
  failNext(verb: Verb | "*", kind: string, status: number, options?: FailureOptions): void;
  /** Delays every non-watch response by ms. */
  setLatency(ms: number): void;
  // In-process writes, through the same code as HTTP requests (validation, events, watches).
  create(obj: Obj, options?: InProcessWriteOptions): Obj;
  update(obj: Obj, options?: InProcessWriteOptions): Obj;
  mergePatch(kind: string, namespace: string, name: string, patch: Obj, options?: InProcessWriteOptions): Obj;
  apply(obj: Obj, options: ApplyOptions): Obj;
  delete(kind: string, namespace: string, name: string, options?: DeleteOptions): void;
  createNamespace(name: string): Obj;
  /** Creates a CustomResourceDefinition: its resources are served at once. */
  registerCrd(crd: Obj): Obj;
  /** Calls listener on every change of kind ("*": all kinds); returns a function that stops it. */
  onChange(kind: string, listener: (change: ObjectChange) => void): () => void;
  /** Resolves with the object once predicate holds (checked now and on every change of it). */
  waitFor(kind: string, namespace: string, name: string, predicate: (o: Obj | undefined) => boolean, timeoutMs?: number): Promise<Obj | undefined>;
  /** Runs a StatefulSet controller and kubelet: pods, claims, readiness, rolling updates, status. */
  simulateStatefulSets(options?: StatefulSetSimulatorOptions): StatefulSetSimulator;
}

function resourceFor(store: Store, obj: Obj): ResourceInfo {
  const apiVersion = asStr(obj.apiVersion) ?? "";
  const kind = asStr(obj.kind) ?? "";
  const [group, version] = apiVersion.includes("/") ? (apiVersion.split("/") as [string, string]) : ["", apiVersion];
  const r = store.resources().find((x) => x.group === group && x.version === version && x.kind === kind);
  if (r === undefined) throw new ApiStatusError(404, "NotFound", `no matches for kind "${kind}" in version "${apiVersion}"`);
  return r;
}

function metaOf(obj: Obj): { name: string; namespace: string } {
  const m = asObj(obj.metadata) ?? {};
  return { name: asStr(m.name) ?? "", namespace: asStr(m.namespace) ?? "default" };
}

export async function startFakeApiServer(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const store = new Store({ historyLimit: options.historyLimit ?? 1000 });
  if (options.serviceMonitors ?? true) store.create(store.resolveKind("CustomResourceDefinition"), "", serviceMonitorCrd(), { fieldManager: "prometheus-operator" });
  const token = randomBytes(16).toString("hex");
  let address = "";
  const http = new HttpFrontend(store, { token, serverAddress: () => address });
  const server: Server = createServer((req, res) => void http.handle(req, res));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  address = `127.0.0.1:${port}`;
  const url = `http://${address}`;
  const bookmarks = setInterval(() => store.bookmark(), options.bookmarkIntervalMs ?? 1000);
  bookmarks.unref();
  const simulators: StatefulSetSimulator[] = [];
  const manager = (o?: InProcessWriteOptions): { fieldManager: string } => ({ fieldManager: o?.fieldManager ?? "test" });

  const api: FakeApiServer = {
    url,
    token,
    get requests() { return http.requests; },
    get resourceVersion() { return String(store.resourceVersion); },
    kubeConfig(o) {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: "fake", server: url, skipTLSVerify: true }],
        users: [{ name: "fake", token }],
        contexts: [{ name: "fake", cluster: "fake", user: "fake", namespace: o?.namespace ?? "default" }],
        currentContext: "fake",
      });
      return kc;
    },
    async close() {
      clearInterval(bookmarks);
      for (const s of simulators) s.stop();
      store.dropWatches(false);
      http.closeWatches();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    compactHistory: () => store.compactHistory(),
    dropWatches(o) {
      const n = store.dropWatches(o?.abrupt === true);
      if (o?.abrupt !== true) http.closeWatches();
      return n;
    },
    watchCount: () => store.watchCount,
    objects: (kind, namespace) => store.objects(store.resolveKind(kind), namespace),
    object(kind, namespace, name) {
      try { return store.get(store.resolveKind(kind), namespace, name); } catch (e) {
        if (e instanceof ApiStatusError && e.status === 404) return undefined;
        throw e;
      }
    },
    failNext: (verb, kind, status, o) => http.failNext(verb, kind, status, o),
    setLatency(ms) { http.latencyMs = ms; },
    create(obj, o) {
      const r = resourceFor(store, obj);
      return store.create(r, r.namespaced ? metaOf(obj).namespace : "", obj, manager(o));
    },
    update(obj, o) {
      const r = resourceFor(store, obj);
      const { name, namespace } = metaOf(obj);
      return store.update(r, r.namespaced ? namespace : "", name, obj, manager(o), { subresource: o?.subresource });
    },
    mergePatch(kind, namespace, name, patch, o) {
      return store.patch(store.resolveKind(kind), namespace, name, "merge", JSON.stringify(patch), manager(o), { subresource: o?.subresource });
    },
    apply(obj, o) {
      const r = resourceFor(store, obj);
      const { name, namespace } = metaOf(obj);
      return store.patch(r, r.namespaced ? namespace : "", name, "apply", JSON.stringify(obj), { fieldManager: o.fieldManager }, { force: o.force, subresource: o.subresource });
    },
    delete(kind, namespace, name, o) {
      store.delete(store.resolveKind(kind), namespace, name, o);
    },
    createNamespace(name) {
      return store.create(store.resolveKind("Namespace"), "", { metadata: { name } }, { fieldManager: "test" });
    },
    registerCrd(crd) {
      return store.create(store.resolveKind("CustomResourceDefinition"), "", crd, { fieldManager: "test" });
    },
    onChange(kind, listener) {
      const wanted = kind === "*" ? undefined : store.resolveKind(kind);
      return store.onChange((c: Change) => {
        if (wanted !== undefined && (c.resource.kind !== wanted.kind || c.resource.group !== wanted.group)) return;
        listener({ type: c.type, object: c.object, old: c.old });
      });
    },
    waitFor(kind, namespace, name, predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const o = api.object(kind, namespace, name);
          if (!predicate(o)) return false;
          stop();
          clearTimeout(timer);
          resolve(o);
          return true;
        };
        const stop = api.onChange(kind, () => void check());
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`waitFor ${kind} ${namespace}/${name}: condition not met within ${timeoutMs} ms; last: ${JSON.stringify(api.object(kind, namespace, name))}`));
        }, timeoutMs);
        check();
      });
    },
    simulateStatefulSets(o) {
      const sim = new StatefulSetSimulator(store, o ?? {});
      simulators.push(sim);
      return sim;
    },
  };
  return api;
}
