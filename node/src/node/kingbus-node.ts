/**
 * The pod process (`kingbus node`): the Raft loop over the segment log, the gRPC peer transport,
 * the admin HTTP API with /metrics and probes. Membership changes through the API, snapshots to
 * followers, the syncer and the binlog server are later work (issues 5-7); their admin calls answer
 * UNAVAILABLE until then.
 */
import { createHash, randomInt } from "node:crypto";
import { join } from "node:path";
import { readdir, rm } from "node:fs/promises";
import { pino, type Logger } from "pino";
import { serveAdmin, type AdminGrpcService } from "../admin/grpc-admin.ts";
import type { ControlMember, NodeControl } from "../admin/control.ts";
import { AdminError, AdminHttpServer, createAdminLogger, createNodeMetrics, type AdminBackend, type ClusterMember, type ExtraRoute, type NodeMetrics } from "../admin/index.ts";
import type { NodeConfig } from "../config/index.ts";
import { ConfChangeType, ProposalDroppedError, RawNode, Role, SeededRandom, decodeConfChange, type Message } from "../raft/index.ts";
import { LogStore } from "../storage/log-store.ts";
import { purgeThrough } from "../storage/retention.ts";
import { PeerTransport } from "../transport/peer-transport.ts";
import { transportCredentials } from "../transport/credentials.ts";
import { peerTarget } from "../transport/peer-address.ts";
import { RaftLogStorage } from "./raft-storage.ts";
import { RaftLoop } from "./raft-loop.ts";
import { EntryType, type ConfState, type Entry } from "../raft/types.ts";
import { BinlogState } from "../log-entry/binlog-state.ts";
import { extractBinlogInfo } from "../log-entry/extract.ts";
import { LogEntryError, decodeEntry, encodeControl, isLogEntry, type EntryPayload } from "../log-entry/format.ts";
import { SyncerDuty } from "./syncer-duty.ts";
import { ServerDuty } from "./server-duty.ts";
import { StoredFiles } from "../log-entry/stored-files.ts";
import { MemberDirectory, decodeMemberContext, encodeMemberContext, idForName, type MemberInfo } from "./members.ts";

export interface RunningUrls {
  peer: string;
  http: string;
}

export class KingbusNode {
  readonly config: NodeConfig;
  readonly loop: RaftLoop;
  readonly store: LogStore;
  readonly metrics: NodeMetrics;
  private readonly transport: PeerTransport;
  private readonly http: AdminHttpServer;
  private readonly log: Logger;
  private readonly startupCommit: number;
  private readonly directory: MemberDirectory;
  private readonly raftStorage: RaftLogStorage;
  private conf: ConfState;
  private promoter: NodeJS.Timeout | undefined;
  private adminGrpc: AdminGrpcService | undefined;
  private gauges: NodeJS.Timeout | undefined;
  private retention: NodeJS.Timeout | undefined;
  /** The exported files of the snapshot being sent to each peer, removed once sent. */
  private readonly outgoingSnapshots = new Map<number, string>();
  /** Transport peers added so far. */
  private readonly peers = new Set<number>();
  private lead = 0;
  /** What the applied log holds (GTIDs, position, syncer configuration). */
  private binlog: BinlogState;
  private readonly syncerDuty: SyncerDuty;
  /** The binlog server (primary role) over this node's committed log. */
  private readonly serverDuty: ServerDuty;
  private syncerTimer: NodeJS.Timeout | undefined;
  urls: RunningUrls = { peer: "", http: "" };

