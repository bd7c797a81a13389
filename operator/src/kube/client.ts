/**
 * The operator's typed client over @kubernetes/client-node: client-node supplies the kubeconfig
 * (in-cluster service account, files, exec plugins), authentication, TLS and the HTTP transport
 * (RequestContext, its fetch library, Watch); requests and responses are plain JSON (see types.ts).
 *
 * Writes name a field manager: `apply` is server-side apply (application/apply-patch+yaml,
 * force by default, as a controller owning its objects should); `replace` is a PUT whose
 * metadata.resourceVersion makes it conditional (409 KUBE_CONFLICT when stale); `patch` takes
 * merge, JSON or strategic merge patches; the `...Status` forms go to the status subresource.
 */
import { IsomorphicFetchHttpLibrary, RequestContext, Watch, type HttpMethod, type KubeConfig } from "@kubernetes/client-node";
import { errorFromStatus, isNotFound, KubeApiError } from "./errors.ts";
import { apiVersionOf, Events, time, type Event, type KubeObject, type ResourceType } from "./types.ts";

export interface KubeClientOptions {
  /** The field manager of every write (server-side apply requires one). */
  fieldManager: string;
  /** Per-request timeout for everything but watches (default 30 s). */
  timeoutMs?: number;
  /** Sent as User-Agent (default "kingbus-operator"). */
  userAgent?: string;
}

export interface ListOptions {
  /** Omitted: every namespace (for namespaced kinds). */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size; every page is fetched (default 500). */
  pageSize?: number;
}

export interface ListResult<T> {
  items: T[];
  /** Where a watch that follows this list starts. */
  resourceVersion: string;
}

export type PatchType = "merge" | "json" | "strategic";

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  strategic: "application/strategic-merge-patch+json",
};

export interface ApplyOptions {
  /** Take over fields other managers own (default true). */
  force?: boolean;
  /** Overrides the client's field manager for this request. */
  fieldManager?: string;
  dryRun?: boolean;
}

