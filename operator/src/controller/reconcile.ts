/**
 * One reconcile pass for one KingbusCluster, from facts only (any pass may be the last before a
 * crash; the next one decides again from what it reads):
 *
 *  1. read the resource and parse it (a spec the operator refuses is reported in Degraded);
 *  2. the admin token Secret: created once with a random token, never re-applied;
 *  3. facts: the StatefulSet's replicas, the pods, their volumes, and each member's own admin
 *     Status over gRPC (role, indexes; the leader's answer gives the membership and progress);
 *  4. the owned objects applied with server-side apply (field manager FIELD_MANAGER), with the
 *     StatefulSet's replicas held where they are; what must not exist is deleted;
 *  5. one membership step (planMembership): scale the StatefulSet by one, add a learner, promote
 *     a caught-up learner, move leadership away from a member about to go, remove a member. A
 *     member whose volume was replaced (its claim has a new uid) is removed first and then added
 *     back as a learner, since it lost the log and the votes it had acknowledged;
 *  6. the syncer and the binlog server follow the spec (start, stop, re-point);
 *  7. the status (computeStatus) through the status subresource, and Events for what was done.
 *
 * A failpoint hook runs right after each step that changes something (failpoints.ts).
 */
import { randomBytes } from "node:crypto";
import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { pino, type Logger } from "pino";
import { isDeepStrictEqual } from "node:util";
import { ClusterSpecError } from "../api/errors.ts";
import { setCondition } from "../api/conditions.ts";
import {
  kingbusClusterStatusSchema, parseKingbusCluster,
  type KingbusCluster, type KingbusClusterStatus, type SecretReference,
} from "../api/kingbus-cluster.ts";
import {
  adminTokenOf, bootstrapMembersOf, clusterNames, credentialsFrom, desiredAdminTokenSecret, desiredResources, memberName,
  serverStartRequest, syncerStartRequest, type DesiredManifest, type ServerStartRequest, type SyncerStartRequest,
} from "../desired/index.ts";
import { selectorLabels } from "../desired/names.ts";
import { DATA_VOLUME } from "../desired/statefulset.ts";
import type { KubeClient } from "../kube/client.ts";
import type { EventRecorder } from "../kube/events.ts";
import { isAlreadyExists, isNotFound } from "../kube/errors.ts";
import {
  ConfigMaps, PersistentVolumeClaims, PodDisruptionBudgets, Pods, Secrets, ServiceMonitors, Services, StatefulSets,
  type KubeObject, type Pod, type ResourceType, type Secret, type StatefulSet,
} from "../kube/types.ts";
import type { AdminServerStatus, AdminStartSyncerRequest, AdminStatusResponse, AdminSyncerStatus } from "../../../node/src/transport/admin-types.ts";
import { KingbusError } from "../../../node/src/errors.ts";
import { FailpointCrash, type FailpointHook } from "./failpoints.ts";
import { planMembership, type MemberFact, type MembershipStep } from "./membership.ts";
import type { AdminConnector, PodAdmin, PodNetwork } from "./pod-admin.ts";
import { KingbusClusters, type KingbusClusterObject } from "./resources.ts";
import { computeStatus, type ObservedMember, type ObservedSyncer } from "./status.ts";

/** Annotation on the KingbusCluster: the uid of each member's volume claim when the operator last saw it, by ordinal. */
export const ANNOTATION_MEMBER_VOLUMES = "kingbus.io/member-volumes";

/** A learner within this many entries of the commit index is caught up (as the node's own promoter counts). */
const CAUGHT_UP_ENTRIES = 16;

export interface ReconcilerOptions {
  readonly client: KubeClient;
  readonly admin: AdminConnector;
  readonly network: PodNetwork;
  /** Image of the pods when spec.image is unset: the operator's own. */
  readonly defaultImage: string;
  readonly clusterDomain?: string;
  readonly events?: EventRecorder;
  readonly failpoint?: FailpointHook;
  readonly logger?: Logger;
  /** Deadline of each admin call (default 3 s; TransferLeadership gets three times it). */
  readonly adminTimeoutMs?: number;
  /** Requeue while something moves (default 1 s). */
  readonly progressIntervalMs?: number;
  /** Requeue when membership is done but something else is not (a Secret missing, the syncer not running yet; default 5 s). */
  readonly retryIntervalMs?: number;
  /** Requeue once reconciled, to keep the status fresh (default 15 s). */
  readonly refreshIntervalMs?: number;
  readonly now?: () => Date;
  /** The admin token of a new cluster (default 32 random bytes, base64url). */
  readonly newToken?: () => string;
  /** Counts what the pass did, for metrics. */
  readonly onAction?: (action: ReconcileAction) => void;
}

