/**
 * A fake kingbus cluster behind the admin gRPC calls, for controller tests without processes. Its
 * members are the pods the fake API server's StatefulSet simulator runs: a pod that exists (and is
 * not being deleted) is a node that answers; otherwise calls to it fail with ADMIN_UNAVAILABLE.
 *
 * Raft, as far as the operator can see it: the bootstrap ordinals form the first membership; a
 * leader is the lowest running voter while a majority of voters runs (a new term each time it
 * changes); learners catch up after `catchUpCalls` Status calls on the leader and are promoted by
 * the leader itself when `autoPromote` is on; membership changes are refused while another is
 * pending (one at a time, as the core does); a removed id can be added back. The syncer (one per
 * cluster) and the binlog server (one per node) keep the configuration they were started with and
 * refuse a second start (ALREADY_RUNNING). Every call must present the token of the cluster's
 * admin token Secret. Every call is logged in `calls`.
 */
import { status as grpcStatus } from "@grpc/grpc-js";
import { AdminCallError } from "../../../../node/src/transport/admin-service.ts";
import type {
  AdminMember, AdminMethodName, AdminMethods, AdminRequest, AdminResponse, AdminServerStatus, AdminStartSyncerRequest, AdminStatusResponse, AdminSyncerStatus,
} from "../../../../node/src/transport/admin-types.ts";
import type { FakeApiServer, Obj } from "../../../test-support/apiserver/index.ts";
import type { KingbusCluster } from "../../api/kingbus-cluster.ts";
import { clusterNames, memberName } from "../../desired/names.ts";
import { ADMIN_TOKEN_KEY } from "../../desired/statefulset.ts";
import type { AdminConnector, PodAdmin, PodNetwork } from "../pod-admin.ts";

export interface FakeCall {
  readonly ordinal: number;
  readonly method: AdminMethodName;
  readonly request: unknown;
}

export interface FakeKingbusOptions {
  /** Status calls on the leader before a new learner has caught up (default 2). */
  catchUpCalls?: number;
  /** The leader promotes caught-up learners by itself, as the node does (default false: the operator must). */
  autoPromote?: boolean;
  /** Pods beyond the bootstrap members ask to join as learners by themselves, as the node does (default false). */
  selfJoin?: boolean;
}

interface Member {
  role: "voter" | "learner";
  name: string;
  peerUrl: string;
  /** Status calls on the leader since it was added (learners). */
  calls: number;
}

interface Server {
  running: boolean;
  addr: string;
  user: string;
  password: string;
}

const EMPTY_SYNCER: AdminStartSyncerRequest = {
  syncerId: 0, syncerUuid: "", mysqlAddr: "", mysqlUser: "", mysqlPassword: "", semiSync: false, heartbeatPeriodMs: 0,
  mysqlTls: false, mysqlTlsCa: "", mysqlTlsCert: "", mysqlTlsKey: "", mysqlTlsSkipVerify: false,
};

function fail(code: string, message: string, status: grpcStatus = grpcStatus.FAILED_PRECONDITION): never {
  throw new AdminCallError(code, message, status);
}

export class FakeKingbus implements AdminConnector, PodNetwork {
  readonly calls: FakeCall[] = [];
  readonly members = new Map<number, Member>();
  readonly servers = new Map<number, Server>();
  syncer: { running: boolean; config: AdminStartSyncerRequest; phase: string; lastError: string } = { running: false, config: EMPTY_SYNCER, phase: "stopped", lastError: "" };
  leaderId = 0;
  term = 0;
  commit = 10;
  /** Whether a membership change is pending (the next one is refused with RAFT_CONF_CHANGE_PENDING). */
  pendingChange = false;
  /** Ordinals that do not answer although their pod exists. */
  readonly unreachable = new Set<number>();
  /** The most learners seen at once. */
  maxLearners = 0;
  readonly #api: FakeApiServer;
  readonly #namespace: string;
  readonly #name: string;
  readonly #options: FakeKingbusOptions;
  #bootstrapped = false;

  constructor(api: FakeApiServer, namespace: string, name: string, options: FakeKingbusOptions = {}) {
    this.#api = api;
    this.#namespace = namespace;
    this.#name = name;
    this.#options = options;
  }

