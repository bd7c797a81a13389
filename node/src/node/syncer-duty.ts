/**
 * The node's side of the syncer: whether it should run here, with which configuration, and what
 * the admin API and /metrics see of it.
 *
 * The configuration lives in the log (a control record), so every node knows it and a new leader
 * starts the syncer by itself. It runs only on a leader that has applied everything committed
 * before its own term (its BinlogState is then the whole truth), and stops the moment that node
 * stops leading. reconcile() decides, from facts, on every leadership change, every applied
 * control record, and a short timer.
 */
import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";
import type { BinlogProgress, SyncerConfig, SyncerStatus } from "../admin/backend.ts";
import { AdminError } from "../admin/index.ts";
import { encodeControl } from "../log-entry/format.ts";
import type { BinlogState, SyncerRecord } from "../log-entry/binlog-state.ts";
import { ProposalDroppedError } from "../raft/index.ts";
import type { LogStore } from "../storage/log-store.ts";
import { Syncer, type SyncerOptions } from "../syncer/syncer.ts";
import type { RaftLoop } from "./raft-loop.ts";
import { METRIC_PREFIX } from "../admin/metrics.ts";

export interface SyncerDutyOptions {
  loop: RaftLoop;
  store: LogStore;
  /** The node's applied binlog state (replaced wholesale after a snapshot). */
  state: () => BinlogState;
  log: Logger;
  registry: Registry;
  syncer?: SyncerOptions;
}

export class SyncerDuty {
  private readonly loop: RaftLoop;
  private readonly store: LogStore;
  private readonly state: () => BinlogState;
  private readonly log: Logger;
  readonly syncer: Syncer;
  /** The record and term the running syncer was started with. */
  private runningWith: { record: SyncerRecord; term: number } | undefined;
  private reconciling: Promise<void> = Promise.resolve();

  constructor(o: SyncerDutyOptions) {
    this.loop = o.loop;
    this.store = o.store;
    this.state = o.state;
    this.log = o.log;
    const state = o.state;
    this.syncer = new Syncer(
      {
        leaderTerm: () => this.leaderTerm(),
        propose: (data, term) => this.loop.propose(data, term),
        // A getter: the node replaces its state wholesale after a snapshot.
        get state() {
          return state();
        },
        log: o.log.child({ component: "syncer" }),
      },
      o.syncer,
    );
    this.registerMetrics(o.registry);
  }

  /** The term this node leads in, once it applied everything committed before it. */
  private leaderTerm(): number | undefined {
    if (!this.loop.isLeader()) return undefined;
    const s = this.loop.node.status();
    return s.term;
  }

  private caughtUp(term: number): boolean {
    const s = this.loop.node.status();
    if (s.commit === 0 || this.loop.applied < s.commit) return false;
    try {
      return this.store.term(s.commit) === term;
    } catch {
      return false;
    }
  }

  /** Starts, restarts or stops the syncer to match the facts; calls are serialised. */
  reconcile(): Promise<void> {
    this.reconciling = this.reconciling.then(() => this.reconcileNow()).catch((e: unknown) => this.log.warn({ err: e instanceof Error ? e.message : String(e) }, "syncer reconcile"));
    return this.reconciling;
  }

  private async reconcileNow(): Promise<void> {
    const term = this.leaderTerm();
    const record = this.state().syncer;
    const want = term !== undefined && record?.running === true && this.caughtUp(term);
    if (!want) {
      // A leader still catching up keeps a syncer it started in this very term (nothing to wait for).
      if (this.syncer.isRunning && !(term !== undefined && this.runningWith?.term === term && record?.running === true && this.runningWith.record === record)) {
        await this.syncer.stop();
        this.runningWith = undefined;
      }
      return;
    }
    if (this.syncer.isRunning && this.runningWith?.record === record && this.runningWith.term === term) return;
    this.runningWith = { record, term };
    this.log.info({ term, primary: record.config.mysqlAddr }, "syncer starting on this leader");
    await this.syncer.start(record.config as unknown as SyncerConfig, term);
  }

