/**
 * The pod process (`kingbus node`): the Raft loop over the segment log, the gRPC peer transport,
 * the admin HTTP API with /metrics and probes. Membership changes through the API, snapshots to
 * followers, the syncer and the binlog server are later work (issues 5-7); their admin calls answer
 * UNAVAILABLE until then.
 */
import { createHash, randomInt } from "node:crypto";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { AdminError, AdminHttpServer, createAdminLogger, createNodeMetrics, type AdminBackend, type ClusterMember, type ExtraRoute, type NodeMetrics } from "../admin/index.ts";
import type { NodeConfig } from "../config/index.ts";
import { RawNode, Role, SeededRandom, ProposalDroppedError } from "../raft/index.ts";
import { LogStore } from "../storage/log-store.ts";
import { PeerTransport } from "../transport/peer-transport.ts";
import { RaftLogStorage } from "./raft-storage.ts";
import { RaftLoop } from "./raft-loop.ts";
import type { Entry } from "../raft/types.ts";

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
  private lead = 0;
  urls: RunningUrls = { peer: "", http: "" };

  private constructor(config: NodeConfig, store: LogStore, log: Logger) {
    this.config = config;
    this.store = store;
    this.log = log;
    this.startupCommit = store.hardState().commit;
    const voters = (config.initialCluster ?? []).map((m) => m.id);
    const storage = new RaftLogStorage(store, { voters, learners: [] });
    // The node is the I/O shell: its election jitter may come from the operating system.
    const node = new RawNode({ id: config.id, storage, random: new SeededRandom(randomInt(2 ** 31)), electionTicks: config.raft.electionTicks, heartbeatTicks: config.raft.heartbeatTicks });
    this.metrics = createNodeMetrics();
    this.transport = new PeerTransport({
      id: config.id,
      listen: `${config.listen.peer.host}:${config.listen.peer.port}`,
      tls: config.peerTls,
      onMessages: (messages) => this.loop.receive(messages),
      onReachability: (peer, reachable) => {
        if (!reachable) this.loop.node.reportUnreachable(peer);
      },
      onError: (e) => this.log.warn({ err: e.message }, "peer transport"),
    });
    this.loop = new RaftLoop({ node, storage, transport: this.transport, apply: (entries) => this.apply(entries), tickMs: config.raft.tickMs });
    this.loop.on("soft", ({ lead, role }) => {
      this.lead = lead;
      this.metrics.raftIsLeader.set(role === Role.Leader ? 1 : 0);
      this.metrics.raftLeaderId.set(lead);
      this.metrics.raftTerm.set(this.loop.node.status().term);
      this.log.info({ lead, role, term: this.loop.node.status().term }, "raft role");
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
    const store = await LogStore.open(join(config.dataDir, "log"), { segmentBytes: config.storage.segmentBytes });
    const node = new KingbusNode(config, store, log);
    node.urls.peer = await node.transport.start();
    for (const m of config.initialCluster ?? []) if (m.id !== config.id) node.transport.addPeer(m.id, m.peerUrl);
    const http = await node.http.listen(config.listen.http.port, config.listen.http.host);
    node.urls.http = http.url;
    node.loop.start();
    log.info({ id: config.id, peer: node.urls.peer, http: node.urls.http }, "kingbus node started");
    return node;
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.http.close();
    await this.transport.close();
    await this.store.close();
  }

  private async apply(entries: readonly Entry[]): Promise<void> {
    // The binlog state machine (GTID sets, indexes) comes with the syncer; for now applying means
    // the entries are committed and durable, which the store already guarantees.
    const status = this.loop.node.status();
    this.metrics.raftAppliedIndex.set(entries.at(-1)!.index);
    this.metrics.raftCommitIndex.set(status.commit);
    this.metrics.raftTerm.set(status.term);
  }

  private members(): ClusterMember[] {
    return (this.config.initialCluster ?? []).map((m) => ({ id: BigInt(m.id), name: m.name, peerUrls: [m.peerUrl], adminUrls: [m.adminUrl], isLeader: m.id === this.lead }));
  }

  private backend(): AdminBackend {
    const unavailable = (what: string): never => {
      throw new AdminError("UNAVAILABLE", `kingbus: ${what} is not available in this version yet`);
    };
    return {
      members: () => this.members(),
      addMember: () => unavailable("changing membership through the API"),
      removeMember: () => unavailable("changing membership through the API"),
      updateMember: () => unavailable("changing membership through the API"),
      startSyncer: () => unavailable("the binlog syncer"),
      stopSyncer: () => unavailable("the binlog syncer"),
      syncerStatus: () => unavailable("the binlog syncer"),
      startServer: () => unavailable("the binlog server"),
      stopServer: () => unavailable("the binlog server"),
      serverStatus: () => unavailable("the binlog server"),
      leadership: () => {
        const leader = (this.config.initialCluster ?? []).find((m) => m.id === this.lead);
        return { isLeader: this.loop.isLeader(), leaderId: this.lead ? BigInt(this.lead) : undefined, leaderAdminUrl: leader?.adminUrl };
      },
      readiness: () => ({
        isMember: (this.config.initialCluster ?? []).some((m) => m.id === this.config.id),
        leaderId: this.lead ? BigInt(this.lead) : undefined,
        appliedIndex: this.loop.applied,
        startupCommitIndex: this.startupCommit,
      }),
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
      "/debug/status": {
        GET: () => {
          const s = this.loop.node.status();
          return { id: s.id, term: s.term, lead: s.lead, role: s.role, commit: s.commit, applied: this.loop.applied, firstIndex: this.store.firstIndex(), lastIndex: this.store.lastIndex() };
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