/** Something a pass changed. */
export type ReconcileAction =
  | "create-token" | "apply" | "prune" | "record-volumes"
  | "scale-statefulset" | "add-learner" | "promote-learner" | "transfer-leadership" | "remove-member"
  | "start-syncer" | "stop-syncer" | "repoint-syncer" | "start-server" | "stop-server" | "write-status";

export interface ReconcileResult {
  /** False when the resource does not exist (any more). */
  readonly found: boolean;
  /** When to look again. */
  readonly requeueAfterMs?: number;
  /** The membership step planned (and, unless it failed, taken). */
  readonly step?: MembershipStep;
  /** The status written (or found already equal). */
  readonly status?: KingbusClusterStatus;
  /** What went wrong without stopping the pass (admin calls refused, a Secret missing). */
  readonly problems: readonly string[];
}

/** A member as its own admin service answered. */
interface PodView {
  readonly ordinal: number;
  readonly status: AdminStatusResponse | undefined;
  readonly error: string | undefined;
}

interface Facts {
  readonly views: Map<number, PodView>;
  readonly leader: PodView | undefined;
  readonly members: MemberFact[] | undefined;
}

function errorText(e: unknown): string {
  if (e instanceof KingbusError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

function codeOf(e: unknown): string | undefined {
  return e instanceof KingbusError ? e.code : undefined;
}

function isReady(pod: Pod | undefined): boolean {
  return pod?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true && pod.metadata?.deletionTimestamp === undefined;
}

function resourceFor(m: DesiredManifest): ResourceType<KubeObject> {
  switch (m.kind) {
    case "ConfigMap":
      return ConfigMaps as ResourceType<KubeObject>;
    case "Service":
      return Services as ResourceType<KubeObject>;
    case "StatefulSet":
      return StatefulSets as ResourceType<KubeObject>;
    case "PodDisruptionBudget":
      return PodDisruptionBudgets as ResourceType<KubeObject>;
    case "ServiceMonitor":
      return ServiceMonitors as ResourceType<KubeObject>;
  }
}

function resourceForRef(kind: string): ResourceType<KubeObject> | undefined {
  if (kind === "PodDisruptionBudget") return PodDisruptionBudgets as ResourceType<KubeObject>;
  if (kind === "ServiceMonitor") return ServiceMonitors as ResourceType<KubeObject>;
  return undefined;
}

/** The body of StartSyncer from the HTTP API's request (desired/admin.ts computes the latter). */
export function startSyncerMessage(r: SyncerStartRequest): AdminStartSyncerRequest {
  return {
    syncerId: r.syncer_id,
    syncerUuid: r.syncer_uuid,
    mysqlAddr: r.mysql_addr,
    mysqlUser: r.mysql_user,
    mysqlPassword: r.mysql_password,
    semiSync: r.semi_sync,
    heartbeatPeriodMs: r.heartbeat_period === undefined ? 0 : Math.max(1, Math.round(r.heartbeat_period * 1000)),
    mysqlTls: false,
    mysqlTlsCa: "",
    mysqlTlsCert: "",
    mysqlTlsKey: "",
    mysqlTlsSkipVerify: false,
  };
}

/** Whether a syncer that runs was started with another configuration than the spec's (re-pointing). */
export function syncerDiffers(s: AdminSyncerStatus, r: SyncerStartRequest): boolean {
  return s.mysqlAddr !== r.mysql_addr || s.syncerId !== r.syncer_id || s.syncerUuid !== r.syncer_uuid || s.mysqlUser !== r.mysql_user || s.semiSync !== r.semi_sync;
}

function parseVolumes(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string"));
  } catch {
    return {};
  }
}

/**
 * The JSON merge patch (RFC 7386) that turns `from` into `to`, or undefined when they are equal:
 * objects recursively, removed keys as null, anything else (lists included) replaced whole.
 */
export function mergePatch(from: unknown, to: unknown): unknown {
  if (isDeepStrictEqual(from, to)) return undefined;
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(from) || !isObject(to)) return to;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const d = mergePatch(from[k], v);
    if (d !== undefined) out[k] = d;
  }
  return out;
}