export interface DeleteOptions {
  propagationPolicy?: "Background" | "Foreground" | "Orphan";
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface WatchOptions {
  namespace?: string;
  /** Where to start: events after this version. "" or "0": the current state first, as ADDED. */
  resourceVersion?: string;
  labelSelector?: string;
  fieldSelector?: string;
  allowWatchBookmarks?: boolean;
  /** Ask the server to end the watch after this long. */
  timeoutSeconds?: number;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchEvent<T> {
  type: WatchEventType;
  /** The object; for ERROR, a Status (code 410 when the resourceVersion is too old). */
  object: T;
}

export interface WatchHandle {
  /** Resolves when the server ends the stream (or stop() is called), rejects on a failure. */
  done: Promise<void>;
  stop(): void;
}

export interface EventSpec {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  /** The component reporting (source.component, reportingComponent). */
  component: string;
  /** The instance reporting (pod name): reportingInstance, source.host. */
  instance?: string;
  action?: string;
}

function encode(s: string): string {
  return encodeURIComponent(s);
}

/** The REST path of a kind, a namespace, an object and a subresource. */
export function resourcePath(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  let p = t.group === "" ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  if (t.namespaced && namespace !== undefined && namespace !== "") p += `/namespaces/${encode(namespace)}`;
  p += `/${t.plural}`;
  if (name !== undefined) p += `/${encode(name)}`;
  if (subresource !== undefined) p += `/${subresource}`;
  return p;
}

interface Response {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

let eventCounter = 0;

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  readonly fieldManager: string;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #http = new IsomorphicFetchHttpLibrary();

  constructor(kubeConfig: KubeConfig, options: KubeClientOptions) {
    this.kubeConfig = kubeConfig;
    this.fieldManager = options.fieldManager;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#userAgent = options.userAgent ?? "kingbus-operator";
  }

  #server(): string {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (cluster === null) throw new KubeApiError("KUBE_CONFIG", "the kubeconfig has no current cluster");
    return cluster.server.replace(/\/+$/, "");
  }

  async #request(method: HttpMethod, path: string, query: Record<string, string | undefined>, what: string, body?: unknown, contentType = "application/json"): Promise<Response> {
    const url = new URL(this.#server() + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const ctx = new RequestContext(url.toString(), method);
    await this.kubeConfig.applySecurityAuthentication(ctx);
    ctx.setHeaderParam("Accept", "application/json");
    ctx.setHeaderParam("User-Agent", this.#userAgent);
    if (body !== undefined) {
      ctx.setHeaderParam("Content-Type", contentType);
      ctx.setBody(JSON.stringify(body));
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    ctx.setSignal(abort.signal);
    let status: number;
    let text: string;
    let headers: Record<string, string>;
    try {
      const res = await this.#http.send(ctx).toPromise();
      status = res.httpStatusCode;
      headers = res.headers;
      text = await res.body.text();
    } catch (e) {
      if (abort.signal.aborted) throw new KubeApiError("KUBE_TIMEOUT", `${what}: no answer within ${this.#timeoutMs} ms`, { cause: e });
      throw new KubeApiError("KUBE_UNAVAILABLE", `${what}: ${(e as Error).message}`, { cause: e });
    } finally {
      clearTimeout(timer);
    }
    let parsed: unknown = undefined;
    if (text !== "") {
      try { parsed = JSON.parse(text); } catch { parsed = text; }
    }
    if (status < 200 || status > 299) throw errorFromStatus(status, parsed, what, headers["retry-after"]);
    return { status, body: parsed, headers };
  }

  #target<T extends KubeObject>(t: ResourceType<T>, obj: T): { namespace: string | undefined; name: string } {
    const name = obj.metadata?.name;
    if (name === undefined || name === "") throw new KubeApiError("KUBE_CONFIG", `${t.kind} without metadata.name`);
    const namespace = obj.metadata?.namespace;
    if (t.namespaced && (namespace === undefined || namespace === "")) throw new KubeApiError("KUBE_CONFIG", `${t.kind} ${name} without metadata.namespace`);
    return { namespace: t.namespaced ? namespace : undefined, name };
  }

  #typed<T extends KubeObject>(t: ResourceType<T>, obj: T): T {
    return { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(t), kind: obj.kind ?? t.kind };
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject>(t: ResourceType<T>, namespace: string, name: string): Promise<T | undefined> {
    try {
      return (await this.#request("GET", resourcePath(t, namespace, name), {}, `get ${t.kind} ${namespace}/${name}`)).body as T;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Every matching object (all pages), each with apiVersion and kind set, and the list's resourceVersion. */
  async list<T extends KubeObject>(t: ResourceType<T>, options: ListOptions = {}): Promise<ListResult<T>> {
    const pageSize = options.pageSize ?? 500;
    const items: T[] = [];
    let resourceVersion = "";
    let cont: string | undefined;
    const base = { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector };
    do {
      let page: Response;
      try {
        page = await this.#request("GET", resourcePath(t, options.namespace), { ...base, limit: String(pageSize), continue: cont }, `list ${t.kind}`);
      } catch (e) {
        // A continue token that expired: start again with one unpaginated list, as client-go's pager does.
        if (cont === undefined || !(e instanceof KubeApiError) || e.code !== "KUBE_GONE") throw e;
        page = await this.#request("GET", resourcePath(t, options.namespace), base, `list ${t.kind}`);
        items.length = 0;
        resourceVersion = "";
      }
      const body = (page.body ?? {}) as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
      if (resourceVersion === "") resourceVersion = body.metadata?.resourceVersion ?? "";
      for (const item of body.items ?? []) items.push(this.#typed(t, item));
      cont = body.metadata?.continue === undefined || body.metadata.continue === "" ? undefined : body.metadata.continue;
    } while (cont !== undefined);
    return { items, resourceVersion };
  }

  async create<T extends KubeObject>(t: ResourceType<T>, obj: T, options: { dryRun?: boolean } = {}): Promise<T> {
    const namespace = t.namespaced ? obj.metadata?.namespace : undefined;
    if (t.namespaced && (namespace === undefined || namespace === "")) throw new KubeApiError("KUBE_CONFIG", `${t.kind} without metadata.namespace`);
    const res = await this.#request("POST", resourcePath(t, namespace), { fieldManager: this.fieldManager, dryRun: options.dryRun === true ? "All" : undefined }, `create ${t.kind}`, this.#typed(t, obj));
    return res.body as T;
  }

  /** PUT: conditional on metadata.resourceVersion when the object carries one. */
  async replace<T extends KubeObject>(t: ResourceType<T>, obj: T): Promise<T> {
    const { namespace, name } = this.#target(t, obj);
    return (await this.#request("PUT", resourcePath(t, namespace, name), { fieldManager: this.fieldManager }, `replace ${t.kind} ${name}`, this.#typed(t, obj))).body as T;
  }

  async replaceStatus<T extends KubeObject>(t: ResourceType<T>, obj: T): Promise<T> {
    const { namespace, name } = this.#target(t, obj);
    return (await this.#request("PUT", resourcePath(t, namespace, name, "status"), { fieldManager: this.fieldManager }, `replace ${t.kind} ${name} status`, this.#typed(t, obj))).body as T;
  }

  async #apply<T extends KubeObject>(t: ResourceType<T>, obj: T, options: ApplyOptions, subresource?: string): Promise<T> {
    const { namespace, name } = this.#target(t, obj);
    const body = this.#typed(t, obj);
    if (body.metadata?.managedFields !== undefined) {
      // The server refuses applied configurations carrying managedFields (objects read back from it do).
      const { managedFields: _drop, ...metadata } = body.metadata;
      body.metadata = metadata;
    }
    const query = {
      fieldManager: options.fieldManager ?? this.fieldManager,
      force: String(options.force ?? true),
      dryRun: options.dryRun === true ? "All" : undefined,
    };
    const res = await this.#request("PATCH", resourcePath(t, namespace, name, subresource), query, `apply ${t.kind} ${name}${subresource === undefined ? "" : ` ${subresource}`}`, body, "application/apply-patch+yaml");
    return res.body as T;
  }

  /** Server-side apply: creates the object when missing; fields this manager stops applying are removed. */
  apply<T extends KubeObject>(t: ResourceType<T>, obj: T, options: ApplyOptions = {}): Promise<T> {
    return this.#apply(t, obj, options);
  }

  /** Server-side apply to the status subresource: only status is considered. */
  applyStatus<T extends KubeObject>(t: ResourceType<T>, obj: T, options: ApplyOptions = {}): Promise<T> {
    return this.#apply(t, obj, options, "status");
  }

  async patch<T extends KubeObject>(t: ResourceType<T>, namespace: string, name: string, patch: unknown, type: PatchType = "merge"): Promise<T> {
    return (await this.#request("PATCH", resourcePath(t, namespace, name), { fieldManager: this.fieldManager }, `patch ${t.kind} ${name}`, patch, PATCH_CONTENT_TYPES[type])).body as T;
  }

  async patchStatus<T extends KubeObject>(t: ResourceType<T>, namespace: string, name: string, patch: unknown, type: PatchType = "merge"): Promise<T> {
    return (await this.#request("PATCH", resourcePath(t, namespace, name, "status"), { fieldManager: this.fieldManager }, `patch ${t.kind} ${name} status`, patch, PATCH_CONTENT_TYPES[type])).body as T;
  }

  /** Deletes; false when the object was already gone. */
  async delete<T extends KubeObject>(t: ResourceType<T>, namespace: string, name: string, options: DeleteOptions = {}): Promise<boolean> {
    const body: Record<string, unknown> = { apiVersion: "v1", kind: "DeleteOptions" };
    if (options.propagationPolicy !== undefined) body.propagationPolicy = options.propagationPolicy;
    if (options.preconditions !== undefined) body.preconditions = options.preconditions;
    try {
      await this.#request("DELETE", resourcePath(t, namespace, name), {}, `delete ${t.kind} ${name}`, body);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * A core/v1 Event about `involved`, as client-go's recorder writes them: named
   * <object>.<unique hex>, in the object's namespace (default for cluster-scoped objects).
   */
  async createEvent(involved: KubeObject, spec: EventSpec): Promise<Event> {
    const now = new Date();
    const m = involved.metadata ?? {};
    const namespace = m.namespace !== undefined && m.namespace !== "" ? m.namespace : "default";
    const unique = (BigInt(now.getTime()) * 1_000_000n + BigInt(eventCounter++ % 1_000_000)).toString(16);
    const event: Event = {
      metadata: { name: `${m.name ?? "unknown"}.${unique}`, namespace },
      involvedObject: {
        apiVersion: involved.apiVersion, kind: involved.kind, name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion,
      },
      type: spec.type,
      reason: spec.reason,
      message: spec.message.length > 1024 ? `${spec.message.slice(0, 1021)}...` : spec.message,
      source: { component: spec.component, host: spec.instance },
      reportingComponent: spec.component,
      reportingInstance: spec.instance ?? "",
      firstTimestamp: time(now),
      lastTimestamp: time(now),
      count: 1,
    };
    if (spec.action !== undefined) event.action = spec.action;
    return this.create(Events, event);
  }

  /**
   * A watch stream; events arrive through onEvent in order. client-node ends a watch on which
   * nothing arrived for 30 s (done rejects with KUBE_TIMEOUT): resume from the last
   * resourceVersion. See Informer for the whole list-and-watch loop.
   */
  async watch<T extends KubeObject>(t: ResourceType<T>, options: WatchOptions, onEvent: (event: WatchEvent<T>) => void): Promise<WatchHandle> {
    this.#server();
    const watch = new Watch(this.kubeConfig);
    const query: Record<string, string | boolean | number> = {};
    if (options.resourceVersion !== undefined) query.resourceVersion = options.resourceVersion;
    if (options.labelSelector !== undefined) query.labelSelector = options.labelSelector;
    if (options.fieldSelector !== undefined) query.fieldSelector = options.fieldSelector;
    if (options.allowWatchBookmarks === true) query.allowWatchBookmarks = true;
    if (options.timeoutSeconds !== undefined) query.timeoutSeconds = options.timeoutSeconds;
    let stopped = false;
    let settle: (err: unknown) => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => {
        if (err === null || err === undefined || stopped) resolve();
        else reject(watchError(err, t));
      };
    });
    // The caller decides what a failure means; an unobserved rejection must not crash the process.
    done.catch(() => undefined);
    const controller = await watch.watch(resourcePath(t, options.namespace), query, (type: string, object: T) => {
      if (!stopped) onEvent({ type: type as WatchEventType, object });
    }, (err: unknown) => settle(err));
    return {
      done,
      stop: () => {
        stopped = true;
        settle(null);
        controller.abort();
      },
    };
  }
}

function watchError(err: unknown, t: ResourceType): KubeApiError {
  if (err instanceof KubeApiError) return err;
  const e = err as { statusCode?: number; name?: string; message?: string };
  if (typeof e.statusCode === "number") return errorFromStatus(e.statusCode, undefined, `watch ${t.kind}`);
  if (e.name === "TimeoutError") return new KubeApiError("KUBE_TIMEOUT", `watch ${t.kind}: nothing received within the inactivity timeout`, { cause: err });
  return new KubeApiError("KUBE_UNAVAILABLE", `watch ${t.kind}: ${e.message ?? String(err)}`, { cause: err });
}
