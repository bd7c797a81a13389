/**
 * A list-and-watch cache of one kind, as client-go's reflector and informer keep one:
 * - start() lists (every page) and resolves once the cache holds that state (synced);
 * - then it watches from the list's resourceVersion with bookmarks, applying ADDED, MODIFIED and
 *   DELETED to the cache and telling handlers add, update (with the old object) and delete;
 * - a watch the server ends (timeout, dropped connection, client-node's 30 s inactivity limit)
 *   resumes at once from the last resourceVersion seen (an event's or a bookmark's);
 * - a 410 Gone (the resourceVersion left the server's history: an ERROR event or an HTTP 410)
 *   relists and reconciles the cache with the new state: handlers hear add, update and delete
 *   for exactly what changed while the watch was away;
 * - any other failure (server unreachable, 5xx, 429, refused) retries with exponential backoff
 *   and jitter (200 ms doubling to 30 s), reset once a watch delivers again;
 * - a handler added after sync first hears add for every cached object.
 * Objects in the cache and in events are plain JSON, always with apiVersion and kind.
 */
import { Backoff } from "../../../node/src/transport/backoff.ts";
import { errorFromStatus, isGone, KubeApiError } from "./errors.ts";
import type { KubeClient } from "./client.ts";
import { apiVersionOf, objectKey, type KubeObject, type ResourceType } from "./types.ts";

export type InformerEvent<T> =
  | { type: "add"; object: T }
  | { type: "update"; object: T; old: T }
  | { type: "delete"; object: T };

export type InformerHandler<T> = (event: InformerEvent<T>) => void;

export interface InformerOptions {
  /** Omitted: every namespace. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  backoff?: { initialMs: number; maxMs: number };
  /** Server-side watch timeout; each watch draws between this and twice it (default 300 s), as client-go. */
  watchTimeoutSeconds?: number;
  pageSize?: number;
  /** Failures the informer recovers from (for logs and metrics); handler exceptions land here too. */
  onError?: (error: unknown) => void;
}

export interface InformerStats {
  lists: number;
  watches: number;
  /** Relists caused by 410 Gone. */
  expired: number;
  errors: number;
}

function rvOf(o: KubeObject | undefined): string {
  return o?.metadata?.resourceVersion ?? "";
}