function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
}

/** Reconciles clusters; one instance serves every cluster (state lives in the API server and the pods). */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #log: Logger;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#log = options.logger ?? pino({ level: "silent" });
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const { client } = this.#o;
    const raw = await client.get(KingbusClusters, namespace, name);
    if (raw === undefined) return { found: false, problems: [] };
    // Being deleted: the garbage collector takes what it owns; the volumes stay (whenDeleted: Retain).
    if (raw.metadata?.deletionTimestamp !== undefined) return { found: true, problems: [] };
    let cluster: KingbusCluster;
    try {
      cluster = parseKingbusCluster(raw);
    } catch (e) {
      if (!(e instanceof ClusterSpecError)) throw e;
      await this.#reportInvalid(raw, e);
      return { found: true, problems: [e.message] };
    }
    return new Pass(this, this.#o, this.#log.child({ cluster: `${namespace}/${name}` }), raw, cluster).run();
  }

  async #reportInvalid(raw: KingbusClusterObject, e: ClusterSpecError): Promise<void> {
    const previous = kingbusClusterStatusSchema.safeParse(raw.status ?? {});
    const status: KingbusClusterStatus = previous.success ? { ...previous.data } : {};
    const generation = raw.metadata?.generation;
    status.conditions = setCondition(status.conditions, {
      type: "Degraded", status: "True", reason: "InvalidSpec", message: e.message, ...(generation === undefined ? {} : { observedGeneration: generation }),
    }, this.now());
    if (generation !== undefined) status.observedGeneration = generation;
    await this.writeStatus(raw, status);
    await this.#o.events?.warning(raw, "InvalidSpec", e.message);
  }

  /**
   * Writes the status through the status subresource unless it is already that: a JSON merge
   * patch of the difference (lists replaced whole, fields that went away set to null), so no
   * resourceVersion is needed and nothing else in the status is touched.
   */
  async writeStatus(raw: KingbusClusterObject, status: KingbusClusterStatus): Promise<boolean> {
    const patch = mergePatch(JSON.parse(JSON.stringify(raw.status ?? {})), JSON.parse(JSON.stringify(status)));
    if (patch === undefined) return false;
    await this.#o.client.patchStatus(KingbusClusters, raw.metadata!.namespace!, raw.metadata!.name!, { status: patch }, "merge");
    this.did("write-status");
    return true;
  }

  /** Runs the failpoint hook (the pass's steps call it). */
  failpoint(name: Parameters<FailpointHook>[0]): void {
    this.#o.failpoint?.(name);
  }

  did(action: ReconcileAction): void {
    this.#o.onAction?.(action);
  }

  now(): Date {
    return this.#o.now?.() ?? new Date();
  }
}

/** The state of one pass. */
class Pass {
  readonly #r: Reconciler;
  readonly #o: ReconcilerOptions;
  readonly #log: Logger;
  readonly #raw: KingbusClusterObject;
  readonly #cluster: KingbusCluster;
  readonly #ns: string;
  readonly #problems: string[] = [];
  #token = "";

  constructor(r: Reconciler, o: ReconcilerOptions, log: Logger, raw: KingbusClusterObject, cluster: KingbusCluster) {
    this.#r = r;
    this.#o = o;
    this.#log = log;
    this.#raw = raw;
    this.#cluster = cluster;
    this.#ns = cluster.metadata.namespace;
  }

