/**
 * The node's side of the binlog server (the primary role): every pod serves its committed log to
 * downstream replicas and binlog clients, through a BinlogServer over a LogBinlogFeed.
 *
 * - The node feeds `apply(entry)` with every committed entry in order (and again from the first
 *   retained entry after a restart or a snapshot install, after `reset()`), and calls
 *   `applied()` on the loop's "applied" event: waiting dump sessions wake at once.
 * - `start({addr, user, password})` (PUT /binlog/server/start on this pod) listens on addr; the
 *   flavour, version string and checksum come from the stored log. While the log holds no binlog
 *   yet the server is configured but listens only once the first file is applied.
 * - server_id and server_uuid are the cluster's: those the committed syncer configuration gives
 *   kingbus toward the primary (the same on every pod, so a replica moving between pods sees one
 *   primary); a fixed default before any syncer was configured.
 * - The configuration is kept in `<dataDir>/server.json` (mode 0600, the password included, as the
 *   syncer's is kept in the log) so a restarted pod serves again; stop removes it. The password
 *   is never logged and never in a status.
 */
import { createHash } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";
import type { ReplicaInfo, ServerConfig, ServerStatus } from "../admin/backend.ts";
import { AdminError } from "../admin/index.ts";
import { METRIC_PREFIX } from "../admin/metrics.ts";
import { parseHostPort } from "../config/addresses.ts";
import type { BinlogState } from "../log-entry/binlog-state.ts";
import type { EntryPayload } from "../log-entry/format.ts";
import { BinlogServer, type BinlogServerConfig } from "../mysql/server/index.ts";
import type { Entry } from "../raft/types.ts";
import { fsyncDirectory } from "../storage/atomic-file.ts";
import type { LogStore } from "../storage/log-store.ts";
import { Notifier } from "../storage/notifier.ts";
import { AppliedBinlogIndex } from "../server/applied-index.ts";
import { LogBinlogFeed } from "../server/log-feed.ts";
import type { VerifyRecords } from "../server/verify-records.ts";

export interface ServerDutyOptions {
  store: LogStore;
  /** The node's applied binlog state (replaced wholesale after a snapshot). */
  state: () => BinlogState;
  log: Logger;
  registry: Registry;
  /** Where the configuration survives a restart (the node's data directory). */
  dataDir: string;
  /**
   * The node's commit and applied indexes: the server listens only once the node applied what was
   * committed when it started (it serves nothing stale after a restart), and a dump whose replica
   * is ahead of this pod waits for the pod to apply what is committed before it is refused.
   */
  progress?: { committed(): number; applied(): number; current?(): boolean; startupCommit: number };
  /** Bytes of entries the dumps share in memory (LogBinlogFeed's cache; its default when unset). */
  cacheBytes?: number;
  /** When dumps check stored records' CRC32 (LogBinlogFeed's verifyRecords; its default when unset). */
  verifyRecords?: VerifyRecords;
  /** Extra BinlogServer settings (tests: heartbeats, limits). */
  server?: Partial<Omit<BinlogServerConfig, "flavor" | "serverId" | "users">>;
}

/** server_id kingbus announces before any syncer configuration names one. */
export const DEFAULT_SERVER_ID = 4_294_967_000;
const CONFIG_FILE = "server.json";

export class ServerDuty {
  readonly index = new AppliedBinlogIndex();
  readonly feed: LogBinlogFeed;
  private readonly notifier = new Notifier();
  private readonly state: () => BinlogState;
  private readonly store: LogStore;
  private readonly log: Logger;
  private readonly dataDir: string;
  private readonly extra: ServerDutyOptions["server"];
  private config: ServerConfig | undefined;
  private server: BinlogServer | undefined;
  private listening: Promise<void> | undefined;
  private firstIndexSeen = 0;
  private retryAt = 0;
  private readonly progress: ServerDutyOptions["progress"];