  private constructor(config: NodeConfig, store: LogStore, directory: MemberDirectory, log: Logger, metrics: NodeMetrics) {
    this.config = config;
    this.store = store;
    this.directory = directory;
    this.log = log;
    this.startupCommit = store.hardState().commit;
    const voters = (config.initialCluster ?? []).map((m) => m.id);
    const memory = config.memory;
    const storage = new RaftLogStorage(store, { voters, learners: [] }, { onAppend: (seconds) => metrics.storageAppendSeconds.observe(seconds), recentEntriesBytes: memory.recentEntriesBytes });
    this.raftStorage = storage;
    this.conf = storage.snapshot().conf;
    // The node is the I/O shell: its election jitter may come from the operating system.
    const node = new RawNode({
      id: config.id,
      storage,
      random: new SeededRandom(randomInt(2 ** 31)),
      electionTicks: config.raft.electionTicks,
      heartbeatTicks: config.raft.heartbeatTicks,
      // What a follower behind costs the leader: the entries of the appends not yet acknowledged.
      maxInflightBytes: memory.raftInflightBytes,
    });
    this.metrics = metrics;
    this.transport = new PeerTransport({
      id: config.id,
      listen: `${config.listen.peer.host}:${config.listen.peer.port}`,
      tls: config.peerTls,
      onMessages: (messages) => {
        this.countReplicated("received", messages);
        this.loop.receive(messages);
      },
      onReachability: (peer, reachable) => {
        if (!reachable) this.loop.node.reportUnreachable(peer);
      },
      onError: (e) => this.log.warn({ err: e.message }, "peer transport"),
      snapshots: {
        dir: join(config.dataDir, "snapshots"),
        // A follower behind the compacted log gets the leader's files (see LogStore.exportSnapshot).
        source: async (m) => {
          const dir = join(config.dataDir, "snapshots", `out-${m.to}-${m.snapshot.index}-${Date.now()}`);
          this.outgoingSnapshots.set(m.to, dir);
          return { dir, files: await this.store.exportSnapshot(dir) };
        },
        onSnapshot: async (m, dir) => {
          // Installed when the core hands the snapshot over in a Ready (RaftLogStorage.persist).
          this.raftStorage.stageSnapshotFiles(m.snapshot, dir);
          this.log.info({ index: m.snapshot.index, from: m.from }, "snapshot received");
          this.loop.receive([m]);
        },
        onSent: (peer, m, error) => {
          this.loop.node.reportSnapshot(peer, error === undefined);
          const sent = this.outgoingSnapshots.get(peer);
          this.outgoingSnapshots.delete(peer);
          if (sent) void rm(sent, { recursive: true, force: true }).catch(() => undefined);
          if (error) this.log.warn({ peer, index: m.snapshot.index, err: error.message }, "snapshot not delivered");
        },
      },
    });
    const transport = this.transport;
    const counted = {
      send: (messages: readonly Message[]): void => {
        this.countReplicated("sent", messages);
        transport.send(messages);
      },
    };
    this.binlog = new BinlogState(store.purgedGtids());
    this.loop = new RaftLoop({
      node,
      storage,
      transport: counted,
      apply: (entries) => this.apply(entries),
      restore: (snapshot) => this.restoreBinlogState(snapshot.index),
      tickMs: config.raft.tickMs,
    });
    this.syncerDuty = new SyncerDuty({ loop: this.loop, store, state: () => this.binlog, log, registry: metrics.registry, syncer: { maxInFlightBytes: memory.syncerInflightBytes, bufferBytes: memory.syncerBufferBytes } });
    const progress = { committed: () => this.loop.node.status().commit, applied: () => this.loop.applied, current: () => this.commitIsCurrent(), startupCommit: this.startupCommit };
    this.serverDuty = new ServerDuty({ store, state: () => this.binlog, log, registry: metrics.registry, dataDir: config.dataDir, progress, cacheBytes: memory.serverCacheBytes, verifyRecords: config.storage.verifyServedRecords });
    this.loop.on("applied", () => this.serverDuty.applied());
    this.loop.on("soft", ({ lead, role }) => {
      this.lead = lead;
      this.metrics.raftIsLeader.set(role === Role.Leader ? 1 : 0);
      this.metrics.raftLeaderId.set(lead);
      this.metrics.raftTerm.set(this.loop.node.status().term);
      this.log.info({ lead, role, term: this.loop.node.status().term }, "raft role");
      // A deposed leader's syncer stops at once; a new leader's starts once it caught up.
      void this.syncerDuty.reconcile();
    });
    this.loop.on("refused", (m, e) => {
      const range = m.type === "MsgApp" ? { prev: m.prevIndex, entries: m.entries.length, commit: m.commit } : {};
      this.log.warn({ type: m.type, from: m.from, term: m.term, ...range, storeFirst: this.store.firstIndex(), storeLast: this.store.lastIndex(), commit: this.loop.node.status().commit, err: e.message }, "raft refused a message");
    });
    this.loop.on("conf", (conf) => {
      this.conf = conf;
      this.syncPeers();
    });
    this.loop.on("fatal", (e) => {
      this.log.fatal({ err: e instanceof Error ? e.message : String(e) }, "storage failed: the node stops");
      process.exitCode = 1;
      void this.stop();
    });
    this.http = new AdminHttpServer({
      backend: this.backend(),
      metrics: this.metrics,
      token: config.adminToken?.reveal(),
      logger: log,
      nodeName: config.name,
      extraRoutes: config.testWriteApi ? this.testRoutes() : undefined,
    });
  }