  /**
   * Admin: commit the configuration (so later leaders have it) and start. As in the original, a
   * running syncer is not restarted: re-pointing is a stop, then a start with the new source.
   */
  async start(config: SyncerConfig): Promise<void> {
    if (this.state().syncer?.running === true) throw new AdminError("ALREADY_RUNNING", "kingbus: the syncer is running; stop it first to change its configuration");
    await this.commit({ type: "syncer", running: true, config: { ...config } });
    await this.reconcile();
  }

  /** Admin: commit a stop (later leaders stay stopped). */
  async stop(): Promise<void> {
    const current = this.state().syncer;
    await this.commit({ type: "syncer", running: false, config: current?.config ?? {} });
    await this.reconcile();
  }

  private async commit(record: SyncerRecord): Promise<void> {
    if (!this.loop.isLeader()) throw new AdminError("NOT_LEADER", "kingbus: this node is not the leader");
    try {
      await this.loop.propose(encodeControl(record), this.loop.node.status().term);
    } catch (e) {
      if (e instanceof ProposalDroppedError) throw new AdminError("NOT_LEADER", `kingbus: ${e.message}`);
      throw e;
    }
  }

  passwordSet(): boolean {
    const p = this.state().syncer?.config.mysqlPassword;
    return typeof p === "string" && p.length > 0;
  }

  progress(): BinlogProgress {
    const s = this.state();
    const purged = this.store.purgedGtids();
    return {
      currentGtid: s.lastGtid,
      lastBinlogFile: s.position?.file ?? "",
      lastFilePosition: s.position?.pos ?? 0,
      executedGtidSet: s.executedText(),
      purgedGtidSet: s.flavor === "mariadb" ? purged.mariadb.position().toString() : purged.mysql.toString(),
    };
  }

  status(): SyncerStatus {
    const record = this.state().syncer;
    const c = (record?.config ?? {}) as Partial<SyncerConfig>;
    const live = this.syncer.status();
    return {
      ...this.progress(),
      status: this.syncer.isRunning ? "running" : "stopped",
      syncerId: c.syncerId ?? 0,
      syncerUuid: c.syncerUuid ?? "",
      mysqlAddr: c.mysqlAddr ?? "",
      mysqlUser: c.mysqlUser ?? "",
      semiSync: c.semiSync ?? false,
      details: {
        phase: live.phase,
        lastError: live.lastError,
        primaryFlavor: live.primary?.flavor,
        primaryVersion: live.primary?.version,
        secondsBehindPrimary: live.secondsBehindPrimary ?? null,
        lastEventTime: live.lastEventTimestamp ? new Date(live.lastEventTimestamp * 1000).toISOString() : undefined,
        eventsReceived: live.eventsReceived,
        bytesReceived: live.bytesReceived,
        transactionsCommitted: live.transactionsCommitted,
      },
    };
  }

  private registerMetrics(registry: Registry): void {
    const registers = [registry];
    const syncer = this.syncer;
    const state = this.state;
    const g = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name: METRIC_PREFIX + name,
        help,
        registers,
        collect() {
          const v = read();
          if (v === undefined) this.reset();
          else this.set(v);
        },
      });
    g("syncer_running", "1 when this node's syncer is pulling from the primary (only ever on the leader), else 0.", () => (syncer.status().phase === "running" ? 1 : 0));
    g("syncer_seconds_behind_primary", "Seconds between now and the oldest transaction received from the primary and not committed yet (0 when none).", () => syncer.status().secondsBehindPrimary);
    g("syncer_received_events_total", "Events received from the primary by this node's syncer since the process started.", () => syncer.status().eventsReceived);
    g("syncer_received_bytes_total", "Event bytes received from the primary by this node's syncer since the process started.", () => syncer.status().bytesReceived);
    g("syncer_committed_transactions_total", "Transactions this node's syncer proposed that committed, since the process started.", () => syncer.status().transactionsCommitted);
    g("binlog_transactions", "Transactions applied from the log on this node (since its first retained entry).", () => state().transactions);
    g("binlog_last_event_timestamp_seconds", "Primary timestamp of the last transaction applied on this node.", () => state().lastTimestamp || undefined);
  }
}