export class Informer<T extends KubeObject> {
  readonly type: ResourceType<T>;
  readonly stats: InformerStats = { lists: 0, watches: 0, expired: 0, errors: 0 };
  readonly #client: KubeClient;
  readonly #options: InformerOptions;
  readonly #cache = new Map<string, T>();
  readonly #handlers = new Set<InformerHandler<T>>();
  readonly #backoff: Backoff;
  #resourceVersion = "";
  #synced = false;
  #stopped = true;
  #loop: Promise<void> | undefined;
  #watch: { stop(): void } | undefined;
  #wake: (() => void) | undefined;
  #syncWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(client: KubeClient, type: ResourceType<T>, options: InformerOptions = {}) {
    this.#client = client;
    this.type = type;
    this.#options = options;
    this.#backoff = new Backoff(options.backoff ?? { initialMs: 200, maxMs: 30_000 });
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** The resourceVersion the cache is at. */
  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  /** Registers a handler; after sync it first hears add for every cached object. Returns a remover. */
  onEvent(handler: InformerHandler<T>): () => void {
    this.#handlers.add(handler);
    if (this.#synced) for (const o of this.#cache.values()) this.#call(handler, { type: "add", object: o });
    return () => this.#handlers.delete(handler);
  }

  get(namespace: string, name: string): T | undefined {
    return this.#cache.get(namespace === "" || !this.type.namespaced ? name : `${namespace}/${name}`);
  }

  list(namespace?: string): T[] {
    const all = [...this.#cache.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  keys(): string[] {
    return [...this.#cache.keys()];
  }

  /** Starts listing and watching; resolves once synced (retrying failed lists until then). */
  start(): Promise<void> {
    if (!this.#stopped) return this.#synced ? Promise.resolve() : this.#waitForSync();
    this.#stopped = false;
    const synced = this.#waitForSync();
    this.#loop = this.#run();
    return synced;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watch?.stop();
    this.#wake?.();
    await this.#loop;
    for (const w of this.#syncWaiters) w.reject(new KubeApiError("KUBE_UNAVAILABLE", `informer for ${this.type.kind} stopped before it synced`));
    this.#syncWaiters = [];
  }

  #waitForSync(): Promise<void> {
    return new Promise((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
  }

  #call(handler: InformerHandler<T>, event: InformerEvent<T>): void {
    try {
      handler(event);
    } catch (e) {
      this.#options.onError?.(e);
    }
  }

  #emit(event: InformerEvent<T>): void {
    for (const h of [...this.#handlers]) this.#call(h, event);
  }

  #typed(o: T): T {
    return o.apiVersion !== undefined && o.kind !== undefined ? o : { ...o, apiVersion: o.apiVersion ?? apiVersionOf(this.type), kind: o.kind ?? this.type.kind };
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#wake = undefined; resolve(); }, ms);
      this.#wake = () => { clearTimeout(timer); this.#wake = undefined; resolve(); };
    });
  }

  async #run(): Promise<void> {
    let needList = true;
    while (!this.#stopped) {
      try {
        if (needList) {
          await this.#relist();
          needList = false;
        }
        const started = Date.now();
        const outcome = await this.#watchOnce();
        if (outcome.expired) {
          this.stats.expired++;
          needList = true;
          continue;
        }
        // A watch that ends at once with nothing in it is not worth hammering the server for.
        if (outcome.events === 0 && Date.now() - started < 1_000 && !this.#stopped) await this.#sleep(this.#backoff.next());
      } catch (e) {
        if (this.#stopped) break;
        this.stats.errors++;
        this.#options.onError?.(e);
        if (isGone(e)) {
          this.stats.expired++;
          needList = true;
          continue;
        }
        await this.#sleep(this.#backoff.next());
      }
    }
  }

  /** Lists and brings the cache (and the handlers) to the listed state. */
  async #relist(): Promise<void> {
    this.stats.lists++;
    const { items, resourceVersion } = await this.#client.list(this.type, {
      namespace: this.#options.namespace, labelSelector: this.#options.labelSelector, fieldSelector: this.#options.fieldSelector,
      pageSize: this.#options.pageSize,
    });
    if (this.#stopped) return;
    const fresh = new Map<string, T>();
    for (const item of items) fresh.set(objectKey(item), this.#typed(item));
    for (const [key, old] of [...this.#cache]) {
      if (!fresh.has(key)) {
        this.#cache.delete(key);
        this.#emit({ type: "delete", object: old });
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.#cache.get(key);
      this.#cache.set(key, obj);
      if (old === undefined) this.#emit({ type: "add", object: obj });
      else if (rvOf(old) !== rvOf(obj)) this.#emit({ type: "update", object: obj, old });
    }
    this.#resourceVersion = resourceVersion;
    this.#backoff.reset();
    if (!this.#synced) {
      this.#synced = true;
      for (const w of this.#syncWaiters) w.resolve();
      this.#syncWaiters = [];
    }
  }

  async #watchOnce(): Promise<{ expired: boolean; events: number }> {
    this.stats.watches++;
    let expired = false;
    let failure: KubeApiError | undefined;
    let events = 0;
    const base = this.#options.watchTimeoutSeconds ?? 300;
    const handle = await this.#client.watch(this.type, {
      namespace: this.#options.namespace, labelSelector: this.#options.labelSelector, fieldSelector: this.#options.fieldSelector,
      resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds: Math.round(base * (1 + Math.random())),
    }, (e) => {
      events++;
      if (e.type === "ERROR") {
        const status = e.object as { code?: number; message?: string; reason?: string };
        if (status.code === 410) expired = true;
        else failure = errorFromStatus(status.code ?? 500, status, `watch ${this.type.kind}`);
        this.#watch?.stop();
        return;
      }
      this.#backoff.reset();
      const obj = this.#typed(e.object);
      const rv = rvOf(obj);
      if (e.type === "BOOKMARK") {
        if (rv !== "") this.#resourceVersion = rv;
        return;
      }
      const key = objectKey(obj);
      const old = this.#cache.get(key);
      if (e.type === "DELETED") {
        this.#cache.delete(key);
        this.#emit({ type: "delete", object: obj });
      } else {
        this.#cache.set(key, obj);
        if (old === undefined) this.#emit({ type: "add", object: obj });
        else if (rvOf(old) !== rv) this.#emit({ type: "update", object: obj, old });
      }
      if (rv !== "") this.#resourceVersion = rv;
    });
    this.#watch = handle;
    if (this.#stopped) handle.stop();
    try {
      await handle.done;
    } catch (e) {
      if (e instanceof KubeApiError && e.code === "KUBE_TIMEOUT") return { expired, events: Math.max(events, 1) };
      throw e;
    } finally {
      this.#watch = undefined;
    }
    if (failure !== undefined) throw failure;
    return { expired, events };
  }
}