  #problem(what: string, e?: unknown): void {
    const text = e === undefined ? what : `${what}: ${errorText(e)}`;
    this.#problems.push(text);
    this.#log.warn(text);
  }

  #admin(ordinal: number): PodAdmin {
    return this.#o.admin.connect(this.#o.network.adminTarget(this.#cluster, ordinal), this.#token);
  }

  get #deadline(): number {
    return this.#o.adminTimeoutMs ?? 3_000;
  }

  #event(type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    this.#log.info({ reason }, message);
    return this.#o.events?.record(this.#raw, type, reason, message) ?? Promise.resolve();
  }

  async run(): Promise<ReconcileResult> {
    const { client } = this.#o;
    const cluster = this.#cluster;
    const names = clusterNames(cluster);
    const selector = labelSelector(selectorLabels(cluster));

    this.#token = await this.#ensureToken();

    const [configMap, sts, podList, claimList] = await Promise.all([
      client.get(ConfigMaps, this.#ns, names.configMap),
      client.get(StatefulSets, this.#ns, names.statefulSet),
      client.list(Pods, { namespace: this.#ns, labelSelector: selector }),
      client.list(PersistentVolumeClaims, { namespace: this.#ns, labelSelector: selector }).catch((e: unknown) => {
        // Without the claims (no RBAC for them) replaced volumes go unnoticed; the rest works.
        this.#log.warn({ err: errorText(e) }, "cannot list the volume claims: replaced volumes will not be detected");
        return { items: [], resourceVersion: "" };
      }),
    ]);
    const stsReplicas = sts === undefined ? 0 : (sts.spec?.replicas ?? 1);
    const pods = new Map<number, Pod>();
    for (const p of podList.items) {
      const m = /-(\d+)$/.exec(p.metadata?.name ?? "");
      if (m !== null && p.metadata?.name === memberName(cluster, Number(m[1]))) pods.set(Number(m[1]), p);
    }
    const claims = new Map<number, string>();
    for (const c of claimList.items) {
      const prefix = `${DATA_VOLUME}-${names.statefulSet}-`;
      const n = c.metadata?.name ?? "";
      if (n.startsWith(prefix) && /^(0|[1-9][0-9]*)$/.test(n.slice(prefix.length)) && c.metadata?.uid !== undefined && c.metadata.deletionTimestamp === undefined) {
        claims.set(Number(n.slice(prefix.length)), c.metadata.uid);
      }
    }

    const facts = await this.#observe(stsReplicas, new Set(pods.keys()));
    const leaderOrdinal = facts.leader?.ordinal;

    // Volumes: a member whose claim changed lost its log; it leaves and comes back as a learner.
    const replaced = await this.#checkVolumes(facts.members, claims);

    let step: MembershipStep;
    const victim = replaced[0];
    if (victim !== undefined && facts.members !== undefined && leaderOrdinal !== undefined) {
      step = this.#replaceStep(victim, facts.members, leaderOrdinal);
    } else {
      step = planMembership({ desired: cluster.spec.replicas, statefulSetReplicas: stsReplicas, members: facts.members, leaderOrdinal });
    }

    // Apply everything, holding the StatefulSet's size; the membership step may then change it.
    const voters = facts.members?.filter((m) => m.role === "voter").length;
    const bootstrap = bootstrapMembersOf(configMap as V1ConfigMap | undefined);
    const options = {
      defaultImage: this.#o.defaultImage,
      ...(this.#o.clusterDomain === undefined ? {} : { clusterDomain: this.#o.clusterDomain }),
      ...(bootstrap === undefined ? {} : { bootstrapMembers: bootstrap }),
      ...(voters === undefined || voters === 0 ? {} : { voters }),
    };
    const desired = desiredResources(cluster, { ...options, statefulSetReplicas: stsReplicas });
    let appliedSomething = false;
    for (const m of desired.apply) {
      try {
        await client.apply(resourceFor(m), m as unknown as KubeObject);
        appliedSomething = true;
      } catch (e) {
        if (m.kind === "ServiceMonitor" && isNotFound(e)) {
          this.#problem("ServiceMonitor not applied (is the Prometheus Operator's CRD installed?)", e);
          continue;
        }
        throw e;
      }
    }
    for (const ref of desired.prune) {
      const type = resourceForRef(ref.kind);
      if (type === undefined) continue;
      try {
        if (await client.delete(type, ref.namespace, ref.name)) {
          this.#r.did("prune");
          this.#log.info({ kind: ref.kind, name: ref.name }, "deleted what the spec no longer wants");
        }
      } catch (e) {
        if (!isNotFound(e)) this.#problem(`deleting ${ref.kind} ${ref.name}`, e);
      }
    }
    if (appliedSomething) this.#r.did("apply");
    this.#r.failpoint("after-apply");

    let podsAfter = stsReplicas;
    let stepDone = false;
    try {
      podsAfter = await this.#perform(step, facts, options, stsReplicas);
      stepDone = true;
    } catch (e) {
      if (e instanceof FailpointCrash) throw e;
      this.#problem(`membership step ${step.kind}`, e);
      await this.#event("Warning", "MembershipStepFailed", `${step.kind}: ${errorText(e)}`);
    }

    const syncer = await this.#syncer(facts);
    const server = await this.#server(facts);

    const members: ObservedMember[] = [];
    const ordinals = new Set<number>([...Array.from({ length: podsAfter }, (_, o) => o), ...(facts.members ?? []).map((m) => m.ordinal)]);
    for (const o of [...ordinals].sort((a, b) => a - b)) {
      const s = facts.views.get(o)?.status;
      const role = s?.role as ObservedMember["role"] | undefined;
      members.push({
        name: memberName(cluster, o),
        id: o + 1,
        ...(role === undefined || !["leader", "follower", "candidate", "learner", "pre-candidate"].includes(role) ? {} : { role }),
        ready: isReady(pods.get(o)),
        ...(s === undefined ? {} : { appliedIndex: s.appliedIndex }),
      });
    }
    const status = computeStatus(cluster, {
      members,
      leaderName: leaderOrdinal === undefined ? undefined : memberName(cluster, leaderOrdinal),
      syncer,
      connectedReplicas: server.connected,
      serverRunning: server.running,
      step,
      statefulSetReplicas: podsAfter,
    }, this.#r.now());
    try {
      await this.#r.writeStatus(this.#raw, status);
    } catch (e) {
      if (isNotFound(e)) return { found: false, problems: this.#problems };
      throw e;
    }

    const settled = step.kind === "done" && stepDone && this.#problems.length === 0 &&
      (!cluster.spec.syncer.enabled || syncer?.phase === "running") && (!cluster.spec.server.enabled || server.running === true);
    return {
      found: true,
      step,
      status,
      problems: this.#problems,
      requeueAfterMs: step.kind !== "done" ? (this.#o.progressIntervalMs ?? 1_000) : settled ? (this.#o.refreshIntervalMs ?? 15_000) : (this.#o.retryIntervalMs ?? 5_000),
    };
  }

  async #ensureToken(): Promise<string> {
    const { client } = this.#o;
    const name = clusterNames(this.#cluster).adminTokenSecret;
    const existing = await client.get(Secrets, this.#ns, name);
    if (existing !== undefined) {
      const token = adminTokenOf(existing as V1Secret);
      if (token === undefined) throw new KingbusError("OPERATOR_ADMIN_TOKEN", `Secret ${this.#ns}/${name} holds no usable admin token (key "token")`);
      return token;
    }
    const token = this.#o.newToken?.() ?? randomBytes(32).toString("base64url");
    try {
      await client.create(Secrets, desiredAdminTokenSecret(this.#cluster, token) as unknown as Secret);
    } catch (e) {
      // Another operator (a previous leader) created it first: use theirs.
      if (!isAlreadyExists(e)) throw e;
      const theirs = adminTokenOf((await client.get(Secrets, this.#ns, name)) as V1Secret | undefined);
      if (theirs === undefined) throw new KingbusError("OPERATOR_ADMIN_TOKEN", `Secret ${this.#ns}/${name} holds no usable admin token`, { cause: e });
      return theirs;
    }
    this.#r.did("create-token");
    await this.#event("Normal", "AdminTokenCreated", `created the admin token Secret ${name}`);
    return token;
  }

  /** Each member's own Status; the leader's answer carries the membership. */
  async #observe(podCount: number, podsThatExist: ReadonlySet<number>): Promise<Facts> {
    const views = new Map<number, PodView>();
    const ask = async (ordinal: number): Promise<PodView> => {
      try {
        const status = await this.#admin(ordinal).call("Status", {}, { deadlineMs: this.#deadline });
        return { ordinal, status, error: undefined };
      } catch (e) {
        return { ordinal, status: undefined, error: errorText(e) };
      }
    };
    // Members whose pod does not exist (yet) are not asked: their address may not even resolve.
    const ordinals = Array.from({ length: podCount }, (_, o) => o).filter((o) => podsThatExist.has(o));
    for (const v of await Promise.all(ordinals.map((o) => ask(o)))) views.set(v.ordinal, v);
    const leaderOf = (): PodView | undefined =>
      [...views.values()].filter((v) => v.status?.role === "leader").sort((a, b) => b.status!.term - a.status!.term)[0];
    let leader = leaderOf();
    if (leader === undefined) {
      // The leader may be a member without a pod of the StatefulSet's current size (it shrank first).
      const reported = [...views.values()].map((v) => v.status?.leaderId ?? 0).filter((id) => id > 0 && !views.has(id - 1));
      for (const id of new Set(reported)) views.set(id - 1, await ask(id - 1));
      leader = leaderOf();
    }
    const members = leader?.status?.members.map((m): MemberFact => ({ ordinal: m.id - 1, id: m.id, role: m.learner ? "learner" : "voter" }));
    return { views, leader, members };
  }

  /**
   * Compares each member's claim with the one recorded; records what is new. Returns the ordinals
   * of members whose volume was replaced (they must leave the membership and join again).
   */
  async #checkVolumes(members: readonly MemberFact[] | undefined, claims: ReadonlyMap<number, string>): Promise<number[]> {
    const recorded = parseVolumes(this.#raw.metadata?.annotations?.[ANNOTATION_MEMBER_VOLUMES]);
    if (members === undefined) return [];
    const next: Record<string, string> = {};
    const replaced: number[] = [];
    const isMember = new Set(members.map((m) => m.ordinal));
    for (const o of new Set([...claims.keys(), ...Object.keys(recorded).map(Number)])) {
      const uid = claims.get(o);
      const before = recorded[String(o)];
      if (uid === undefined) {
        // No claim (scaled away, or not created yet): keep what a member had, forget the rest.
        if (before !== undefined && isMember.has(o)) next[String(o)] = before;
      } else if (isMember.has(o) && before !== undefined && before !== uid) {
        replaced.push(o);
        next[String(o)] = before;
      } else {
        next[String(o)] = uid;
      }
    }
    if (!isDeepStrictEqual(next, recorded)) {
      await this.#o.client.patch(KingbusClusters, this.#ns, this.#cluster.metadata.name, { metadata: { annotations: { [ANNOTATION_MEMBER_VOLUMES]: JSON.stringify(next) } } }, "merge");
      this.#r.did("record-volumes");
    }
    return replaced.sort((a, b) => a - b);
  }

  #replaceStep(ordinal: number, members: readonly MemberFact[], leaderOrdinal: number): MembershipStep {
    if (ordinal !== leaderOrdinal) return { kind: "remove-member", ordinal, id: ordinal + 1 };
    const to = members.find((m) => m.role === "voter" && m.ordinal !== ordinal);
    if (to === undefined) return { kind: "wait", reason: `member ${ordinal} lost its volume and leads; no other voter can take over` };
    return { kind: "transfer-leadership", fromOrdinal: ordinal, toOrdinal: to.ordinal };
  }

  /** Performs the step; returns the StatefulSet's replicas afterwards. */
  async #perform(step: MembershipStep, facts: Facts, options: Record<string, unknown> & { defaultImage: string }, stsReplicas: number): Promise<number> {
    const cluster = this.#cluster;
    const names = clusterNames(cluster);
    const leader = facts.leader;
    switch (step.kind) {
      case "done":
        return stsReplicas;
      case "wait": {
        await this.#maybePromote(facts);
        return stsReplicas;
      }
      case "scale-statefulset": {
        const sts = desiredResources(cluster, { ...options, statefulSetReplicas: step.replicas }).apply.find((m) => m.kind === "StatefulSet")!;
        await this.#o.client.apply(StatefulSets, sts as unknown as StatefulSet);
        this.#r.did("scale-statefulset");
        await this.#event("Normal", "Scaled", `StatefulSet ${names.statefulSet}: ${stsReplicas} -> ${step.replicas} replicas (spec.replicas ${cluster.spec.replicas})`);
        this.#r.failpoint("after-scale");
        return step.replicas;
      }
      case "add-learner": {
        const urls = this.#o.network.memberUrls(cluster, step.ordinal);
        try {
          await this.#admin(leader!.ordinal).call("AddLearner", { id: step.id, name: memberName(cluster, step.ordinal), peerUrl: urls.peerUrl, adminUrl: urls.adminUrl }, { deadlineMs: this.#deadline * 3 });
        } catch (e) {
          // The pod asked to join by itself first.
          if (codeOf(e) !== "MEMBER_EXISTS") throw e;
        }
        this.#r.did("add-learner");
        await this.#event("Normal", "MemberAdded", `added ${memberName(cluster, step.ordinal)} (id ${step.id}) as a learner`);
        this.#r.failpoint("after-add-learner");
        return stsReplicas;
      }
      case "transfer-leadership": {
        const result = await this.#admin(step.fromOrdinal).call("TransferLeadership", { targetId: step.toOrdinal + 1 }, { deadlineMs: this.#deadline * 3 });
        this.#r.did("transfer-leadership");
        await this.#event("Normal", "LeadershipTransferred", `leadership moved from ${memberName(cluster, step.fromOrdinal)} to ${memberName(cluster, step.toOrdinal)} (term ${result.term})`);
        this.#r.failpoint("after-transfer");
        return stsReplicas;
      }
      case "remove-member": {
        await this.#admin(leader!.ordinal).call("RemoveMember", { id: step.id }, { deadlineMs: this.#deadline * 3 });
        this.#r.did("remove-member");
        const why = step.ordinal < stsReplicas && step.ordinal < cluster.spec.replicas ? "its volume was replaced; it joins again as a learner" : "scaling down";
        await this.#event("Normal", "MemberRemoved", `removed ${memberName(cluster, step.ordinal)} (id ${step.id}): ${why}`);
        this.#r.failpoint("after-remove");
        return stsReplicas;
      }
    }
  }

  /** A learner that caught up is promoted (the leader also does it by itself; whichever comes first). */
  async #maybePromote(facts: Facts): Promise<void> {
    const s = facts.leader?.status;
    if (s === undefined) return;
    for (const m of s.members) {
      if (!m.learner) continue;
      const match = s.progress.find((p) => p.id === m.id)?.matchIndex ?? 0;
      if (match + CAUGHT_UP_ENTRIES < s.commitIndex) continue;
      try {
        await this.#admin(facts.leader!.ordinal).call("PromoteMember", { id: m.id }, { deadlineMs: this.#deadline * 3 });
      } catch (e) {
        // Promoted meanwhile, or another change pending: the next pass sees.
        this.#log.debug({ id: m.id, err: errorText(e) }, "promotion deferred");
        return;
      }
      this.#r.did("promote-learner");
      await this.#event("Normal", "MemberPromoted", `promoted ${m.name} (id ${m.id}) to voter: caught up`);
      this.#r.failpoint("after-promote");
      return;
    }
  }

  async #credentials(ref: SecretReference | undefined, field: string): Promise<{ username: string; password: string } | undefined> {
    if (ref === undefined) return undefined;
    const secret = await this.#o.client.get(Secrets, this.#ns, ref.name);
    if (secret === undefined) {
      this.#problem(`${field}: Secret ${ref.name} not found`);
      await this.#event("Warning", "SecretMissing", `${field}: Secret ${ref.name} not found`);
      return undefined;
    }
    try {
      return credentialsFrom(secret as V1Secret, ref, field);
    } catch (e) {
      if (!(e instanceof ClusterSpecError)) throw e;
      this.#problem(e.message);
      await this.#event("Warning", "SecretInvalid", e.message);
      return undefined;
    }
  }

  /** The syncer follows spec.syncer; returns what the leader reports. */
  async #syncer(facts: Facts): Promise<ObservedSyncer | undefined> {
    const leader = facts.leader;
    if (leader === undefined) return undefined;
    const spec = this.#cluster.spec.syncer;
    const admin = this.#admin(leader.ordinal);
    let status: AdminSyncerStatus;
    try {
      status = await admin.call("GetSyncerStatus", {}, { deadlineMs: this.#deadline });
    } catch (e) {
      this.#problem("syncer status", e);
      return undefined;
    }
    try {
      if (spec.enabled) {
        const creds = await this.#credentials(spec.credentialsSecret, "spec.syncer.credentialsSecret");
        const request = creds === undefined ? undefined : syncerStartRequest(this.#cluster, creds);
        if (request !== undefined) {
          if (status.status === "running" && syncerDiffers(status, request)) {
            await admin.call("StopSyncer", {}, { deadlineMs: this.#deadline * 3 });
            status = await admin.call("StartSyncer", startSyncerMessage(request), { deadlineMs: this.#deadline * 3 });
            this.#r.did("repoint-syncer");
            await this.#event("Normal", "SyncerRepointed", `syncer re-pointed to ${request.mysql_addr} as server_id ${request.syncer_id}`);
            this.#r.failpoint("after-syncer");
          } else if (status.status !== "running") {
            try {
              status = await admin.call("StartSyncer", startSyncerMessage(request), { deadlineMs: this.#deadline * 3 });
              this.#r.did("start-syncer");
              await this.#event("Normal", "SyncerStarted", `syncer started: replicating ${request.mysql_addr} as server_id ${request.syncer_id}`);
              this.#r.failpoint("after-syncer");
            } catch (e) {
              // Committed as running already; this leader is still catching up before it starts it.
              if (codeOf(e) !== "ALREADY_RUNNING") throw e;
            }
          }
        }
      } else if (status.status === "running") {
        status = await admin.call("StopSyncer", {}, { deadlineMs: this.#deadline * 3 });
        this.#r.did("stop-syncer");
        await this.#event("Normal", "SyncerStopped", "syncer stopped: spec.syncer.enabled is false");
        this.#r.failpoint("after-syncer");
      }
    } catch (e) {
      if (e instanceof FailpointCrash) throw e;
      this.#problem("syncer", e);
      await this.#event("Warning", "SyncerCallFailed", errorText(e));
    }
    return {
      phase: status.phase || status.status,
      executedGtidSet: status.executedGtidSet,
      secondsBehind: status.secondsBehindPrimary < 0 || status.phase !== "running" ? null : Math.round(status.secondsBehindPrimary),
      lastError: status.lastError,
    };
  }

  /** The binlog server follows spec.server on every member that answers. */
  async #server(facts: Facts): Promise<{ connected: number[]; running: boolean | undefined }> {
    const spec = this.#cluster.spec.server;
    const creds = spec.enabled ? await this.#credentials(spec.usersSecret, "spec.server.usersSecret") : undefined;
    let request: ServerStartRequest | undefined;
    try {
      request = creds === undefined ? undefined : serverStartRequest(this.#cluster, creds);
    } catch (e) {
      if (!(e instanceof ClusterSpecError)) throw e;
      this.#problem(e.message);
    }
    const started: string[] = [];
    const stopped: string[] = [];
    const connected: number[] = [];
    let answered = 0;
    let running = 0;
    const members = new Set((facts.members ?? []).map((m) => m.ordinal));
    for (const [ordinal, view] of [...facts.views].sort((a, b) => a[0] - b[0])) {
      if (view.status === undefined || (facts.members !== undefined && !members.has(ordinal))) continue;
      const admin = this.#admin(ordinal);
      try {
        let s: AdminServerStatus = await admin.call("GetServerStatus", {}, { deadlineMs: this.#deadline });
        if (spec.enabled && request !== undefined) {
          if (s.status === "running" && (s.addr !== request.addr || s.user !== request.user)) {
            await admin.call("StopServer", {}, { deadlineMs: this.#deadline });
            s = await admin.call("StartServer", { addr: request.addr, user: request.user, password: request.password }, { deadlineMs: this.#deadline });
            started.push(memberName(this.#cluster, ordinal));
          } else if (s.status !== "running") {
            try {
              s = await admin.call("StartServer", { addr: request.addr, user: request.user, password: request.password }, { deadlineMs: this.#deadline });
              started.push(memberName(this.#cluster, ordinal));
            } catch (e) {
              if (codeOf(e) !== "ALREADY_RUNNING") throw e;
            }
          }
        } else if (!spec.enabled && s.status === "running") {
          s = await admin.call("StopServer", {}, { deadlineMs: this.#deadline });
          stopped.push(memberName(this.#cluster, ordinal));
        }
        answered++;
        if (s.status === "running") running++;
        connected.push(s.replicas.length);
      } catch (e) {
        this.#problem(`binlog server on ${memberName(this.#cluster, ordinal)}`, e);
      }
    }
    if (started.length > 0) {
      this.#r.did("start-server");
      await this.#event("Normal", "ServerStarted", `binlog server started on ${started.join(", ")} (${request!.addr})`);
    }
    if (stopped.length > 0) {
      this.#r.did("stop-server");
      await this.#event("Normal", "ServerStopped", `binlog server stopped on ${stopped.join(", ")}: spec.server.enabled is false`);
    }
    if (started.length > 0 || stopped.length > 0) this.#r.failpoint("after-server");
    return { connected, running: answered === 0 ? undefined : running === answered };
  }
}