  static async start(config: NodeConfig, log: Logger = createAdminLogger({ level: config.logLevel, destination: pino.destination(2) })): Promise<KingbusNode> {
    const metrics = createNodeMetrics();
    const store = await LogStore.open(join(config.dataDir, "log"), { segmentBytes: config.storage.segmentBytes, syncMode: config.storage.syncMode, extractBinlogInfo, onSync: (s) => metrics.storageFsyncSeconds.observe(s) });
    const directory = await MemberDirectory.load(config.dataDir, config.initialCluster ?? []);
    // Exports of snapshots that a crash interrupted are only hard links and copies: drop them.
    for (const name of await readdir(join(config.dataDir, "snapshots")).catch(() => [] as string[])) {
      if (name.startsWith("out-")) await rm(join(config.dataDir, "snapshots", name), { recursive: true, force: true });
    }
    const node = new KingbusNode(config, store, directory, log, metrics);
    node.urls.peer = await node.transport.start();
    // kingbus.v1.Admin shares the peer port (listen.admin defaults to it), for kingbus ctl and the operator.
    node.adminGrpc = serveAdmin(node.transport.server, {
      backend: node.backend(),
      control: node.control(),
      token: config.adminToken?.reveal(),
      logger: log,
      // Leader-only calls reaching a follower go to the leader's admin service (on its peer port).
      forward: {
        leaderTarget: (id) => {
          const m = node.directory.get(id);
          return m ? peerTarget(m.peerUrl) : undefined;
        },
        credentials: transportCredentials(config.peerTls).client,
        nodeName: config.name,
      },
    });
    node.syncPeers();
    const http = await node.http.listen(config.listen.http.port, config.listen.http.host);
    node.urls.http = http.url;
    node.loop.start();
    node.promoter = setInterval(() => void node.promoteCaughtUpLearners(), Math.max(100, config.raft.tickMs * 2));
    node.gauges = setInterval(() => node.updateGauges(), 1000);
    node.syncerTimer = setInterval(() => void node.syncerDuty.reconcile(), Math.max(50, config.raft.tickMs));
    await node.serverDuty.resume();
    if (config.storage.retentionMaxBytes !== undefined || config.storage.retentionMaxAgeMs !== undefined) {
      node.retention = setInterval(() => void node.applyRetention().catch((e: unknown) => log.warn({ err: e instanceof Error ? e.message : String(e) }, "retention")), 10_000);
    }
    if (config.join !== undefined && store.lastIndex() === 0 && store.hardState().term === 0) await node.join(config.join);
    log.info({ id: config.id, peer: node.urls.peer, http: node.urls.http }, "kingbus node started");
    return node;
  }

  async stop(): Promise<void> {
    clearInterval(this.syncerTimer);
    await this.serverDuty.close();
    await this.syncerDuty.syncer.stop();
    clearInterval(this.promoter);
    clearInterval(this.retention);
    clearInterval(this.gauges);
    this.adminGrpc?.close();
    await this.loop.stop();
    await this.http.close();
    await this.transport.close();
    await this.store.close();
  }

