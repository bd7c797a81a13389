/**
 * The syncer: on the Raft leader, a replica of the real primary that stores its binlog in the log.
 *
 *   connect ─ check the primary ─ check its history against what is stored ─ dump by GTID
 *     └─ events ─ assembler (CRC, whole transactions, skip what is stored) ─ batcher ─ propose
 *          (fenced by the term the syncer started in) ─ committed ─ semi-sync acks, in order
 *
 * One connection at a time. Before each connection every proposal still in flight has settled,
 * so the connection starts exactly after what is committed (the BinlogState applied on this node).
 * Any failure (network, heartbeat silence, a damaged event, a refused proposal) closes the
 * connection; what was cut off is fetched again by the next one, after a backoff. Losing the
 * leadership stops the syncer at once: its later proposals would be refused by term anyway.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { ChecksumAlgorithm } from "../binlog/checksum.ts";
import { formatMariadbGtid } from "../binlog/gtid-mariadb.ts";
import { parseHostPort } from "../config/addresses.ts";
import { KingbusError } from "../errors.ts";
import type { BinlogState } from "../log-entry/binlog-state.ts";
import { checkPrimary, connectPrimary, type BinlogDumpStream, type ConnectPrimaryOptions, type PrimaryConnection, type PrimaryInfo } from "../mysql/client/index.ts";
import { Backoff } from "../transport/backoff.ts";
import type { SyncerConfig } from "../admin/backend.ts";
import { TransactionAssembler } from "./assembler.ts";
import { EntryBatcher, type Proposal } from "./batcher.ts";
import { encodeBatch, type BatchItem } from "../log-entry/format.ts";

/** The primary cannot continue the stored history: it lacks stored transactions or diverged. */
export class SyncerHistoryError extends KingbusError {
  declare readonly code: "SYNCER_PRIMARY_LACKS_TRANSACTIONS" | "SYNCER_FLAVOR_MISMATCH";
}

export interface SyncerHost {
  /** The term in which this node leads, or undefined when it does not lead. */
  leaderTerm(): number | undefined;
  /** Proposes an entry fenced by `term`; resolves once committed and applied on this node. */
  propose(data: Buffer, term: number): Promise<unknown>;
  /** What the committed log holds, applied on this node (live). */
  readonly state: BinlogState;
  readonly log: Logger;
}

export interface SyncerOptions {
  /** Payload bytes per entry (default 1 MiB); larger transactions are fragmented. */
  maxEntryBytes?: number;
  /** Bytes proposed and not yet committed before the syncer waits (default 8 MiB). */
  maxInFlightBytes?: number;
  /** Event bytes received from the primary and not yet handled before its socket pauses (default 4 MiB). */
  bufferBytes?: number;
  backoff?: { initialMs: number; maxMs: number };
  /** Replaces connectPrimary (tests). */
  connect?: (options: ConnectPrimaryOptions) => Promise<PrimaryConnection>;
  now?: () => number;
}

export type SyncerPhase = "stopped" | "connecting" | "running" | "error";

export interface SyncerLiveStatus {
  phase: SyncerPhase;
  lastError: string | undefined;
  primary: { flavor: string; version: string; serverId: number } | undefined;
  /** Where the primary's stream stands (file and position), from its events and heartbeats. */
  primaryPosition: { file: string; pos: number } | undefined;
  /** Seconds between now and the oldest transaction received but not committed yet; 0 when none; undefined when not connected. */
  secondsBehindPrimary: number | undefined;
  /** Primary timestamp (seconds since 1970) of the newest event received. */
  lastEventTimestamp: number;
  /** When the newest event arrived here (ms since 1970). */
  lastEventAt: number | undefined;
  eventsReceived: number;
  bytesReceived: number;
  transactionsCommitted: number;
  connects: number;
}

interface InFlight {
  readonly proposal: Proposal;
  readonly done: Promise<void>;
}

