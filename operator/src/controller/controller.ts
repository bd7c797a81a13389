/**
 * The controller loop of `kingbus operator`:
 * - campaigns for a Lease (leader election); only the leader reconciles. Without election (one
 *   replica, tests) it works at once;
 * - while leading: informers on KingbusClusters and on the kinds a cluster owns (selected by the
 *   `app.kubernetes.io/name=kingbus` label), in every watched namespace; each change enqueues
 *   its cluster's key (namespace/name) in a keyed work queue: one pass per cluster at a time,
 *   retries with backoff, a requeue when a pass asks for one (membership moving: soon; settled:
 *   a status refresh), and a periodic resync of every cluster. Status-only changes of a
 *   KingbusCluster (the operator's own writes) enqueue nothing;
 * - informers recover by themselves (watches resumed, relist on 410 Gone, backoff);
 * - an HTTP server: /healthz (the process answers), /readyz (a standby, or a leader whose caches
 *   synced), /metrics (Prometheus);
 * - stop(): the queue finishes the passes in flight, the informers stop, the lease is released.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { KingbusError } from "../../../node/src/errors.ts";
import { LABEL_INSTANCE, LABEL_NAME } from "../desired/names.ts";
import type { KubeClient } from "../kube/client.ts";
import { EventRecorder } from "../kube/events.ts";
import { Informer, type InformerEvent } from "../kube/informer.ts";
import { LeaderElector } from "../kube/leader-election.ts";
import {
  ConfigMaps, objectKey, PodDisruptionBudgets, Pods, Services, StatefulSets, type KubeObject, type ResourceType,
} from "../kube/types.ts";
import { WorkQueue, type WorkResult } from "../kube/work-queue.ts";
import { FailpointCrash, type FailpointHook } from "./failpoints.ts";
import { countAction, createOperatorMetrics, type OperatorMetrics } from "./metrics.ts";
import { dnsPodNetwork, grpcAdminConnector, type AdminConnector, type PodNetwork } from "./pod-admin.ts";
import { Reconciler } from "./reconcile.ts";
import { KingbusClusters, type KingbusClusterObject } from "./resources.ts";

export const DEFAULT_LEASE_NAME = "kingbus-operator";

export interface LeaderElectionConfig {
  /** Where the Lease lives (the operator's own namespace). */
  readonly namespace: string;
  readonly name?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
}

export interface ControllerOptions {
  readonly client: KubeClient;
  /** Namespaces to watch; empty: every namespace. */
  readonly namespaces: readonly string[];
  /** The pods' image when spec.image is unset. */
  readonly defaultImage: string;
  /** This replica (the pod name): the Lease holder identity and the Events' reporting instance. */
  readonly identity: string;
  /** Undefined: no election, this replica works at once. */
  readonly leaderElection?: LeaderElectionConfig;
  /** host:port for /healthz, /readyz, /metrics (port 0: any); undefined: no HTTP server. */
  readonly http?: { readonly host: string; readonly port: number };
  readonly admin?: AdminConnector;
  readonly network?: PodNetwork;
  readonly clusterDomain?: string;
  readonly failpoint?: FailpointHook;
  readonly logger?: Logger;
  /** Every cluster is reconciled at least this often (default 60 s). */
  readonly resyncMs?: number;
  /** Clusters reconciled at once (default 4; one cluster never twice at once). */
  readonly workers?: number;
  /** Retries of a failed pass: base * 2^n up to max (default 500 ms to 60 s). */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Passed to the reconciler (defaults there). */
  readonly progressIntervalMs?: number;
  readonly retryIntervalMs?: number;
  readonly refreshIntervalMs?: number;
  readonly adminTimeoutMs?: number;
  /** Informer backoff and watch timeout (tests shorten them). */
  readonly informerBackoff?: { readonly initialMs: number; readonly maxMs: number };
  readonly watchTimeoutSeconds?: number;
  /** Node's process metrics in /metrics (default true). */
  readonly processMetrics?: boolean;
}

/** The kinds a cluster owns that the controller watches, selected by label. */
const OWNED: readonly ResourceType<KubeObject>[] = [StatefulSets, Pods, Services, ConfigMaps, PodDisruptionBudgets] as ResourceType<KubeObject>[];

/** What runs while this replica leads. */
interface Work {
  readonly queue: WorkQueue<string>;
  readonly clusters: Informer<KingbusClusterObject>[];
  readonly owned: Informer<KubeObject>[];
  synced: boolean;
}