  private async apply(entries: readonly Entry[]): Promise<void> {
    let syncerChanged = false;
    for (const e of entries) {
      if (e.type !== EntryType.ConfChange) {
        const before = this.binlog.syncer;
        await this.applyMemberRecord(this.applyBinlog(e));
        syncerChanged ||= this.binlog.syncer !== before;
        continue;
      }
      const { change, after } = decodeConfChange(e.data);
      this.conf = after;
      if (change.type === ConfChangeType.AddLearner) {
        const info = decodeMemberContext(change.nodeId, change.context);
        if (info) await this.directory.set(info);
      } else if (change.type === ConfChangeType.RemoveNode) {
        await this.directory.remove(change.nodeId);
      }
      this.syncPeers();
    }
    if (syncerChanged) void this.syncerDuty.reconcile();
    const status = this.loop.node.status();
    this.metrics.raftAppliedIndex.set(entries.at(-1)!.index);
    this.metrics.raftCommitIndex.set(status.commit);
    this.metrics.raftTerm.set(status.term);
  }

  /**
   * One entry into the binlog state. An entry this version cannot read is logged and skipped
   * rather than stopping every node on it: it holds nothing this node could serve.
   */
  private applyBinlog(e: Entry): unknown {
    // Decoded once here for both the binlog state and the server's file index.
    let payload: EntryPayload | undefined;
    try {
      if (e.type === EntryType.Normal && isLogEntry(e.data)) payload = decodeEntry(e.data);
    } catch (err) {
      if (!(err instanceof LogEntryError)) throw err;
      this.log.error({ index: e.index, err: err.message }, "an entry of the log cannot be read: skipped");
      this.serverDuty.apply(e); // counts it as unreadable
      return undefined;
    }
    this.serverDuty.apply(e, payload);
    return this.binlog.apply(e, payload);
  }

  /** After a snapshot install: the state again from what the store now holds, through `index`. */
  private restoreBinlogState(index: number): void {
    this.binlog = new BinlogState(this.store.purgedGtids());
    this.serverDuty.reset();
    for (let from = this.store.firstIndex(); from <= index; ) {
      const batch = this.store.entries(from, index + 1, 64 * 1024 * 1024);
      for (const e of batch) this.applyBinlog(e);
      from = batch.at(-1)!.index + 1;
    }
  }

  /** Term, indexes and, on the leader, how many entries each peer lags behind the last index. */
  private updateGauges(): void {
    const s = this.loop.node.status();
    this.metrics.raftTerm.set(s.term);
    this.metrics.raftCommitIndex.set(s.commit);
    this.metrics.raftAppliedIndex.set(this.loop.applied);
    this.metrics.raftPeerLagEntries.reset();
    const last = this.store.lastIndex();
    for (const [id, p] of this.loop.node.progress() ?? []) {
      if (id !== this.config.id) this.metrics.raftPeerLagEntries.set({ peer: String(id) }, Math.max(0, last - p.match));
    }
  }

  /** Transport peers follow the membership in force: every other member whose address is known. */
  private syncPeers(): void {
    const wanted = new Set([...this.conf.voters, ...this.conf.learners].filter((id) => id !== this.config.id));
    for (const m of this.directory.all()) {
      if (m.id === this.config.id) continue;
      if (wanted.has(m.id) || this.conf.voters.length === 0) this.addPeer(m);
    }
    for (const id of this.peers) if (!wanted.has(id) && this.conf.voters.length > 0) {
      this.transport.removePeer(id);
      this.peers.delete(id);
    }
  }

  private addPeer(m: MemberInfo): void {
    if (this.peers.has(m.id)) return;
    this.transport.addPeer(m.id, m.peerUrl);
    this.peers.add(m.id);
  }

  /** The HTTP API's view of the members: the admin view without roles and progress. */
  private members(): ClusterMember[] {
    return this.controlMembers().map((m) => ({ id: BigInt(m.id), name: m.name, peerUrls: m.peerUrls, adminUrls: m.adminUrls, isLeader: m.isLeader }));
  }