  // PodNetwork

  adminTarget(cluster: KingbusCluster, ordinal: number): string {
    return `fake:${cluster.metadata.namespace}/${cluster.metadata.name}/${ordinal}`;
  }

  memberUrls(cluster: KingbusCluster, ordinal: number): { peerUrl: string; adminUrl: string } {
    return { peerUrl: `http://${memberName(cluster, ordinal)}.fake:9696`, adminUrl: `http://${memberName(cluster, ordinal)}.fake:9595` };
  }

  // AdminConnector

  connect(target: string, token: string): PodAdmin {
    const m = /^fake:([^/]+)\/([^/]+)\/(\d+)$/.exec(target);
    if (m === null || m[1] !== this.#namespace || m[2] !== this.#name) throw new Error(`FakeKingbus(${this.#namespace}/${this.#name}) asked for ${target}`);
    const ordinal = Number(m[3]);
    return {
      call: <M extends AdminMethodName>(method: M, request: AdminRequest<M>): Promise<AdminResponse<M>> => {
        try {
          return Promise.resolve(this.#handle(ordinal, token, method, request));
        } catch (e) {
          return Promise.reject(e as Error);
        }
      },
    };
  }

  close(): void {}

  // Test control

  #statefulSet(): string {
    return `kingbus-${this.#name}`;
  }

  /** The pod of an ordinal exists and is not being deleted. */
  isUp(ordinal: number): boolean {
    const pod = this.#api.object("Pod", this.#namespace, `${this.#statefulSet()}-${ordinal}`);
    return pod !== undefined && (pod.metadata as Obj).deletionTimestamp === undefined && !this.unreachable.has(ordinal);
  }

  #bootstrapCount(): number | undefined {
    const cm = this.#api.object("ConfigMap", this.#namespace, `${this.#statefulSet()}-config`);
    const text = ((cm?.data ?? {}) as Record<string, string>)["bootstrap-members"];
    return text === undefined ? undefined : Number(text);
  }