export class Syncer {
  private readonly host: SyncerHost;
  private readonly maxEntryBytes: number;
  private readonly maxInFlightBytes: number;
  private readonly bufferBytes: number;
  private readonly backoffOptions: { initialMs: number; maxMs: number };
  private readonly connect: (options: ConnectPrimaryOptions) => Promise<PrimaryConnection>;
  private readonly now: () => number;
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private stream: BinlogDumpStream | undefined;
  private inFlight: InFlight[] = [];
  private inFlightBytes = 0;
  private proposalFailure: unknown;
  private assembler: TransactionAssembler | undefined;
  private readonly live: SyncerLiveStatus = {
    phase: "stopped",
    lastError: undefined,
    primary: undefined,
    primaryPosition: undefined,
    secondsBehindPrimary: undefined,
    lastEventTimestamp: 0,
    lastEventAt: undefined,
    eventsReceived: 0,
    bytesReceived: 0,
    transactionsCommitted: 0,
    connects: 0,
  };

  constructor(host: SyncerHost, options: SyncerOptions = {}) {
    this.host = host;
    this.maxEntryBytes = options.maxEntryBytes ?? 1024 * 1024;
    this.maxInFlightBytes = options.maxInFlightBytes ?? 8 * 1024 * 1024;
    this.bufferBytes = options.bufferBytes ?? 4 * 1024 * 1024;
    this.backoffOptions = options.backoff ?? { initialMs: 200, maxMs: 5000 };
    this.connect = options.connect ?? connectPrimary;
    this.now = options.now ?? Date.now;
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  status(): SyncerLiveStatus {
    const a = this.assembler;
    const oldest = this.inFlight[0]?.proposal.timestamp;
    const connected = this.live.phase === "running";
    return {
      ...this.live,
      primaryPosition: a?.primaryPosition ?? this.live.primaryPosition,
      lastEventTimestamp: a?.lastEventTimestamp || this.live.lastEventTimestamp,
      secondsBehindPrimary: !connected ? undefined : oldest === undefined ? 0 : Math.max(0, Math.round(this.now() / 1000 - oldest)),
    };
  }

  /** Starts pulling with this configuration as the leader of `term` (restarting if running). */
  async start(config: SyncerConfig, term: number): Promise<void> {
    await this.stop();
    const abort = new AbortController();
    this.abort = abort;
    this.live.lastError = undefined;
    this.live.phase = "connecting";
    this.running = this.loop(config, term, abort.signal).finally(() => {
      if (this.abort === abort) {
        this.running = undefined;
        this.abort = undefined;
        if (this.live.phase !== "error") this.live.phase = "stopped";
      }
    });
  }

  /** Stops at once: the connection is closed; proposals in flight commit or fail on their own. */
  async stop(): Promise<void> {
    const abort = this.abort;
    const running = this.running;
    if (!abort) return;
    abort.abort();
    void this.stream?.close();
    await running;
    this.abort = undefined;
    this.running = undefined;
    this.live.phase = "stopped";
  }

  private async loop(config: SyncerConfig, term: number, signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(this.backoffOptions);
    const log = this.host.log;
    while (!signal.aborted && this.host.leaderTerm() === term) {
      let conn: PrimaryConnection | undefined;
      try {
        await this.settle();
        if (signal.aborted || this.host.leaderTerm() !== term) return;
        this.live.phase = "connecting";
        conn = await this.connect(connectOptions(config, this.bufferBytes));
        this.live.connects++;
        if (signal.aborted) return;
        const info = checkPrimary(conn.info, { semiSync: config.semiSync });
        this.live.primary = { flavor: info.flavor, version: info.version, serverId: info.serverId };
        checkHistory(this.host.state, info);
        await this.fetchFileTail(conn, config, info, term, signal);
        const state = this.host.state;
        const start = info.flavor === "mariadb" ? { flavor: "mariadb" as const, position: state.mariadb.position() } : { flavor: "mysql" as const, executed: state.mysql };
        const stream = await conn.dump(start);
        this.stream = stream;
        if (signal.aborted) return;
        this.live.phase = "running";
        log.info({ primary: config.mysqlAddr, flavor: info.flavor, from: state.executedText() }, "syncer dumping");
        await this.pump(stream, info, term, signal, config.semiSync);
        backoff.reset();
      } catch (e) {
        if (signal.aborted) return;
        const message = e instanceof Error ? e.message : String(e);
        this.live.lastError = message;
        this.live.phase = "error";
        log.warn({ err: message, code: e instanceof KingbusError ? e.code : undefined }, "syncer connection ended");
      } finally {
        this.stream = undefined;
        if (conn) await conn.close().catch(() => undefined);
      }
      if (signal.aborted || this.host.leaderTerm() !== term) return;
      await sleep(backoff.next(), undefined, { signal }).catch(() => undefined);
    }
  }

  /** Events to proposals until the stream ends or fails. */
  private async pump(stream: BinlogDumpStream, info: PrimaryInfo, term: number, signal: AbortSignal, semiSync: boolean): Promise<void> {
    const assembler = new TransactionAssembler(this.host.state, checksumOf(info));
    this.assembler = assembler;
    const batcher = new EntryBatcher({ maxEntryBytes: this.maxEntryBytes });
    this.proposalFailure = undefined;
    let first = true;
    try {
      for await (const ev of stream) {
        if (signal.aborted) return;
        if (first && semiSync) {
          first = false;
          this.ackStored(stream, info);
        }
        if (this.proposalFailure !== undefined) throw this.proposalFailure;
        this.live.eventsReceived++;
        this.live.bytesReceived += ev.bytes.length;
        this.live.lastEventAt = this.now();
        for (const item of assembler.push(ev.bytes, ev.ackRequested)) {
          for (const p of batcher.add(item)) await this.submit(p, term, stream);
        }
        // Nothing more queued from the primary: propose now rather than wait for company.
        if (stream.bufferedBytes === 0) {
          const p = batcher.flush();
          if (p) await this.submit(p, term, stream);
        }
      }
      if (this.proposalFailure !== undefined) throw this.proposalFailure;
      if (!signal.aborted) throw new KingbusError("SYNCER_STREAM_ENDED", "the primary ended the binlog stream");
    } finally {
      this.live.primaryPosition = assembler.primaryPosition;
      this.live.lastEventTimestamp = assembler.lastEventTimestamp;
      this.assembler = undefined;
    }
  }

  /**
   * The end of a file the primary closed while no dump was running: a GTID dump resumes at the
   * file holding the next transaction, so what the primary wrote after the last stored event of
   * the older file (the STOP of a clean shutdown, the ROTATE of a dump cut just before it) would
   * never reach the log, and the stored file would not be the primary's. A short non-blocking
   * dump by file and position fetches that tail first. Only for files this server wrote.
   */
  private async fetchFileTail(conn: PrimaryConnection, config: SyncerConfig, info: PrimaryInfo, term: number, signal: AbortSignal): Promise<void> {
    const state = this.host.state;
    const at = state.position;
    if (at === undefined || state.writerServerId !== info.serverId) return;
    let files: Array<{ name: string; size: number }>;
    try {
      files = (await conn.query("SHOW BINARY LOGS")).map((r) => ({ name: String(r.Log_name), size: Number(r.File_size) }));
    } catch {
      return; // without BINLOG MONITOR (or REPLICATION CLIENT) the tail cannot be seen; the dump goes on
    }
    const i = files.findIndex((f) => f.name === at.file);
    if (i < 0 || i === files.length - 1 || files[i]!.size <= at.pos) return;
    const tail = await this.connect({ ...connectOptions(config, this.bufferBytes), semiSync: false });
    try {
      const stream = await tail.dump({ flavor: "file", file: at.file, offset: at.pos });
      const assembler = new TransactionAssembler(state, checksumOf(info));
      const items: BatchItem[] = [];
      for await (const ev of stream) {
        if (signal.aborted) return;
        for (const a of assembler.push(ev.bytes)) if (a.item.file === at.file) items.push(a.item);
        if (assembler.primaryPosition !== undefined && assembler.primaryPosition.file !== at.file) break;
      }
      if (items.length === 0) return;
      await this.host.propose(encodeBatch(items), term);
      this.host.log.info({ file: at.file, from: at.pos, events: items.length }, "syncer stored the tail of a file the primary closed meanwhile");
    } finally {
      await tail.close().catch(() => undefined);
    }
  }

  /**
   * A commit may be waiting on the primary for a transaction that is already committed here (the
   * previous leader stored it and lost the connection before acking). The primary sends it to
   * nobody again, so the stored position is acked as soon as the new dump runs: it releases exactly
   * the commits that are durable in kingbus. Only for files this very server wrote: another
   * server's positions mean nothing to it.
   */
  private ackStored(stream: BinlogDumpStream, info: PrimaryInfo): void {
    const state = this.host.state;
    if (state.position && state.writerServerId === info.serverId) stream.ack(state.position.file, state.position.pos);
  }

  private async submit(p: Proposal, term: number, stream: BinlogDumpStream): Promise<void> {
    while (this.inFlight.length > 0 && this.inFlightBytes + p.data.length > this.maxInFlightBytes) await this.inFlight[0]!.done;
    if (this.proposalFailure !== undefined) throw this.proposalFailure;
    this.inFlightBytes += p.data.length;
    const entry: InFlight = {
      proposal: p,
      done: this.host.propose(p.data, term).then(
        () => {
          this.live.transactionsCommitted += p.transactions;
          // Only now may the primary's commit return: a majority of pods hold the transaction.
          for (const a of p.acks) if (!stream.ended) stream.ack(a.file, a.pos);
        },
        (e: unknown) => {
          this.proposalFailure ??= e;
          void stream.close();
        },
      ).finally(() => {
        this.inFlightBytes -= p.data.length;
        const at = this.inFlight.indexOf(entry);
        if (at >= 0) this.inFlight.splice(at, 1);
      }),
    };
    this.inFlight.push(entry);
  }

  /** Waits for every proposal in flight to commit or fail. */
  private async settle(): Promise<void> {
    while (this.inFlight.length > 0) await this.inFlight[0]!.done;
  }
}

/** The algorithm the primary's events carry (checkPrimary admits CRC32 and NONE). */
function checksumOf(info: PrimaryInfo): ChecksumAlgorithm {
  return info.binlogChecksum === "CRC32" ? ChecksumAlgorithm.CRC32 : ChecksumAlgorithm.OFF;
}

function connectOptions(c: SyncerConfig, highWaterBytes: number): ConnectPrimaryOptions {
  const addr = parseHostPort(c.mysqlAddr);
  if (!addr) throw new KingbusError("SYNCER_BAD_CONFIG", `mysql_addr ${JSON.stringify(c.mysqlAddr)} is not host:port`);
  return {
    host: addr.host,
    port: addr.port,
    user: c.mysqlUser,
    password: c.mysqlPassword,
    serverId: c.syncerId,
    serverUuid: c.syncerUuid,
    heartbeatPeriodMs: c.heartbeatPeriodMs,
    semiSync: c.semiSync,
    highWaterBytes,
    tls: c.tls ? { ca: c.tls.ca, cert: c.tls.cert, key: c.tls.key, rejectUnauthorized: c.tls.verifyServerCert } : false,
  };
}

/**
 * The primary must hold everything stored: otherwise continuing from it would leave a gap or a
 * fork in the stored history. Names the GTIDs that make it impossible.
 */
export function checkHistory(state: BinlogState, info: PrimaryInfo): void {
  if (state.flavor !== undefined && state.flavor !== info.flavor) {
    throw new SyncerHistoryError("SYNCER_FLAVOR_MISMATCH", `the log holds a ${state.flavor} binlog; the primary is ${info.flavor} (${info.version})`);
  }
  if (info.flavor === "mariadb") {
    const missing: string[] = [];
    for (const stored of state.mariadb.position()) {
      const primary = info.gtidBinlogPos.get(stored.domain);
      if (primary === undefined || primary.seq < stored.seq) missing.push(`${formatMariadbGtid(stored)} (primary at ${primary ? formatMariadbGtid(primary) : "nothing in domain " + stored.domain})`);
    }
    if (missing.length > 0) throw new SyncerHistoryError("SYNCER_PRIMARY_LACKS_TRANSACTIONS", `the primary lacks stored transactions: ${missing.join(", ")}`);
    return;
  }
  const missing = state.mysql.subtract(info.executed);
  if (!missing.isEmpty()) throw new SyncerHistoryError("SYNCER_PRIMARY_LACKS_TRANSACTIONS", `the primary lacks stored transactions: ${missing.toString()}`);
  const purgedUnstored = info.purged.subtract(state.mysql);
  if (!purgedUnstored.isEmpty()) throw new SyncerHistoryError("SYNCER_PRIMARY_LACKS_TRANSACTIONS", `the primary purged transactions the log does not hold: ${purgedUnstored.toString()}`);
}