  private countReplicated(direction: "sent" | "received", messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type !== "MsgApp" || m.entries.length === 0) continue;
      this.metrics.raftReplicatedEntries.inc({ direction }, m.entries.length);
      this.metrics.raftReplicatedBytes.inc({ direction }, m.entries.reduce((n, e) => n + e.data.length, 0));
    }
  }

  private requireLeader(): number {
    if (!this.loop.isLeader()) throw new AdminError("NOT_LEADER", `kingbus: node ${this.config.id} is not the leader (leader: ${this.lead || "unknown"})`);
    return this.loop.node.status().term;
  }

  private async changeMembership(run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (e) {
      if (e instanceof ProposalDroppedError) throw new AdminError(e.code === "RAFT_CONF_CHANGE_PENDING" ? "ALREADY_RUNNING" : "NOT_LEADER", `kingbus: ${e.message}`);
      throw e;
    }
  }

  /** Adds a learner; the leader promotes it once it has caught up. */
  private async addMember(request: { id?: bigint; name: string; peerUrl: string; adminUrl?: string }): Promise<ClusterMember[]> {
    const term = this.requireLeader();
    const id = request.id === undefined ? idForName(request.name) : Number(request.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw new AdminError("ADMIN_BAD_REQUEST", `kingbus: member id ${request.id} is not a positive integer below 2^53`);
    const inForce = new Set([...this.conf.voters, ...this.conf.learners]);
    for (const m of this.directory.all()) {
      if (!inForce.has(m.id)) continue;
      if (m.id === id || m.name === request.name) throw new AdminError("MEMBER_EXISTS", `kingbus: member ${request.name} (id ${id}) already exists`);
      if (m.peerUrl === request.peerUrl) throw new AdminError("PEER_URL_EXISTS", `kingbus: peer URL ${request.peerUrl} belongs to ${m.name}`);
    }
    const info: MemberInfo = { id, name: request.name, peerUrl: request.peerUrl, adminUrl: request.adminUrl ?? "" };
    // The leader must reach the learner before the change commits: it is the one replicating to it.
    this.addPeer(info);
    await this.changeMembership(() => this.loop.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: id, context: encodeMemberContext(info) }, term));
    return this.members();
  }

  private async removeMember(request: { name: string; peerUrl?: string }): Promise<ClusterMember[]> {
    const term = this.requireLeader();
    const m = this.directory.byName(request.name);
    if (!m || ![...this.conf.voters, ...this.conf.learners].includes(m.id)) throw new AdminError("MEMBER_NOT_FOUND", `kingbus: no member named ${request.name}`);
    if (request.peerUrl !== undefined && request.peerUrl !== m.peerUrl) throw new AdminError("MEMBER_MISMATCH", `kingbus: member ${request.name} has peer URL ${m.peerUrl}, not ${request.peerUrl}`);
    await this.changeMembership(() => this.loop.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: m.id }, term));
    return this.members();
  }

  /**
   * PUT /members: a member's peer URL (a pod that came back at another address). The change is a
   * control record committed through Raft, so every member updates its directory and transport.
   */
  private async updateMember(request: { name: string; newPeerUrl: string }): Promise<ClusterMember[]> {
    const term = this.requireLeader();
    const m = this.directory.byName(request.name);
    const inForce = [...this.conf.voters, ...this.conf.learners];
    if (!m || !inForce.includes(m.id)) throw new AdminError("MEMBER_NOT_FOUND", `kingbus: no member named ${request.name}`);
    const other = this.directory.all().find((o) => o.id !== m.id && inForce.includes(o.id) && o.peerUrl === request.newPeerUrl);
    if (other) throw new AdminError("PEER_URL_EXISTS", `kingbus: peer URL ${request.newPeerUrl} belongs to ${other.name}`);
    try {
      await this.loop.propose(encodeControl({ type: "member", id: m.id, name: m.name, peerUrl: request.newPeerUrl, adminUrl: m.adminUrl }), term);
    } catch (e) {
      if (e instanceof ProposalDroppedError) throw new AdminError("NOT_LEADER", `kingbus: ${e.message}`);
      throw e;
    }
    return this.members();
  }

  /** A committed member record: the member's addresses change on this node too. */
  private async applyMemberRecord(record: unknown): Promise<void> {
    const r = record as { type?: unknown; id?: unknown; name?: unknown; peerUrl?: unknown; adminUrl?: unknown } | undefined;
    if (r?.type !== "member" || typeof r.id !== "number" || typeof r.name !== "string" || typeof r.peerUrl !== "string") return;
    const info: MemberInfo = { id: r.id, name: r.name, peerUrl: r.peerUrl, adminUrl: typeof r.adminUrl === "string" ? r.adminUrl : "" };
    await this.directory.set(info);
    if (this.peers.has(info.id)) this.transport.updatePeer(info.id, info.peerUrl);
    this.log.info({ id: info.id, peerUrl: info.peerUrl }, "member peer URL changed");
  }

  /** On the leader: a learner whose log has caught up with the commit index becomes a voter. */
  private async promoteCaughtUpLearners(): Promise<void> {
    if (!this.loop.isLeader() || this.conf.learners.length === 0) return;
    const status = this.loop.node.status();
    const progress = this.loop.node.progress();
    for (const id of this.conf.learners) {
      const match = progress?.get(id)?.match ?? 0;
      if (match + 16 < status.commit) continue;
      try {
        await this.loop.proposeConfChange({ type: ConfChangeType.PromoteLearner, nodeId: id }, status.term);
        this.log.info({ id }, "learner promoted");
      } catch (e) {
        // Another change pending, or leadership lost: the next round tries again.
        this.log.debug({ id, err: e instanceof Error ? e.message : String(e) }, "promotion deferred");
      }
      return;
    }
  }

  /**
   * Forgets the log up to `through` (at most the applied index): the snapshot metadata that covers
   * it is saved first, so a follower that needs those entries gets the snapshot instead.
   */
  private async compactThrough(through: number): Promise<number> {
    const target = Math.min(through, this.loop.applied);
    if (target < this.store.firstIndex()) return this.store.firstIndex();
    await this.store.saveSnapshotMetadata({ index: target, term: this.store.term(target), conf: { voters: [...this.conf.voters], learners: [...this.conf.learners] } });
    await this.store.compact(target);
    this.loop.node.compacted(target);
    return this.store.firstIndex();
  }

  private async applyRetention(): Promise<void> {
    const through = purgeThrough(this.store.segmentFacts(), { maxBytes: this.config.storage.retentionMaxBytes, maxAgeMs: this.config.storage.retentionMaxAgeMs }, this.loop.applied, Date.now());
    if (through !== undefined) await this.compactThrough(through);
  }

  /** A new node asks a running cluster (through any member's admin URL) to add it as a learner. */
  private async join(url: string): Promise<void> {
    const self: MemberInfo = { id: this.config.id, name: this.config.name, peerUrl: this.config.advertise.peerUrl, adminUrl: this.config.advertise.adminUrl };
    const headers: Record<string, string> = { "content-type": "application/json" };
    const token = this.config.adminToken?.reveal();
    if (token) headers.authorization = `Bearer ${token}`;
    for (let attempt = 0; ; attempt++) {
      try {
        const cluster = (await (await fetch(new URL("/cluster", url), { headers, signal: AbortSignal.timeout(5000) })).json()) as { data: Array<{ Id: string; name: string; peerURLs: string[]; adminURLs?: string[] }> };
        for (const m of cluster.data) {
          const id = Number(BigInt(`0x${m.Id}`));
          if (id !== this.config.id) await this.directory.set({ id, name: m.name, peerUrl: m.peerURLs[0]!, adminUrl: m.adminURLs?.[0] ?? "" });
        }
        this.syncPeers();
        const body = `{"id":${self.id},"name":${JSON.stringify(self.name)},"peer_url":${JSON.stringify(self.peerUrl)},"admin_url":${JSON.stringify(self.adminUrl)}}`;
        const res = await fetch(new URL("/members", url), { method: "POST", headers, body, signal: AbortSignal.timeout(30_000) });
        if (res.ok || res.status === 409) {
          this.log.info({ via: url }, "joined the cluster as a learner");
          return;
        }
        throw new Error(`POST /members answered ${res.status}: ${await res.text()}`);
      } catch (e) {
        if (attempt >= 30) throw new AdminError("UNAVAILABLE", `kingbus: could not join through ${url}: ${e instanceof Error ? e.message : String(e)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private backend(): AdminBackend {
    return {
      members: () => this.members(),
      addMember: (request) => this.addMember(request),
      removeMember: (request) => this.removeMember(request),
      updateMember: (request) => this.updateMember(request),
      startSyncer: (config) => {
        this.requireLeader();
        return this.syncerDuty.start(config);
      },
      stopSyncer: () => {
        this.requireLeader();
        return this.syncerDuty.stop();
      },
      syncerStatus: () => this.syncerDuty.status(),
      startServer: (config) => this.serverDuty.start(config),
      stopServer: () => this.serverDuty.stop(),
      serverStatus: () => this.serverDuty.status(),
      leadership: () => {
        const leader = this.directory.get(this.lead);
        return { isLeader: this.loop.isLeader(), leaderId: this.lead ? BigInt(this.lead) : undefined, leaderAdminUrl: leader?.adminUrl };
      },
      readiness: () => ({
        isMember: this.conf.voters.includes(this.config.id) || this.conf.learners.includes(this.config.id),
        leaderId: this.lead ? BigInt(this.lead) : undefined,
        appliedIndex: this.loop.applied,
        startupCommitIndex: this.startupCommit,
      }),
    };
  }

  /**
   * Whether this node's commit index covers everything the cluster committed: it knows a leader
   * and has a committed entry of that leader's term (Raft: every entry committed in an earlier
   * term comes before it). What a replica read from a leader that died may be ahead of it until then.
   */
  private commitIsCurrent(): boolean {
    const status = this.loop.node.status();
    if (status.lead === 0) return false;
    try {
      return this.store.term(status.commit) === status.term;
    } catch {
      return false;
    }
  }

  private controlMembers(): ControlMember[] {
    const inForce = new Set([...this.conf.voters, ...this.conf.learners]);
    const progress = this.loop.node.progress();
    const peers = this.transport.stats().peers;
    return this.directory
      .all()
      .filter((m) => inForce.has(m.id))
      .map((m) => {
        const p = progress?.get(m.id);
        return {
          id: m.id,
          name: m.name,
          peerUrls: [m.peerUrl],
          adminUrls: m.adminUrl ? [m.adminUrl] : [],
          role: this.conf.learners.includes(m.id) ? ("learner" as const) : ("voter" as const),
          isLeader: m.id === this.lead,
          ...(p ? { progress: { matchIndex: p.match, nextIndex: p.next, state: p.state, reachable: m.id === this.config.id || (peers.get(m.id)?.reachable ?? false), messagesDropped: peers.get(m.id)?.dropped ?? 0 } } : {}),
        };
      });
  }

  /** What the admin gRPC service (kingbus ctl, the operator) drives beyond the HTTP API. */
  private control(): NodeControl {
    const change = async (type: "PromoteLearner" | "RemoveNode", id: number): Promise<ControlMember[]> => {
      const term = this.requireLeader();
      await this.loop.proposeConfChange({ type: type === "PromoteLearner" ? ConfChangeType.PromoteLearner : ConfChangeType.RemoveNode, nodeId: id }, term);
      return this.controlMembers();
    };
    return {
      status: () => {
        const s = this.loop.node.status();
        return {
          id: this.config.id,
          name: this.config.name,
          clusterId: "",
          role: this.conf.learners.includes(this.config.id) ? "learner" : s.role,
          term: s.term,
          leaderId: this.lead,
          commitIndex: s.commit,
          appliedIndex: this.loop.applied,
          firstIndex: this.store.firstIndex(),
          lastIndex: this.store.lastIndex(),
          members: this.controlMembers(),
          executedGtidSet: this.syncerDuty.progress().executedGtidSet,
          purgedGtidSet: this.syncerDuty.progress().purgedGtidSet,
          version: "0.1.0",
        };
      },
      members: () => this.controlMembers(),
      addLearner: async (l) => {
        await this.addMember({ id: BigInt(l.id), name: l.name, peerUrl: l.peerUrl, adminUrl: l.adminUrl });
        return this.controlMembers();
      },
      promote: (id) => change("PromoteLearner", id),
      remove: (id) => change("RemoveNode", id),
      transferLeadership: async (to) => {
        this.requireLeader();
        this.loop.node.transferLeadership(to);
        const deadline = Date.now() + this.config.raft.tickMs * this.config.raft.electionTicks * 3;
        while (this.lead !== to) {
          if (Date.now() > deadline) throw new AdminError("UNAVAILABLE", `kingbus: leadership did not move to node ${to} in time`);
          await new Promise((r) => setTimeout(r, this.config.raft.tickMs));
        }
        return { leaderId: to, term: this.loop.node.status().term };
      },
      purge: async (target) => {
        if (target.kind !== "retention") throw new AdminError("UNAVAILABLE", "kingbus: purging by binlog file or time needs the syncer's binlog index (not in this version yet)");
        const before = this.store.segmentFacts().length;
        await this.applyRetention();
        return { purgedThroughIndex: this.store.firstIndex() - 1, purgedGtidSet: this.store.purgedGtids().mysql.toString(), segmentsRemoved: before - this.store.segmentFacts().length };
      },
      syncerPasswordSet: () => this.syncerDuty.passwordSet(),
    };
  }

  /** The test-only write API: on only with --test-write-api, for the cluster tests. */
  private testRoutes(): Record<string, Partial<Record<"GET" | "POST", ExtraRoute>>> {
    return {
      "/debug/write": {
        POST: async ({ body }) => {
          if (!this.loop.isLeader()) throw new AdminError("NOT_LEADER", `kingbus: node ${this.config.id} is not the leader (leader: ${this.lead || "unknown"})`);
          try {
            return await this.loop.propose(body, this.loop.node.status().term);
          } catch (e) {
            if (e instanceof ProposalDroppedError) throw new AdminError("NOT_LEADER", `kingbus: ${e.message}`);
            throw e;
          }
        },
      },
      "/debug/compact": {
        POST: async ({ query }) => ({ firstIndex: await this.compactThrough(Number(query.get("through") ?? this.loop.applied)) }),
      },
      "/debug/status": {
        GET: () => {
          const s = this.loop.node.status();
          return { id: s.id, term: s.term, lead: s.lead, role: s.role, commit: s.commit, applied: this.loop.applied, firstIndex: this.store.firstIndex(), lastIndex: this.store.lastIndex(), voters: this.conf.voters, learners: this.conf.learners, progress: Object.fromEntries(this.loop.node.progress() ?? []), transport: Object.fromEntries([...this.transport.stats().peers].map(([id, p]) => [id, { reachable: p.reachable, queued: p.queued, dropped: p.dropped, sent: p.messagesSent }])) };
        },
      },
      "/debug/binlog": {
        // The applied binlog state; with ?files=1 every stored file's events (base64), to compare
        // with the primary's own files.
        GET: ({ query }) => {
          const b = this.binlog;
          const out: Record<string, unknown> = { flavor: b.flavor ?? "", executed: b.executedText(), position: b.position ?? null, lastGtid: b.lastGtid, transactions: b.transactions, abandonedFragments: b.abandonedFragments, applied: this.loop.applied, syncer: this.syncerDuty.syncer.status() };
          if (query.get("files") === "1") {
            const files = new StoredFiles();
            for (let from = this.store.firstIndex(); from <= this.loop.applied; ) {
              const batch = this.store.entries(from, this.loop.applied + 1, 64 * 1024 * 1024);
              for (const e of batch) files.add(e);
              from = batch.at(-1)!.index + 1;
            }
            out.files = Object.fromEntries([...files.files.keys()].map((f) => [f, files.bytes(f).toString("base64")]));
          }
          return out;
        },
      },
      "/debug/entries": {
        GET: ({ query }) => {
          const from = Number(query.get("from") ?? this.store.firstIndex());
          const to = Math.min(Number(query.get("to") ?? this.loop.applied), this.loop.applied);
          if (!(from >= 1) || to < from) return [];
          return this.store.entries(from, to + 1).map((e) => ({ index: e.index, term: e.term, type: e.type, sha256: createHash("sha256").update(e.data).digest("hex") }));
        },
      },
    };
  }
}
