/**
 * An AdminBackend for tests that behaves like the node's: members in a map with unique names,
 * ids and peer URLs, removed ids that cannot return, one syncer and one server that refuse a
 * second start, leader-only calls refused off the leader (so a forwarding bug shows up).
 */
import { createHash } from "node:crypto";
import type {
  AddMemberRequest,
  AdminBackend,
  ClusterMember,
  Leadership,
  ReadinessFacts,
  RemoveMemberRequest,
  ReplicaInfo,
  ServerConfig,
  ServerStatus,
  SyncerConfig,
  SyncerStatus,
  UpdateMemberRequest,
} from "../backend.ts";
import { AdminError } from "../errors.ts";

export interface FakeMember {
  readonly id: bigint;
  readonly name: string;
  readonly peerUrl: string;
  readonly adminUrl?: string;
}

const PROGRESS = {
  currentGtid: "",
  lastBinlogFile: "mysql_bin.000006",
  lastFilePosition: 194,
  executedGtidSet: "214eb71f-96ec-11e8-ab4f-fa163e72d4ae:1-9257530",
  purgedGtidSet: "",
};

/** The original's member id: the first 8 bytes of SHA-1 over name and peer URL, as a u64. */
function hashId(name: string, peerUrl: string): bigint {
  return createHash("sha1").update(name).update(peerUrl).digest().readBigUInt64BE(0);
}

export class FakeBackend implements AdminBackend {
  readonly #members = new Map<bigint, { name: string; peerUrls: string[]; adminUrls: string[] }>();
  readonly #removed = new Set<bigint>();
  /** Every call, in order, by method name: tests check where calls landed. */
  readonly calls: string[] = [];
  leader: Leadership;
  ready: ReadinessFacts;
  /** What the last syncer and server start received (password included: it must arrive). */
  syncerConfig: SyncerConfig | undefined;
  serverConfig: ServerConfig | undefined;
  syncerRunning = false;
  serverRunning = false;
  replicas: ReplicaInfo[] = [];
  /** When set, the next call throws it (to test error paths). */
  failNext: unknown;

  constructor(options: { members?: readonly FakeMember[]; leadership?: Leadership; readiness?: ReadinessFacts } = {}) {
    for (const m of options.members ?? []) this.#members.set(m.id, { name: m.name, peerUrls: [m.peerUrl], adminUrls: m.adminUrl === undefined ? [] : [m.adminUrl] });
    this.leader = options.leadership ?? { isLeader: true, leaderId: options.members?.[0]?.id, leaderAdminUrl: undefined };
    this.ready = options.readiness ?? { isMember: true, leaderId: this.leader.leaderId, appliedIndex: 10, startupCommitIndex: 10 };
  }

  #enter(call: string, leaderOnly: boolean): void {
    this.calls.push(call);
    if (this.failNext !== undefined) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    if (leaderOnly && !this.leader.isLeader) throw new AdminError("NOT_LEADER", "kingbus: node is not leader");
  }

  #list(): ClusterMember[] {
    return [...this.#members.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, m]) => ({ id, name: m.name, peerUrls: [...m.peerUrls], adminUrls: [...m.adminUrls], isLeader: id === this.leader.leaderId }));
  }

  #byName(name: string): [bigint, { name: string; peerUrls: string[]; adminUrls: string[] }] {
    for (const entry of this.#members) if (entry[1].name === name) return entry;
    throw new AdminError("MEMBER_NOT_FOUND", `no such member: ${name}`);
  }

  #peerUrlTaken(url: string, except?: bigint): boolean {
    return [...this.#members].some(([id, m]) => id !== except && m.peerUrls.includes(url));
  }

  members(): ClusterMember[] {
    this.#enter("members", false);
    return this.#list();
  }

  async addMember(r: AddMemberRequest): Promise<ClusterMember[]> {
    this.#enter("addMember", true);
    const id = r.id ?? hashId(r.name, r.peerUrl);
    if (this.#removed.has(id)) throw new AdminError("MEMBER_REMOVED", `member ${id} was removed and cannot be added again`);
    if (this.#members.has(id)) throw new AdminError("MEMBER_EXISTS", `member id ${id} exists already`);
    if ([...this.#members.values()].some((m) => m.name === r.name)) throw new AdminError("MEMBER_EXISTS", `a member named ${r.name} exists already`);
    if (this.#peerUrlTaken(r.peerUrl)) throw new AdminError("PEER_URL_EXISTS", `peer URL ${r.peerUrl} is in use`);
    this.#members.set(id, { name: r.name, peerUrls: [r.peerUrl], adminUrls: r.adminUrl === undefined ? [] : [r.adminUrl] });
    return this.#list();
  }

  async removeMember(r: RemoveMemberRequest): Promise<ClusterMember[]> {
    this.#enter("removeMember", true);
    const [id, m] = this.#byName(r.name);
    if (r.peerUrl !== undefined && !m.peerUrls.includes(r.peerUrl)) throw new AdminError("MEMBER_MISMATCH", `member ${r.name} has peer URL ${m.peerUrls.join(",")}, not ${r.peerUrl}`);
    this.#members.delete(id);
    this.#removed.add(id);
    return this.#list();
  }

  async updateMember(r: UpdateMemberRequest): Promise<ClusterMember[]> {
    this.#enter("updateMember", true);
    const [id, m] = this.#byName(r.name);
    if (this.#peerUrlTaken(r.newPeerUrl, id)) throw new AdminError("PEER_URL_EXISTS", `peer URL ${r.newPeerUrl} is in use`);
    m.peerUrls = [r.newPeerUrl];
    return this.#list();
  }

  async startSyncer(config: SyncerConfig): Promise<void> {
    this.#enter("startSyncer", true);
    if (this.syncerRunning) throw new AdminError("ALREADY_RUNNING", "the syncer is running already");
    this.syncerConfig = config;
    this.syncerRunning = true;
  }

  async stopSyncer(): Promise<void> {
    this.#enter("stopSyncer", true);
    this.syncerRunning = false;
  }

  async syncerStatus(): Promise<SyncerStatus> {
    this.#enter("syncerStatus", true);
    const c = this.syncerConfig;
    return {
      status: this.syncerRunning ? "running" : "stopped",
      syncerId: c?.syncerId ?? 0,
      syncerUuid: c?.syncerUuid ?? "",
      mysqlAddr: c?.mysqlAddr ?? "",
      mysqlUser: c?.mysqlUser ?? "",
      semiSync: c?.semiSync ?? false,
      ...PROGRESS,
    };
  }

  async startServer(config: ServerConfig): Promise<void> {
    this.#enter("startServer", false);
    if (this.serverRunning) throw new AdminError("ALREADY_RUNNING", "the binlog server is running already");
    this.serverConfig = config;
    this.serverRunning = true;
  }

  async stopServer(): Promise<void> {
    this.#enter("stopServer", false);
    this.serverRunning = false;
  }

  async serverStatus(): Promise<ServerStatus> {
    this.#enter("serverStatus", false);
    const c = this.serverConfig;
    return { status: this.serverRunning ? "running" : "stopped", addr: c?.addr ?? "", user: c?.user ?? "", replicas: this.replicas, ...PROGRESS };
  }

  leadership(): Leadership {
    return this.leader;
  }

  readiness(): ReadinessFacts {
    return this.ready;
  }
}