  #token(): string | undefined {
    const secret = this.#api.object("Secret", this.#namespace, `${this.#statefulSet()}-admin-token`);
    const data = (secret?.data ?? {}) as Record<string, string>;
    return data[ADMIN_TOKEN_KEY] === undefined ? undefined : Buffer.from(data[ADMIN_TOKEN_KEY], "base64").toString("utf8");
  }

  /** Bootstraps once the bootstrap pods exist; elects; lets pods join by themselves. */
  #settle(): void {
    const count = this.#bootstrapCount();
    if (!this.#bootstrapped && count !== undefined && Array.from({ length: count }, (_, o) => this.isUp(o)).filter(Boolean).length > count / 2) {
      this.#bootstrapped = true;
      for (let o = 0; o < count; o++) this.members.set(o + 1, { role: "voter", name: `${this.#statefulSet()}-${o}`, peerUrl: `http://${this.#statefulSet()}-${o}.fake:9696`, calls: 0 });
    }
    if (!this.#bootstrapped) return;
    const voters = [...this.members].filter(([, m]) => m.role === "voter").map(([id]) => id).sort((a, b) => a - b);
    const up = voters.filter((id) => this.isUp(id - 1));
    const leaderOk = this.leaderId !== 0 && this.members.get(this.leaderId)?.role === "voter" && this.isUp(this.leaderId - 1) && up.length > voters.length / 2;
    if (!leaderOk) {
      const next = up.length > voters.length / 2 ? up[0]! : 0;
      if (next !== this.leaderId) {
        this.leaderId = next;
        this.term++;
      }
    }
    if (this.#options.selfJoin === true && this.leaderId !== 0) {
      for (let o = count ?? 0; o < 16; o++) {
        if (this.isUp(o) && !this.members.has(o + 1) && !this.pendingChange) this.#addLearner(o + 1, `${this.#statefulSet()}-${o}`, `http://${this.#statefulSet()}-${o}.fake:9696`);
      }
    }
    this.maxLearners = Math.max(this.maxLearners, [...this.members.values()].filter((m) => m.role === "learner").length);
  }

  #addLearner(id: number, name: string, peerUrl: string): void {
    this.members.set(id, { role: "learner", name, peerUrl, calls: 0 });
    this.commit++;
  }

  #memberList(): AdminMember[] {
    return [...this.members].sort((a, b) => a[0] - b[0]).map(([id, m]) => ({ id, name: m.name, peerUrls: [m.peerUrl], adminUrls: [], learner: m.role === "learner", isLeader: id === this.leaderId }));
  }

  #caughtUp(m: Member): boolean {
    return m.calls >= (this.#options.catchUpCalls ?? 2);
  }

  #status(ordinal: number): AdminStatusResponse {
    const id = ordinal + 1;
    const self = this.members.get(id);
    const isLeader = id === this.leaderId;
    if (isLeader) {
      for (const [mid, m] of this.members) {
        if (m.role !== "learner") continue;
        m.calls++;
        if (this.#options.autoPromote === true && this.#caughtUp(m)) {
          this.members.set(mid, { ...m, role: "voter" });
          this.commit++;
        }
      }
    }
    return {
      nodeId: id,
      clusterId: "",
      role: self === undefined ? "follower" : self.role === "learner" ? "learner" : isLeader ? "leader" : "follower",
      term: this.term,
      leaderId: this.leaderId,
      commitIndex: this.commit,
      appliedIndex: this.commit,
      firstIndex: 1,
      lastIndex: this.commit,
      members: self === undefined ? [] : this.#memberList(),
      progress: isLeader
        ? [...this.members].filter(([mid]) => mid !== id).map(([mid, m]) => ({ id: mid, matchIndex: m.role === "learner" && !this.#caughtUp(m) ? 0 : this.commit, nextIndex: this.commit + 1, state: "replicate", reachable: this.isUp(mid - 1), messagesDropped: 0 }))
        : [],
      executedGtidSet: "",
      purgedGtidSet: "",
      version: "0.1.0",
    };
  }

  #syncerStatus(): AdminSyncerStatus {
    const c = this.syncer.config;
    return {
      status: this.syncer.running ? "running" : "stopped", syncerId: c.syncerId, syncerUuid: c.syncerUuid, mysqlAddr: c.mysqlAddr, mysqlUser: c.mysqlUser,
      mysqlPasswordSet: c.mysqlPassword !== "", semiSync: c.semiSync, currentGtid: "", executedGtidSet: this.syncer.running ? "0-1-5" : "", purgedGtidSet: "",
      lastBinlogFile: "", lastFilePosition: 0, lastError: this.syncer.lastError, phase: this.syncer.phase, secondsBehindPrimary: this.syncer.running ? 0 : -1,
      eventsReceived: 0, bytesReceived: 0, transactionsCommitted: 0,
    };
  }

  #serverStatus(ordinal: number): AdminServerStatus {
    const s = this.servers.get(ordinal) ?? { running: false, addr: "", user: "", password: "" };
    return { status: s.running ? "running" : "stopped", addr: s.addr, user: s.user, passwordSet: s.password !== "", replicas: [], currentGtid: "", lastBinlogFile: "", lastFilePosition: 0, executedGtidSet: "", purgedGtidSet: "" };
  }

  #requireLeader(): number {
    if (this.leaderId === 0) fail("NO_LEADER", "kingbus: no leader", grpcStatus.UNAVAILABLE);
    return this.leaderId;
  }

  #change(run: () => void): AdminMethods["ListMembers"][1] {
    this.#requireLeader();
    if (this.pendingChange) fail("RAFT_CONF_CHANGE_PENDING", "a membership change is pending", grpcStatus.UNAVAILABLE);
    run();
    this.commit++;
    return { members: this.#memberList() };
  }

  #handle<M extends AdminMethodName>(ordinal: number, token: string, method: M, request: AdminRequest<M>): AdminResponse<M> {
    this.calls.push({ ordinal, method, request });
    this.#settle();
    if (!this.isUp(ordinal)) fail("ADMIN_UNAVAILABLE", `cannot reach ${this.#statefulSet()}-${ordinal}`, grpcStatus.UNAVAILABLE);
    if (token !== this.#token()) fail("ADMIN_UNAUTHORIZED", "kingbus: unauthorized", grpcStatus.UNAUTHENTICATED);
    const answer = this.#answer(ordinal, method, request as never);
    this.#settle();
    return answer as AdminResponse<M>;
  }

  #answer(ordinal: number, method: AdminMethodName, request: never): unknown {
    switch (method) {
      case "Status":
        return this.#status(ordinal);
      case "ListMembers":
        return { members: this.#memberList() };
      case "AddLearner": {
        const r = request as AdminRequest<"AddLearner">;
        if (this.members.has(r.id)) fail("MEMBER_EXISTS", `kingbus: member ${r.name} (id ${r.id}) already exists`, grpcStatus.ALREADY_EXISTS);
        return this.#change(() => this.#addLearner(r.id, r.name, r.peerUrl));
      }
      case "PromoteMember": {
        const r = request as AdminRequest<"PromoteMember">;
        const m = this.members.get(r.id);
        if (m === undefined || m.role !== "learner") fail("RAFT_CONF_CHANGE_INVALID", `${r.id} is not a learner`);
        if (!this.#caughtUp(m)) fail("RAFT_CONF_CHANGE_INVALID", `${r.id} has not caught up`);
        return this.#change(() => this.members.set(r.id, { ...m, role: "voter" }));
      }
      case "RemoveMember": {
        const r = request as AdminRequest<"RemoveMember">;
        if (!this.members.has(r.id)) fail("MEMBER_NOT_FOUND", `kingbus: no member with id ${r.id}`, grpcStatus.NOT_FOUND);
        if (r.id === this.leaderId) fail("RAFT_CONF_CHANGE_INVALID", "the fake refuses to remove its leader (the operator moves leadership first)");
        return this.#change(() => this.members.delete(r.id));
      }
      case "TransferLeadership": {
        const r = request as AdminRequest<"TransferLeadership">;
        if (ordinal + 1 !== this.#requireLeader()) fail("RAFT_NOT_LEADER", "not the leader", grpcStatus.UNAVAILABLE);
        const to = this.members.get(r.targetId);
        if (to?.role !== "voter" || !this.isUp(r.targetId - 1)) fail("RAFT_TRANSFER_INVALID", `cannot transfer to ${r.targetId}`);
        this.leaderId = r.targetId;
        this.term++;
        return { leaderId: r.targetId, term: this.term };
      }
      case "StartSyncer": {
        this.#requireLeader();
        if (this.syncer.running) fail("ALREADY_RUNNING", "kingbus: the syncer is running", grpcStatus.ALREADY_EXISTS);
        this.syncer = { running: true, config: { ...(request as AdminStartSyncerRequest) }, phase: "running", lastError: "" };
        return this.#syncerStatus();
      }
      case "StopSyncer":
        this.#requireLeader();
        this.syncer = { ...this.syncer, running: false, phase: "stopped" };
        return this.#syncerStatus();
      case "GetSyncerStatus":
        this.#requireLeader();
        return this.#syncerStatus();
      case "StartServer": {
        const r = request as AdminRequest<"StartServer">;
        if (this.servers.get(ordinal)?.running === true) fail("ALREADY_RUNNING", "kingbus: the server is running", grpcStatus.ALREADY_EXISTS);
        this.servers.set(ordinal, { running: true, addr: r.addr, user: r.user, password: r.password });
        return this.#serverStatus(ordinal);
      }
      case "StopServer": {
        const s = this.servers.get(ordinal);
        if (s !== undefined) s.running = false;
        return this.#serverStatus(ordinal);
      }
      case "GetServerStatus":
        return this.#serverStatus(ordinal);
      default:
        return fail("ADMIN_UNIMPLEMENTED", `the fake does not answer ${method}`, grpcStatus.UNIMPLEMENTED);
    }
  }

  /** Members by ordinal and role, for assertions. */
  membership(): Array<[number, "voter" | "learner"]> {
    return [...this.members].sort((a, b) => a[0] - b[0]).map(([id, m]) => [id - 1, m.role]);
  }

  /** The fake's name for the cluster, for building a KingbusCluster stand-in in tests. */
  get names(): ReturnType<typeof clusterNames> {
    return clusterNames({ metadata: { name: this.#name, namespace: this.#namespace } } as KingbusCluster);
  }
}