export class OperatorController {
  readonly metrics: OperatorMetrics;
  readonly #o: ControllerOptions;
  readonly #log: Logger;
  readonly #admin: AdminConnector;
  readonly #reconciler: Reconciler;
  readonly #elector: LeaderElector | undefined;
  #server: Server | undefined;
  #work: Work | undefined;
  /** Serialises starting and stopping the work. */
  #transition: Promise<void> = Promise.resolve();
  #started = false;
  #stopping = false;
  url = "";

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.#log = options.logger ?? pino({ level: "silent" });
    this.metrics = createOperatorMetrics({ processMetrics: options.processMetrics ?? true });
    this.#admin = options.admin ?? grpcAdminConnector();
    const events = new EventRecorder(options.client, {
      component: "kingbus-operator",
      instance: options.identity,
      onError: (e) => this.#log.warn({ err: errorText(e) }, "event not recorded"),
    });
    this.#reconciler = new Reconciler({
      client: options.client,
      admin: this.#admin,
      network: options.network ?? dnsPodNetwork(options.clusterDomain === undefined ? {} : { clusterDomain: options.clusterDomain }),
      defaultImage: options.defaultImage,
      events,
      logger: this.#log,
      onAction: (a) => countAction(this.metrics, a),
      ...(options.clusterDomain === undefined ? {} : { clusterDomain: options.clusterDomain }),
      ...(options.failpoint === undefined ? {} : { failpoint: options.failpoint }),
      ...(options.progressIntervalMs === undefined ? {} : { progressIntervalMs: options.progressIntervalMs }),
      ...(options.retryIntervalMs === undefined ? {} : { retryIntervalMs: options.retryIntervalMs }),
      ...(options.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: options.refreshIntervalMs }),
      ...(options.adminTimeoutMs === undefined ? {} : { adminTimeoutMs: options.adminTimeoutMs }),
    });
    const le = options.leaderElection;
    if (le !== undefined) {
      this.#elector = new LeaderElector(options.client, {
        namespace: le.namespace,
        name: le.name ?? DEFAULT_LEASE_NAME,
        identity: options.identity,
        ...(le.leaseDurationMs === undefined ? {} : { leaseDurationMs: le.leaseDurationMs }),
        ...(le.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: le.renewDeadlineMs }),
        ...(le.retryPeriodMs === undefined ? {} : { retryPeriodMs: le.retryPeriodMs }),
        onStartedLeading: () => {
          this.#log.info({ identity: options.identity }, "leading: reconciling");
          this.#enqueueTransition(() => this.#startWork());
        },
        onStoppedLeading: () => {
          this.#log.warn({ identity: options.identity }, "lost leadership: stopped reconciling");
          this.#enqueueTransition(() => this.#stopWork());
        },
        onNewLeader: (id) => {
          if (id !== options.identity) this.#log.info({ leader: id }, "another replica leads");
        },
        onError: (e) => this.#log.warn({ err: errorText(e) }, "leader election"),
      });
    }
  }

  /** Leading (or running without election) with the queue running. */
  get isLeader(): boolean {
    return this.#work !== undefined;
  }

  /** Ready: a standby campaigning, or a leader whose caches synced. */
  get ready(): boolean {
    if (!this.#started || this.#stopping) return false;
    if (this.#work !== undefined) return this.#work.synced;
    return this.#elector !== undefined;
  }

  /** Starts the HTTP server and the election (or the work, without election). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    if (this.#o.http !== undefined) await this.#listen(this.#o.http.host, this.#o.http.port);
    if (this.#elector !== undefined) this.#elector.start();
    else {
      this.#enqueueTransition(() => this.#startWork());
      await this.#transition;
    }
  }

  /** Passes in flight finish; informers stop; the lease is released; HTTP closes. */
  async stop(): Promise<void> {
    if (!this.#started || this.#stopping) return;
    this.#stopping = true;
    if (this.#elector !== undefined) await this.#elector.stop();
    this.#enqueueTransition(() => this.#stopWork());
    await this.#transition;
    this.#admin.close();
    const server = this.#server;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    this.#log.info("operator stopped");
  }

  /** Resolves once the work queue is idle (tests); immediately when not leading. */
  async idle(): Promise<void> {
    await this.#work?.queue.idle({ ignoreDelayed: true });
  }

  /** Enqueues a cluster's key now (tests, and anything that knows better than the informers). */
  enqueue(namespace: string, name: string): void {
    this.#work?.queue.add(`${namespace}/${name}`);
  }

  /** Resolves once leading with synced caches. */
  async waitUntilLeading(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(this.#work?.synced ?? false)) {
      if (Date.now() > deadline) throw new KingbusError("OPERATOR_NOT_LEADING", `not leading with synced caches within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  #enqueueTransition(step: () => Promise<void>): void {
    this.#transition = this.#transition.then(step).catch((e: unknown) => this.#log.error({ err: errorText(e) }, "controller transition"));
  }

  async #handle(key: string): Promise<WorkResult> {
    const at = key.indexOf("/");
    const namespace = key.slice(0, at);
    const name = key.slice(at + 1);
    const end = this.metrics.reconcileSeconds.startTimer();
    try {
      const result = await this.#reconciler.reconcile(namespace, name);
      this.metrics.reconciles.inc({ result: "success" });
      if (!result.found) return undefined;
      return result.requeueAfterMs === undefined ? undefined : { requeueAfterMs: result.requeueAfterMs };
    } catch (e) {
      this.metrics.reconciles.inc({ result: e instanceof FailpointCrash ? "crash" : "error" });
      throw e;
    } finally {
      end();
    }
  }

  #informerOptions(namespace: string | undefined, labelSelector: string | undefined, kind: string): ConstructorParameters<typeof Informer>[2] {
    return {
      ...(namespace === undefined ? {} : { namespace }),
      ...(labelSelector === undefined ? {} : { labelSelector }),
      ...(this.#o.informerBackoff === undefined ? {} : { backoff: { ...this.#o.informerBackoff } }),
      ...(this.#o.watchTimeoutSeconds === undefined ? {} : { watchTimeoutSeconds: this.#o.watchTimeoutSeconds }),
      onError: (e) => {
        this.metrics.informerErrors.inc({ kind });
        this.#log.warn({ kind, err: errorText(e) }, "informer recovering");
      },
    };
  }

  async #startWork(): Promise<void> {
    if (this.#work !== undefined || this.#stopping) return;
    const namespaces: (string | undefined)[] = this.#o.namespaces.length === 0 ? [undefined] : [...this.#o.namespaces];
    const clusters = namespaces.map((ns) => new Informer(this.#o.client, KingbusClusters, this.#informerOptions(ns, undefined, "KingbusCluster")));
    const owned = namespaces.flatMap((ns) => OWNED.map((t) => new Informer(this.#o.client, t, this.#informerOptions(ns, `${LABEL_NAME}=kingbus`, t.kind))));
    const queue = new WorkQueue<string>({
      handler: (key) => this.#handle(key),
      concurrency: this.#o.workers ?? 4,
      backoff: this.#o.backoff ?? { baseMs: 500, maxMs: 60_000 },
      resyncMs: this.#o.resyncMs ?? 60_000,
      resyncKeys: () => clusters.flatMap((i) => i.keys()),
      onError: (key, e, failures) => {
        if (e instanceof FailpointCrash) return;
        this.#log.warn({ cluster: key, failures, err: errorText(e) }, "reconcile failed; retrying");
      },
    });
    this.metrics.sources.queueDepth = () => queue.length + queue.delayed;
    this.metrics.sources.clusters = () => clusters.reduce((n, i) => n + i.keys().length, 0);
    for (const informer of clusters) {
      informer.onEvent((e: InformerEvent<KingbusClusterObject>) => {
        if (e.type === "update" && !specOrMetaChanged(e.old, e.object)) return;
        queue.add(objectKey(e.object));
      });
    }
    for (const informer of owned) {
      informer.onEvent((e) => {
        const instance = e.object.metadata?.labels?.[LABEL_INSTANCE];
        const ns = e.object.metadata?.namespace;
        if (instance !== undefined && ns !== undefined) queue.add(`${ns}/${instance}`);
      });
    }
    const work: Work = { queue, clusters, owned, synced: false };
    this.#work = work;
    this.metrics.isLeader.set(1);
    await Promise.all([...clusters, ...owned].map((i) => i.start()));
    if (this.#work !== work) return;
    queue.start();
    work.synced = true;
    this.#log.info({ namespaces: this.#o.namespaces.length === 0 ? "all" : this.#o.namespaces }, "caches synced; reconciling");
  }

  async #stopWork(): Promise<void> {
    const work = this.#work;
    if (work === undefined) return;
    this.#work = undefined;
    this.metrics.isLeader.set(0);
    this.metrics.sources.queueDepth = () => 0;
    this.metrics.sources.clusters = () => 0;
    await work.queue.stop();
    await Promise.all([...work.clusters, ...work.owned].map((i) => i.stop()));
  }

  async #listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      const reply = (status: number, body: string, type = "application/json"): void => {
        res.writeHead(status, { "Content-Type": type });
        res.end(body);
      };
      if (req.method !== "GET" && req.method !== "HEAD") return reply(405, JSON.stringify({ message: "method not allowed" }));
      if (path === "/healthz") return reply(200, JSON.stringify({ status: "up" }));
      if (path === "/readyz") {
        const ready = this.ready;
        return reply(ready ? 200 : 503, JSON.stringify({ ready, leading: this.isLeader }));
      }
      if (path === "/metrics") {
        this.metrics.registry.metrics().then(
          (text) => reply(200, text, this.metrics.registry.contentType),
          (e: unknown) => reply(500, JSON.stringify({ message: errorText(e) })),
        );
        return;
      }
      reply(404, JSON.stringify({ message: `no such path: ${path}` }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
    const a = server.address() as AddressInfo;
    this.url = `http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
    this.#log.info({ url: this.url }, "operator HTTP listening (/healthz, /readyz, /metrics)");
  }
}

/** A change worth a pass: the spec (generation), labels, annotations or deletion; not the status alone. */
function specOrMetaChanged(old: KingbusClusterObject, next: KingbusClusterObject): boolean {
  const a = old.metadata ?? {};
  const b = next.metadata ?? {};
  return a.generation !== b.generation || a.deletionTimestamp !== b.deletionTimestamp ||
    JSON.stringify(a.annotations ?? {}) !== JSON.stringify(b.annotations ?? {}) || JSON.stringify(a.labels ?? {}) !== JSON.stringify(b.labels ?? {});
}

function errorText(e: unknown): string {
  if (e instanceof KingbusError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}