  constructor(o: ServerDutyOptions) {
    this.state = o.state;
    this.store = o.store;
    this.log = o.log.child({ component: "server" });
    this.dataDir = o.dataDir;
    this.extra = o.server;
    const state = o.state;
    this.progress = o.progress;
    this.feed = new LogBinlogFeed({ store: o.store, index: this.index, gtids: () => state(), applied: this.notifier, ...(o.progress ? { progress: o.progress } : {}), ...(o.cacheBytes !== undefined ? { cacheBytes: o.cacheBytes } : {}), ...(o.verifyRecords ? { verifyRecords: o.verifyRecords } : {}) });
    this.registerMetrics(o.registry);
  }

  /** One committed entry (in order). */
  apply(entry: Entry, decoded?: EntryPayload): void {
    this.index.apply(entry, decoded);
  }

  /** Before the node replays the log from its first retained entry (a snapshot install). */
  reset(): void {
    this.index.reset();
  }

  /** The loop applied entries: wake waiting dumps; listen once the first binlog file is there. */
  applied(): void {
    this.notifier.notify();
    const first = this.store.firstIndex();
    if (first !== this.firstIndexSeen) {
      // Retention or compaction forgot the log's beginning: so does the index.
      this.firstIndexSeen = first;
      this.index.forgetBefore(first);
    }
    if (this.config && !this.server && !this.listening && this.ready() && Date.now() >= this.retryAt) {
      // A listener that failed (its port taken) is tried again at most every few seconds.
      void this.listen().catch(() => {
        this.retryAt = Date.now() + 5000;
      });
    }
  }

  /** The log holds a binlog file, and the node applied what was committed when it started. */
  private ready(): boolean {
    if (!this.index.flavor) return false;
    return !this.progress || this.progress.applied() >= this.progress.startupCommit;
  }

  /** Serves again after a restart what was configured before it. */
  async resume(): Promise<void> {
    let saved: unknown;
    try {
      saved = JSON.parse(await readFile(join(this.dataDir, CONFIG_FILE), "utf8"));
    } catch {
      return;
    }
    const c = saved as Partial<ServerConfig>;
    if (typeof c.addr !== "string" || typeof c.user !== "string" || typeof c.password !== "string") return;
    try {
      await this.start({ addr: c.addr, user: c.user, password: c.password }, { persist: false });
    } catch (e) {
      this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "binlog server not resumed");
    }
  }

  async start(config: ServerConfig, options: { persist?: boolean } = {}): Promise<void> {
    if (this.config && this.config.addr === config.addr && this.config.user === config.user && this.config.password === config.password) return;
    if (this.config) throw new AdminError("ALREADY_RUNNING", `kingbus: the binlog server is running on ${this.config.addr}; stop it first to change its configuration`);
    const address = parseHostPort(config.addr);
    if (!address) throw new AdminError("ADMIN_BAD_REQUEST", `kingbus: addr must be host:port, not ${config.addr}`);
    this.config = config;
    if (this.ready()) {
      try {
        await this.listen();
      } catch (e) {
        this.config = undefined;
        throw new AdminError("UNAVAILABLE", `kingbus: the binlog server cannot listen on ${config.addr}: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else {
      this.log.info({ addr: config.addr }, "binlog server configured: it listens once this node applied a binlog file and what was committed when it started");
    }
    if (options.persist !== false) await this.save(config).catch((e: unknown) => this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "binlog server configuration not saved"));
  }

  /** `<dataDir>/server.json`, readable by this user only (it holds the password): temp file, fsync, rename, fsync of the directory. */
  private async save(config: ServerConfig): Promise<void> {
    const tmp = join(this.dataDir, `${CONFIG_FILE}.tmp`);
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(JSON.stringify(config));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dataDir, CONFIG_FILE));
    await fsyncDirectory(this.dataDir);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.config = undefined;
    this.server = undefined;
    await this.listening?.catch(() => undefined);
    await (server ?? this.server)?.close();
    await rm(join(this.dataDir, CONFIG_FILE), { force: true });
  }

  /** The node stops: close the server, keep its configuration for the next start. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.config = undefined;
    await this.listening?.catch(() => undefined);
    await server?.close();
  }

  private listen(): Promise<void> {
    this.listening = this.listenNow().finally(() => {
      this.listening = undefined;
    });
    return this.listening;
  }

  private async listenNow(): Promise<void> {
    const config = this.config;
    const address = config && parseHostPort(config.addr);
    const flavor = this.index.flavor;
    if (!config || !address || !flavor || this.server) return;
    const { serverId, serverUuid } = this.identity();
    const version = this.index.serverVersion;
    const serverVersion = flavor === "mariadb" ? (/^1\d\./.test(version) ? `5.5.5-${version}` : undefined) : version || undefined;
    const server = new BinlogServer(
      {
        ...this.extra,
        flavor,
        serverId,
        serverUuid,
        ...(serverVersion ? { serverVersion } : {}),
        users: { [config.user]: config.password },
        logger: this.log,
      },
      this.feed,
    );
    try {
      await server.listen(address.host, address.port);
    } catch (e) {
      this.log.warn({ addr: config.addr, err: e instanceof Error ? e.message : String(e) }, "binlog server cannot listen");
      await server.close();
      throw e;
    }
    if (this.config !== config) {
      // Stopped while it started.
      await server.close();
      return;
    }
    this.server = server;
    this.log.info({ addr: config.addr, flavor, serverId, version: server.config.serverVersion }, "binlog server serving the committed log");
  }

  /** The cluster's identity toward replicas: the syncer's, as committed in the log. */
  private identity(): { serverId: number; serverUuid: string } {
    const c = this.state().syncer?.config as { syncerId?: unknown; syncerUuid?: unknown } | undefined;
    const serverId = typeof c?.syncerId === "number" && c.syncerId > 0 ? c.syncerId : DEFAULT_SERVER_ID;
    const serverUuid = typeof c?.syncerUuid === "string" && /^[0-9a-f-]{36}$/i.test(c.syncerUuid) ? c.syncerUuid : uuidFor(serverId);
    return { serverId, serverUuid };
  }

  status(): ServerStatus {
    const s = this.state();
    const purged = this.store.purgedGtids();
    const replicas: ReplicaInfo[] = (this.server?.connections() ?? [])
      .filter((c) => c.dumping || c.replica)
      .map((c) => ({
        serverId: c.replica?.serverId ?? c.dumpServerId ?? 0,
        serverUuid: c.replicaUuid ?? "",
        hostName: c.replica?.host || c.remoteAddress,
        port: c.replica?.port ?? 0,
        user: c.user ?? "",
        registered: c.replica !== undefined,
        connectTime: c.connectedAt,
        heartbeatPeriodNs: c.heartbeatPeriodNs,
      }));
    return {
      status: this.config ? "running" : "stopped",
      addr: this.config?.addr ?? "",
      user: this.config?.user ?? "",
      replicas,
      currentGtid: s.lastGtid,
      lastBinlogFile: s.position?.file ?? "",
      lastFilePosition: s.position?.pos ?? 0,
      executedGtidSet: s.executedText(),
      purgedGtidSet: s.flavor === "mariadb" ? purged.mariadb.position().toString() : purged.mysql.toString(),
    };
  }

  /** Listening address once serving (tests). */
  address(): { host: string; port: number } | undefined {
    return this.server?.address();
  }

  private registerMetrics(registry: Registry): void {
    const registers = [registry];
    const g = (name: string, help: string, read: () => number) =>
      new Gauge({
        name: METRIC_PREFIX + name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    g("server_running", "1 when this node's binlog server listens for replicas, else 0.", () => (this.server ? 1 : 0));
    g("server_connections", "Client connections to this node's binlog server.", () => this.server?.connectionCount ?? 0);
    g("server_dumps", "Binlog dumps (replicas and binlog clients) this node's binlog server is running.", () => this.server?.connections().filter((c) => c.dumping).length ?? 0);
    g("server_semisync_replicas_acked", "Connected semi-sync replicas that acknowledged a transaction.", () => this.server?.connections().filter((c) => c.semiSyncAck).length ?? 0);
  }
}

/** A UUID derived from the server id: the same on every pod. */
function uuidFor(serverId: number): string {
  const h = createHash("sha256").update(`kingbus-server-${serverId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
