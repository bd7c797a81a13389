/**
 * A dump session: what a primary sends after COM_BINLOG_DUMP (0x12) or COM_BINLOG_DUMP_GTID
 * (0x1e), reproduced from MariaDB 10.11's sql_repl.cc (mysql_binlog_send) and MySQL 8's
 * rpl_binlog_sender.cc (Binlog_sender). Every packet is `0x00 + event`; the events are the stored
 * bytes untouched except the FORMAT_DESCRIPTION event (IN_USE flag cleared; `created` and log_pos
 * zeroed where the primary zeroes them, CRC recomputed), and the artificial events a primary
 * synthesises:
 *
 *  - at the start of every file: a fake ROTATE (timestamp 0, log_pos 0, ARTIFICIAL, our server id,
 *    `u64 position` + file name), then the file's FDE;
 *  - MySQL: transactions the replica's GTID set holds are skipped (from a skipped GTID event up to
 *    the next GTID event or ROTATE), and a skipped run is replaced by one HEARTBEAT at its end
 *    position, sent before the next event sent or when the stream catches up;
 *  - MariaDB: event groups up to the replica's position in each domain are skipped; when a
 *    domain's position is reached, a fake GTID_LIST (ARTIFICIAL, log_pos = current position) of
 *    the GTIDs seen so far follows the group;
 *  - when the stream has caught up and nothing new arrives for @master_heartbeat_period: a
 *    HEARTBEAT (v2 when a MySQL replica asked for it) naming the current file and position;
 *  - in non-blocking mode (flag 0x01, or server_id 0 as mysqlbinlog sends) an EOF at the end.
 *
 * A dump ends with EOF or ERR; the connection is then closed, as a real primary does after
 * COM_BINLOG_DUMP. Errors a replica understands are ERR 1236 with the primary's own messages: a
 * replica's IO thread stops for good on 1236, so it is kept for what asking again cannot change.
 * What may be different on the next connection (this pod still catching up, a session that lacks
 * the replica's settings) ends with ERR 1105 instead, on which a replica reconnects. (A MariaDB
 * replica's client library reconnects by itself when a command cannot be sent because the
 * server went away, and sends it again on a new session without the @variables the replica set
 * on the old one; the replica sets them again only after an error it sees.)
 */
import { ByteReader } from "../../binlog/bytes.ts";
import { buildEvent } from "../../binlog/build.ts";
import { ChecksumAlgorithm, computeEventChecksum, CHECKSUM_LENGTH } from "../../binlog/checksum.ts";
import { decodeEvent, type BinlogEvent } from "../../binlog/codec.ts";
import { EventFlag, EventType } from "../../binlog/event-type.ts";
import { buildHeartbeatV2 } from "../../binlog/events/heartbeat.ts";
import { fdeBodyHasChecksumFields, formatFromDescription } from "../../binlog/events/format-description.ts";
import { defaultFormat, type BinlogFormat } from "../../binlog/format.ts";
import { formatMariadbGtid, MariadbGtidPosition, MariadbGtidState, type MariadbGtid } from "../../binlog/gtid-mariadb.ts";
import { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";
import { EVENT_HEADER_LENGTH } from "../../binlog/header.ts";
import { gtidOfEvent, TransactionBoundaryParser } from "../../binlog/transactions.ts";
import { KingbusError } from "../../errors.ts";
import { encodeEnd, encodeErr, type Cell } from "../wire/messages.ts";
import { ServerErrorKind, WireError, type ServerErrorKind as ErrorKind } from "../wire/errors.ts";
import type { PacketSocket } from "../wire/packet-socket.ts";
import type { ResolvedServerConfig } from "./config.ts";
import { FeedError, type BinlogFeed, type FeedEvent, type FeedFile, type FeedGtidState, type FeedItem, type FeedPosition, type FeedSeek } from "./feed.ts";

/** COM_BINLOG_DUMP / COM_BINLOG_DUMP_GTID flags. */
export const DumpFlag = {
  NON_BLOCK: 0x01,
  /** COM_BINLOG_DUMP, MariaDB: send ANNOTATE_ROWS events. */
  SEND_ANNOTATE_ROWS: 0x02,
  /** COM_BINLOG_DUMP_GTID, MySQL 8: HEARTBEAT_V2 instead of HEARTBEAT. */
  HEARTBEAT_V2: 0x02,
} as const;

/** @mariadb_slave_capability levels (MARIA_SLAVE_CAPABILITY_*). */
export const MariadbCapability = { UNKNOWN: 0, ANNOTATE: 1, TOLERATE_HOLES: 2, BINLOG_CHECKPOINT: 3, GTID: 4 } as const;

/** Header flag LOG_EVENT_SKIP_REPLICATION_F (MariaDB @@skip_replication). */
const SKIP_REPLICATION_FLAG = 0x8000;
const BIN_LOG_HEADER_SIZE = 4;
/** Offset of `created` in an FDE: header, u16 binlog_version, char[50] server_version. */
const FDE_CREATED_OFFSET = EVENT_HEADER_LENGTH + 2 + 50;
const LOG_POS_OFFSET = 13;
const FLAGS_OFFSET = 17;

export interface DumpRequest {
  command: "binlogDump" | "binlogDumpGtid";
  flags: number;
  /** The replica's server_id; 0 means "do not wait at the end" (mysqlbinlog). */
  serverId: number;
  file: string;
  position: number;
  /** COM_BINLOG_DUMP_GTID: the replica's executed GTID set. */
  gtids?: MysqlGtidSet;
}

/** COM_BINLOG_DUMP: `0x12, u32 position, u16 flags, u32 server_id, file name`. */
export function parseBinlogDump(payload: Buffer): DumpRequest {
  const r = new ByteReader(payload, 1);
  const position = r.u32("binlog position");
  const flags = r.u16("flags");
  const serverId = r.u32("server id");
  return { command: "binlogDump", flags, serverId, file: r.rest().toString("utf8"), position };
}

/**
 * COM_BINLOG_DUMP_GTID: `0x1e, u16 flags, u32 server_id, u32 name_len, name, u64 position,
 * u32 data_len, data` where data is the binary GTID set.
 */
export function parseBinlogDumpGtid(payload: Buffer): DumpRequest {
  const r = new ByteReader(payload, 1);
  const flags = r.u16("flags");
  const serverId = r.u32("server id");
  const file = r.take(r.u32("file name length"), "file name").toString("utf8");
  const position = r.u64("binlog position");
  let gtids = MysqlGtidSet.empty();
  if (r.remaining >= 4) {
    const data = r.take(r.u32("GTID data length"), "GTID data");
    if (data.length > 0) gtids = MysqlGtidSet.decode(data);
  }
  if (position > BigInt(Number.MAX_SAFE_INTEGER)) throw new DumpError(`position ${position} is out of range`);
  return { command: "binlogDumpGtid", flags, serverId, file, position: Number(position), gtids };
}

/**
 * Ends a dump with an ERR packet: 1236 unless told otherwise, or 1105 for a `transient` refusal
 * (the replica reconnects and asks again, where 1236 would stop its IO thread for good).
 */
export class DumpError extends KingbusError {
  readonly kind: ErrorKind;
  /** The replica holds transactions this server does not (yet): another server may be further ahead. */
  readonly replicaAhead: boolean;
  /** Asking again may succeed: not 1236. */
  readonly transient: boolean;

  constructor(message: string, options?: { kind?: ErrorKind; cause?: unknown; replicaAhead?: boolean; transient?: boolean }) {
    super("DUMP_REFUSED", message, options);
    this.transient = options?.transient ?? false;
    this.kind = options?.kind ?? (this.transient ? ServerErrorKind.UNKNOWN_ERROR : ServerErrorKind.MASTER_FATAL_ERROR_READING_BINLOG);
    this.replicaAhead = options?.replicaAhead ?? false;
  }
}

export interface DumpContext {
  readonly config: ResolvedServerConfig;
  readonly feed: BinlogFeed;
  readonly socket: PacketSocket;
  /** The client's capability flags (for the EOF form). */
  readonly capabilities: number;
  readonly userVars: ReadonlyMap<string, Cell>;
  readonly sessionVars: ReadonlyMap<string, Cell>;
  /** Aborts when the connection closes or the server stops. */
  readonly signal: AbortSignal;
  /** A semi-sync replica acknowledged everything up to this position. */
  readonly onAck?: (file: string, position: number) => void;
}

function cellString(value: Cell | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}

function cellInteger(value: Cell | undefined): bigint | undefined {
  const text = cellString(value)?.trim();
  if (text === undefined) return undefined;
  const m = /^-?\d+/.exec(text);
  return m ? BigInt(m[0]) : 0n;
}

/** @master_binlog_checksum as the primary reads it: undefined when unset. */
function checksumFromName(name: string | undefined): number {
  if (name === undefined) return ChecksumAlgorithm.UNDEF;
  const upper = name.toUpperCase();
  if (upper === "CRC32") return ChecksumAlgorithm.CRC32;
  if (upper === "NONE") return ChecksumAlgorithm.OFF;
  return ChecksumAlgorithm.UNDEF;
}

function checksumOn(alg: number): boolean {
  return alg === ChecksumAlgorithm.CRC32;
}

/** Runs a dump to its end: the stream, then EOF or ERR. Never throws for what the replica caused. */
export async function runBinlogDump(request: DumpRequest, ctx: DumpContext): Promise<void> {
  const session = new DumpSession(request, ctx);
  try {
    await session.run();
    await ctx.socket.write(encodeEnd(ctx.capabilities));
  } catch (error) {
    if (error instanceof WireError || ctx.signal.aborted) return;
    if (error instanceof FeedError && error.code === "FEED_UNAVAILABLE") {
      // Transient (the log was replaced under the dump, e.g. by a snapshot): the connection ends
      // without an error, so the replica reconnects and starts again from what it has.
      ctx.config.logger.info({ replicaServerId: request.serverId, reason: error.message }, "dump ended: the replica will reconnect");
      return;
    }
    let kind: ErrorKind = ServerErrorKind.MASTER_FATAL_ERROR_READING_BINLOG;
    let message: string;
    if (error instanceof DumpError) {
      kind = error.kind;
      message = error.message;
    } else if (error instanceof FeedError) {
      message = session.withCoordinates(error.message);
    } else {
      message = `kingbus could not read the binlog: ${(error as Error).message}`;
      ctx.config.logger.warn({ err: error }, "dump session failed");
    }
    const transient = error instanceof DumpError && error.transient;
    ctx.config.logger.info({ replicaServerId: request.serverId, errno: kind.errno, message }, transient ? "dump refused for now: the replica will reconnect" : "dump refused");
    await ctx.socket.write(encodeErr(kind, message)).catch(() => undefined);
  }
}

interface SlaveDomainEntry {
  gtid: MariadbGtid;
  /** The domain is not in our binlog: check again if it ever appears (START_ON_EMPTY_DOMAIN). */
  emptyDomain: boolean;
}

class DumpSession {
  private readonly request: DumpRequest;
  private readonly ctx: DumpContext;
  private readonly config: ResolvedServerConfig;
  private readonly flavor: "mysql" | "mariadb";
  private readonly nonBlocking: boolean;
  private readonly heartbeatMs: number;
  /** The replica asked for semi-sync (@rpl_semi_sync_slave): every event packet carries the header. */
  private readonly semiSync: boolean;
  /** The stream has caught up once: transactions from now on are ones a semi-sync primary would wait for. */
  private live = false;
  /** The replica's @master_binlog_checksum as an algorithm (UNDEF when unset). */
  private readonly slaveChecksum: number;
  private readonly slaveChecksumAware: boolean;
  /** Checksum algorithm of the events being sent (the fake rotate before the first FDE uses the replica's). */
  private checksumAlg: number;
  private format: BinlogFormat = defaultFormat();

  private startFile = "";
  private startPosition = BIN_LOG_HEADER_SIZE;
  private currentFile = "";
  /** End of the last event read from the current file. */
  private position = BIN_LOG_HEADER_SIZE;
  private lastEventStart = BIN_LOG_HEADER_SIZE;
  private firstFile = true;

  // MySQL GTID protocol
  private exclude: MysqlGtidSet | undefined;
  private inExcludeGroup = false;
  private excludeGroupEnd = 0;
  /** The FDE of the start file, held until its first GTID says whether `created` is cleared. */
  private heldFde: FeedEvent | undefined;
  private held: FeedEvent[] = [];

  // MariaDB GTID mode
  private mariadbGtidMode = false;
  private slaveState = new Map<number, SlaveDomainEntry>();
  private strictMode = false;
  private ignoreDuplicates = false;
  private capability: number = MariadbCapability.UNKNOWN;
  private skipReplication = false;
  /** GTIDs seen in this dump (until_binlog_state): the content of fake GTID_LIST events. */
  private seen = MariadbGtidState.empty();
  private skipping: TransactionBoundaryParser | undefined;
  private sendFakeGtidList = false;
  private feedState: FeedGtidState | undefined;
  /** Where the feed was asked to seek to in the start file (undefined: no seek). */
  private seekTo: number | undefined;
  /** Transactions were left out by the seek before the first event that follows them. */
  private sought = false;
  /** MySQL: end of the last event dispatched in the current file (a gap after it was skipped by the feed). */
  private dispatchedEnd: number | undefined;

  constructor(request: DumpRequest, ctx: DumpContext) {
    this.request = request;
    this.ctx = ctx;
    this.config = ctx.config;
    this.flavor = ctx.config.flavor;
    this.nonBlocking = (request.flags & DumpFlag.NON_BLOCK) !== 0 || request.serverId === 0;
    const vars = ctx.userVars;
    const checksumVar = this.flavor === "mysql" ? (vars.get("source_binlog_checksum") ?? vars.get("master_binlog_checksum")) : vars.get("master_binlog_checksum");
    this.slaveChecksumAware = vars.has("master_binlog_checksum") || (this.flavor === "mysql" && vars.has("source_binlog_checksum"));
    this.slaveChecksum = checksumFromName(cellString(checksumVar));
    this.checksumAlg = this.slaveChecksum;
    const periodVar = this.flavor === "mysql" ? (vars.get("source_heartbeat_period") ?? vars.get("master_heartbeat_period")) : vars.get("master_heartbeat_period");
    const periodNs = cellInteger(periodVar);
    this.heartbeatMs = periodNs === undefined ? this.config.defaultHeartbeatMs : Math.max(0, Number(periodNs / 1_000_000n));
    this.skipReplication = Number(cellInteger(ctx.sessionVars.get("skip_replication")) ?? 0n) !== 0;
    this.semiSync = Number(cellInteger(vars.get("rpl_semi_sync_slave") ?? vars.get("rpl_semi_sync_replica")) ?? 0n) !== 0;
  }

  /** MariaDB and MySQL add where reading stopped to errors about the binlog. */
  withCoordinates(message: string): string {
    if (this.startFile === "") return message;
    return (
      `${message}; the first event '${this.startFile}' at ${this.startPosition}, ` +
      `the last event read from '${this.currentFile || this.startFile}' at ${this.lastEventStart}, ` +
      `the last byte read from '${this.currentFile || this.startFile}' at ${this.position}.`
    );
  }

  async run(): Promise<void> {
    const start = await this.findStart();
    this.startFile = start.file;
    this.startPosition = start.position;
    this.currentFile = start.file;
    this.position = start.position;
    this.lastEventStart = start.position;
    this.config.logger.info(
      { replicaServerId: this.request.serverId, file: start.file, position: start.position, nonBlocking: this.nonBlocking },
      "binlog dump starts",
    );
    if (this.semiSync) void this.readAcks();
    await this.sendEvent(this.fakeRotate(start.file, start.position));
    await this.stream(start);
  }

  // -------------------------------------------------------------------------------------------
  // Where to start

  /**
   * Where the dump starts. A replica that holds transactions this server lacks may have come from
   * a server further ahead (another kingbus pod): once this one holds everything committed when
   * it asks (`feed.settle`), it is asked again before it is refused.
   */
  private async findStart(): Promise<FeedPosition> {
    try {
      return await this.findStartOnce();
    } catch (error) {
      if (!(error instanceof DumpError) || !error.replicaAhead || !this.ctx.feed.settle) throw error;
      if (!(await this.ctx.feed.settle(this.ctx.signal))) {
        // Still applying what the cluster committed: the replica may only be ahead of this pod for now.
        throw new DumpError(`${error.message} (this kingbus pod is still applying what the cluster committed: ask again)`, { transient: true, cause: error });
      }
      this.feedState = undefined;
      this.slaveState.clear();
      return this.findStartOnce();
    }
  }

  private async findStartOnce(): Promise<FeedPosition> {
    const { request, flavor } = this;
    const files = await this.ctx.feed.files();
    if (request.command === "binlogDumpGtid") {
      if (flavor !== "mysql") throw new DumpError("Unknown command", { kind: ServerErrorKind.UNKNOWN_COM });
      return this.findMysqlGtidStart(files, request.gtids ?? MysqlGtidSet.empty());
    }
    const connectState = cellString(this.ctx.userVars.get("slave_connect_state"));
    if (flavor === "mariadb") {
      const announced = this.ctx.userVars.get("mariadb_slave_capability");
      if (announced === undefined || announced === null) {
        // Every MariaDB replica (and mariadb-binlog) announces its capability before it dumps. A
        // session without it is one the replica's client library opened by itself to send this
        // command again after the connection it set up broke (a pod that stopped or restarted):
        // the replica must set up a session again, so it gets an error it reconnects on.
        throw new DumpError(
          "kingbus serves MariaDB binlogs only to replicas that announce GTID support (@mariadb_slave_capability=4) on the connection that " +
            "dumps; this connection announced nothing (a client that reconnected by itself loses its session's settings): reconnect, announce it and dump again",
          { transient: true },
        );
      }
      this.capability = Number(cellInteger(announced) ?? 0n);
      if (this.capability < MariadbCapability.GTID) {
        throw new DumpError(
          `kingbus serves MariaDB binlogs only to replicas that understand GTIDs (@mariadb_slave_capability=4); this one announced ${this.capability}`,
        );
      }
      if (connectState !== undefined) return this.findMariadbGtidStart(files, connectState);
    }
    return this.findFilePositionStart(files, request.file, request.position);
  }

  private findFilePositionStart(files: readonly FeedFile[], name: string, position: number): FeedPosition {
    const file = name === "" ? files[0] : files.find((f) => f.name === name);
    if (!file) {
      throw new DumpError("Could not find first log file name in binary log index file", { replicaAhead: name !== "" });
    }
    if (position < BIN_LOG_HEADER_SIZE || position > file.size) {
      const what = this.flavor === "mysql"
        ? `Client requested source to start replication from position ${position < BIN_LOG_HEADER_SIZE ? "< 4" : "> file size"}`
        : "Client requested master to start replication from impossible position";
      throw new DumpError(`${what}; the first event '${file.name}' at ${position}, the last event read from '${file.name}' at 4, the last byte read from '${file.name}' at 4.`, {
        replicaAhead: position > file.size,
      });
    }
    return { file: file.name, position };
  }

  private async findMysqlGtidStart(files: readonly FeedFile[], replica: MysqlGtidSet): Promise<FeedPosition> {
    const state = await this.feedGtidState();
    if (state.flavor !== "mysql") throw new DumpError("the binlog is not a MySQL binlog");
    this.exclude = replica;
    // The replica must not hold GTIDs of a source we store that we do not have (MySQL checks its
    // own server_uuid; the sources whose transactions we store play that role here).
    const ourSources = new Set([...state.executed].map((s) => `${s.uuid}:${s.tag}`));
    const extra = [...replica.subtract(state.executed)].filter((s) => ourSources.has(`${s.uuid}:${s.tag}`)).map(formatSource);
    if (extra.length > 0) {
      throw new DumpError(
        "Replica has more GTIDs than the source has, using the source's SERVER_UUID. This may indicate that the end of the binary log " +
          "was truncated or that the last binary log file was lost, e.g., after a power or disk failure when sync_binlog != 1. " +
          `The replica has '${extra.join(",")}', which kingbus never stored.`,
        { replicaAhead: true },
      );
    }
    if (!replica.contains(state.purged)) {
      throw new DumpError(
        "Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere, or provision " +
          "a new replica from backup. Consider increasing the source's binary log expiration period. " +
          `The GTID set sent by the replica is '${replica.toString()}', and the missing transactions are '${state.purged.subtract(replica).toString()}'.`,
      );
    }
    if (this.request.file !== "") {
      return this.findFilePositionStart(files, this.request.file, this.request.position);
    }
    for (let i = files.length - 1; i >= 0; i--) {
      const previous = files[i]!.previousGtids ?? MysqlGtidSet.empty();
      if (replica.contains(previous)) return this.seek({ flavor: "mysql", file: files[i]!.name, replica });
    }
    throw new DumpError(
      "Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere, or provision a " +
        "new replica from backup. Consider increasing the source's binary log expiration period. To find the missing transactions, see the " +
        "source's error log or the manual for GTID_SUBTRACT.",
    );
  }

  private async findMariadbGtidStart(files: readonly FeedFile[], connectState: string): Promise<FeedPosition> {
    let position: MariadbGtidPosition;
    try {
      position = MariadbGtidPosition.parse(connectState);
    } catch (cause) {
      throw new DumpError("Out of memory or malformed slave request when obtaining start position from GTID state", {
        kind: ServerErrorKind.UNKNOWN_ERROR,
        cause,
      });
    }
    if (this.ctx.userVars.has("slave_until_gtid") && this.ctx.userVars.get("slave_until_gtid") !== null) {
      throw new DumpError("kingbus does not support START SLAVE UNTIL master_gtid_pos");
    }
    this.mariadbGtidMode = true;
    this.strictMode = Number(cellInteger(this.ctx.userVars.get("slave_gtid_strict_mode")) ?? 0n) !== 0;
    this.ignoreDuplicates = Number(cellInteger(this.ctx.userVars.get("slave_gtid_ignore_duplicates")) ?? 0n) !== 0;
    const state = await this.feedGtidState();
    if (state.flavor !== "mariadb") throw new DumpError("the binlog is not a MariaDB binlog");
    const binlog = state.binlogState;
    // check_slave_start_position
    for (const gtid of position) {
      const entry: SlaveDomainEntry = { gtid, emptyDomain: false };
      const ours = binlog.get(gtid.domain, gtid.serverId);
      if (ours && ours.seq >= gtid.seq) {
        this.slaveState.set(gtid.domain, entry);
        continue;
      }
      const domainLast = binlog.last(gtid.domain);
      if (!domainLast) {
        // Nothing of this domain here: served by another primary, perhaps. Re-check if it shows up.
        entry.emptyDomain = true;
        this.slaveState.set(gtid.domain, entry);
        continue;
      }
      if (this.ignoreDuplicates && domainLast.seq < gtid.seq) {
        this.slaveState.set(gtid.domain, entry);
        continue;
      }
      throw this.missingGtidError(gtid, binlog);
    }
    // gtid_find_binlog_file: the newest file whose GTID_LIST the replica's position covers.
    for (let i = files.length - 1; i >= 0; i--) {
      const list = files[i]!.gtidList;
      if (list !== undefined && !this.containsAllSlaveGtids(list)) continue;
      for (const item of list ?? []) {
        const entry = this.slaveState.get(item.domain);
        // Starting at the very beginning of this domain in this file: nothing to skip there.
        if (entry && entry.gtid.serverId === item.serverId && entry.gtid.seq === item.seq) this.slaveState.delete(item.domain);
      }
      const reach = new Map<number, MariadbGtid>();
      for (const [domain, entry] of this.slaveState) if (!entry.emptyDomain) reach.set(domain, entry.gtid);
      return this.seek({ flavor: "mariadb", file: files[i]!.name, replica: reach });
    }
    throw new DumpError(
      "Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.",
    );
  }

  /**
   * The start of a GTID dump in `file`: its beginning, or, when the feed can tell through its
   * indexes, the first transaction the replica may need (the file's header events and its events
   * outside transactions before it still come first; the dump behaves as if it had read and
   * skipped what lies between).
   */
  private async seek(seek: FeedSeek): Promise<FeedPosition> {
    const seekTo = await this.ctx.feed.seekStart?.(seek);
    if (seekTo === undefined || seekTo <= BIN_LOG_HEADER_SIZE) return { file: seek.file, position: BIN_LOG_HEADER_SIZE };
    this.seekTo = seekTo;
    return { file: seek.file, position: BIN_LOG_HEADER_SIZE, seekTo };
  }

  /** contains_all_slave_gtid() of sql_repl.cc. */
  private containsAllSlaveGtids(list: readonly MariadbGtid[]): boolean {
    for (let i = 0; i < list.length; i++) {
      const item = list[i]!;
      const entry = this.slaveState.get(item.domain);
      if (!entry) return false;
      if (entry.gtid.serverId === item.serverId && entry.gtid.seq <= item.seq) {
        if (entry.gtid.seq < item.seq) return false;
        if (i + 1 < list.length && list[i + 1]!.domain === item.domain) return false;
      }
    }
    return true;
  }

  private missingGtidError(gtid: MariadbGtid, binlog: MariadbGtidState): DumpError {
    const domainLast = binlog.last(gtid.domain);
    const text = formatMariadbGtid(gtid);
    if (domainLast && domainLast.seq >= gtid.seq) {
      return new DumpError(
        `Error: connecting slave requested to start from GTID ${text}, which is not in the master's binlog. Since the master's binlog ` +
          "contains GTIDs with higher sequence numbers, it probably means that the slave has diverged due to executing extra erroneous transactions",
      );
    }
    return new DumpError(`Error: connecting slave requested to start from GTID ${text}, which is not in the master's binlog`, { replicaAhead: true });
  }

  private async feedGtidState(): Promise<FeedGtidState> {
    this.feedState ??= await this.ctx.feed.gtidState();
    return this.feedState;
  }

  // -------------------------------------------------------------------------------------------
  // The stream

  private async stream(start: FeedPosition): Promise<void> {
    const aborter = new AbortController();
    const onAbort = (): void => aborter.abort();
    this.ctx.signal.addEventListener("abort", onAbort, { once: true });
    const iterator = this.ctx.feed.read(start, aborter.signal)[Symbol.asyncIterator]();
    try {
      let idle = false;
      while (!this.ctx.signal.aborted) {
        const pending = iterator.next();
        let result: IteratorResult<FeedItem>;
        if (idle && this.heartbeatMs > 0) {
          // Caught up: a heartbeat for every period without news.
          while (true) {
            const raced = await raceTimeout(pending, this.heartbeatMs);
            if (raced !== TIMEOUT) {
              result = raced;
              break;
            }
            await this.sendEvent(this.heartbeat(this.position));
          }
        } else {
          result = await pending;
        }
        if (result.done) return;
        const item = result.value;
        if (item.kind === "caughtUp") {
          await this.caughtUp(item.position);
          if (this.nonBlocking) return;
          idle = true;
          continue;
        }
        idle = false;
        if (item.kind === "events") {
          for (const e of item.events) {
            const written = this.fastEvent(e);
            if (written === false) await this.event(e);
            else if (written !== undefined) await written;
          }
          continue;
        }
        const written = this.fastEvent(item);
        if (written === false) await this.event(item);
        else if (written !== undefined) await written;
      }
    } finally {
      this.ctx.signal.removeEventListener("abort", onAbort);
      aborter.abort();
      void Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
  }

  /** A semi-sync replica's acks: `0xEF, u64 position, file name`, each a packet of its own. */
  private async readAcks(): Promise<void> {
    try {
      while (!this.ctx.signal.aborted) {
        const ack = await this.ctx.socket.readUnsequenced();
        if (ack.length < 9 || ack[0] !== SEMI_SYNC_MAGIC) {
          this.config.logger.warn({ replicaServerId: this.request.serverId, length: ack.length }, "not a semi-sync ack: ignored");
          continue;
        }
        const position = ack.readBigUInt64LE(1);
        this.ctx.onAck?.(ack.subarray(9).toString("utf8"), Number(position));
      }
    } catch {
      // The connection ended.
    }
  }

  private async caughtUp(position: number): Promise<void> {
    this.live = true;
    // A seek that left out the rest of the start file: as if its transactions had been skipped.
    const sought = this.seekTo !== undefined && this.firstFile && position > this.position;
    if (sought) this.sought = true;
    await this.releaseHeld();
    this.position = position;
    if (sought && this.exclude) {
      this.excludeGroupEnd = position;
      this.dispatchedEnd = position;
    }
    if (this.excludeGroupEnd) {
      // MySQL: "a heartbeat is needed before waiting for more events, if some events are skipped".
      // (MySQL also leaves the skipped group here, its batches ending between transactions; the
      // run stays open here, so a feed that caught up inside a transaction cannot leak its tail.)
      await this.sendEvent(this.heartbeat(position));
      this.excludeGroupEnd = 0;
    }
  }

  /**
   * The common case without a promise: the next event of the current file that needs no decision
   * (nothing held, skipped or to be synthesised around it) goes out at once. Answers false when
   * event() must handle it, else the write to wait for (undefined: none).
   */
  private fastEvent(item: FeedEvent): Promise<void> | undefined | false {
    if (item.file !== this.currentFile || item.offset !== this.position || this.heldFde || this.semiSync) return false;
    const type = item.bytes[4]!;
    if (type === EventType.FORMAT_DESCRIPTION) return false;
    if (this.flavor === "mysql") {
      if (this.exclude && (this.inExcludeGroup || this.excludeGroupEnd !== 0 || type === EventType.GTID || type === EventType.GTID_TAGGED || type === EventType.ANONYMOUS_GTID || type === EventType.ROTATE)) return false;
      this.dispatchedEnd = item.offset + item.bytes.length;
    } else {
      if (this.skipping || this.sendFakeGtidList || this.skipReplication) return false;
      if (type === EventType.MARIADB_GTID && this.mariadbGtidMode && this.slaveState.size > 0) return false;
      if (type === EventType.MARIADB_ANNOTATE_ROWS && !(this.request.flags & DumpFlag.SEND_ANNOTATE_ROWS)) return false;
    }
    this.lastEventStart = item.offset;
    this.position = item.offset + item.bytes.length;
    return this.ctx.socket.writePartsNow([EVENT_PACKET_PREFIX, item.bytes], item.transient !== true);
  }

  private async event(item: FeedEvent): Promise<void> {
    if (item.file !== this.currentFile) {
      await this.releaseHeld();
      if (this.excludeGroupEnd) {
        // MySQL: a file that ends inside a skipped run (no ROTATE) ends with a heartbeat.
        await this.sendEvent(this.heartbeat(this.excludeGroupEnd));
      }
      // The next file: fake rotate first (with the previous file's checksum setting, as a primary does).
      this.currentFile = item.file;
      this.firstFile = false;
      this.dispatchedEnd = undefined;
      this.inExcludeGroup = false;
      this.excludeGroupEnd = 0;
      await this.sendEvent(this.fakeRotate(item.file, BIN_LOG_HEADER_SIZE));
    }
    if (this.seekTo !== undefined && this.firstFile && item.offset > this.position) this.sought = true;
    this.lastEventStart = item.offset;
    this.position = item.offset + item.bytes.length;
    const type = item.bytes[4]!;
    if (type === EventType.FORMAT_DESCRIPTION && item.offset === BIN_LOG_HEADER_SIZE) {
      this.dispatchedEnd = this.position;
      await this.formatDescription(item);
      return;
    }
    if (this.heldFde) {
      // Held past the next read: a transient event is a view of a buffer the feed reads into again.
      this.held.push(item.transient === true ? { ...item, bytes: Buffer.from(item.bytes), transient: false } : item);
      if (type === EventType.GTID || type === EventType.GTID_TAGGED || type === EventType.ANONYMOUS_GTID) await this.releaseHeld();
      return;
    }
    await this.dispatch(item);
  }

  private async dispatch(item: FeedEvent): Promise<void> {
    if (this.flavor === "mysql") await this.mysqlEvent(item);
    else await this.mariadbEvent(item);
  }

  private async formatDescription(item: FeedEvent): Promise<void> {
    const bytes = Buffer.from(item.bytes);
    const body = bytes.subarray(EVENT_HEADER_LENGTH);
    const hasChecksumFields = fdeBodyHasChecksumFields(body);
    const alg = hasChecksumFields ? bytes[bytes.length - CHECKSUM_LENGTH - 1]! : ChecksumAlgorithm.UNDEF;
    this.checksumAlg = alg;
    try {
      const fde = decodeEvent(item.bytes, defaultFormat());
      if (fde.body.kind === "formatDescription") this.format = formatFromDescription(fde.body);
    } catch (cause) {
      throw new FeedError("FEED_DAMAGED", `the format description event of ${item.file} does not decode: ${(cause as Error).message}`, { cause });
    }
    const refuses = this.flavor === "mariadb" ? !this.slaveChecksumAware : this.slaveChecksum === ChecksumAlgorithm.UNDEF;
    if (refuses && checksumOn(alg)) {
      throw new DumpError(
        this.withCoordinates(
          this.flavor === "mariadb"
            ? "Slave can not handle replication events with the checksum that master is configured to log"
            : "Replica can not handle replication events with the checksum that source is configured to log",
        ),
      );
    }
    bytes[FLAGS_OFFSET] = bytes[FLAGS_OFFSET]! & ~EventFlag.BINLOG_IN_USE;
    if (this.firstFile && this.startPosition > BIN_LOG_HEADER_SIZE && !this.exclude) {
      // Starting inside the file: the replica must not take its position from this event, nor
      // drop its temporary tables.
      bytes.writeUInt32LE(0, LOG_POS_OFFSET);
      bytes.writeUInt32LE(0, FDE_CREATED_OFFSET);
    } else if (this.mariadbGtidMode && this.slaveState.size > 0) {
      // MariaDB, not yet at the replica's position: keep its temporary tables.
      bytes.writeUInt32LE(0, FDE_CREATED_OFFSET);
    } else if (this.firstFile && this.exclude && this.request.file === "") {
      // MySQL clears `created` when it skips at least the file's first transaction: decided at
      // its first GTID event, so the FDE waits until then.
      this.heldFde = { ...item, bytes };
      this.held = [];
      return;
    }
    await this.sendEvent(this.withChecksum(bytes));
  }

  /** The held FDE goes out (with `created` cleared if the first GTID is one the replica has), then what followed it. */
  private async releaseHeld(): Promise<void> {
    const fde = this.heldFde;
    if (!fde) return;
    this.heldFde = undefined;
    const held = this.held;
    this.held = [];
    const firstGtid = held.find((e) => e.bytes[4] === EventType.GTID || e.bytes[4] === EventType.GTID_TAGGED);
    if (this.sought || (firstGtid && this.exclude && this.excludes(firstGtid))) fde.bytes.writeUInt32LE(0, FDE_CREATED_OFFSET);
    await this.sendEvent(this.withChecksum(fde.bytes));
    for (const item of held) {
      this.lastEventStart = item.offset;
      await this.dispatch(item);
    }
  }

  private withChecksum(bytes: Buffer): Buffer {
    if (checksumOn(this.checksumAlg) && bytes.length >= EVENT_HEADER_LENGTH + CHECKSUM_LENGTH) {
      bytes.writeUInt32LE(computeEventChecksum(bytes.subarray(0, bytes.length - CHECKSUM_LENGTH)) >>> 0, bytes.length - CHECKSUM_LENGTH);
    }
    return bytes;
  }

  private decode(item: FeedEvent): BinlogEvent {
    try {
      return decodeEvent(item.bytes, this.format);
    } catch (cause) {
      throw new FeedError("FEED_DAMAGED", `event at ${item.offset} in ${item.file} does not decode: ${(cause as Error).message}`, { cause });
    }
  }

  private excludes(item: FeedEvent): boolean {
    const gtid = gtidOfEvent(this.decode(item));
    return gtid?.flavor === "mysql" && !gtid.anonymous && this.exclude!.containsGtid(gtid);
  }

  // MySQL: Binlog_sender::send_events / skip_event
  private async mysqlEvent(item: FeedEvent): Promise<void> {
    const end = item.offset + item.bytes.length;
    const type = item.bytes[4]!;
    if (this.seekTo !== undefined && this.exclude && this.dispatchedEnd !== undefined && item.offset > this.dispatchedEnd) {
      // The feed left out transactions the replica has (a seek): as if they had been read and skipped.
      this.inExcludeGroup = true;
      this.excludeGroupEnd = item.offset;
    }
    this.dispatchedEnd = end;
    if (this.exclude) {
      if (type === EventType.ANONYMOUS_GTID) {
        throw new DumpError(
          this.withCoordinates(`Cannot replicate anonymous transaction when AUTO_POSITION = 1, at file ${item.file}, position ${item.offset}.`),
        );
      }
      if (type === EventType.GTID || type === EventType.GTID_TAGGED) this.inExcludeGroup = this.excludes(item);
      else if (type === EventType.ROTATE) this.inExcludeGroup = false;
      if (this.inExcludeGroup) {
        this.excludeGroupEnd = end;
        return;
      }
      if (this.excludeGroupEnd) {
        await this.sendEvent(this.heartbeat(this.excludeGroupEnd));
        this.excludeGroupEnd = 0;
      }
    }
    await this.sendEvent(item.bytes, this.ackWanted(item.bytes));
  }

  // MariaDB: send_event_to_slave
  private async mariadbEvent(item: FeedEvent): Promise<void> {
    const type = item.bytes[4]!;
    if (this.mariadbGtidMode && type === EventType.MARIADB_GTID) {
      if (this.skipping) this.skipping = undefined; // the group before was cut short
      await this.mariadbGtid(item);
    }
    if (this.skipping) {
      const done = this.skipping.push({ offset: item.offset, size: item.bytes.length, event: this.decode(item) });
      if (done.length > 0) this.skipping = undefined;
      if (!this.skipping) await this.maybeFakeGtidList();
      return;
    }
    if (type === EventType.MARIADB_ANNOTATE_ROWS && !(this.request.flags & DumpFlag.SEND_ANNOTATE_ROWS)) {
      // This replica tolerates holes (capability 4): leave the event out.
      await this.maybeFakeGtidList();
      return;
    }
    const flags = item.bytes.readUInt16LE(FLAGS_OFFSET);
    if (this.skipReplication && flags & SKIP_REPLICATION_FLAG) return;
    await this.sendEvent(item.bytes, this.ackWanted(item.bytes));
    await this.maybeFakeGtidList();
  }

  /** After a skipped group that reached the replica's position: a fake GTID_LIST of what was seen. */
  private async maybeFakeGtidList(logPos = this.position): Promise<void> {
    if (!this.sendFakeGtidList || this.skipping) return;
    this.sendFakeGtidList = false;
    const { bytes } = buildEvent(
      { kind: "mariadbGtidList", flags: 0, list: this.seen.gtids(), trailing: Buffer.alloc(0) },
      { timestamp: 0, serverId: this.config.serverId, logPos, flags: EventFlag.ARTIFICIAL },
      defaultFormat(checksumOn(this.checksumAlg) ? ChecksumAlgorithm.CRC32 : ChecksumAlgorithm.OFF),
    );
    await this.sendEvent(bytes);
  }

  private async mariadbGtid(item: FeedEvent): Promise<void> {
    if (this.slaveState.size === 0) return;
    const event = this.decode(item);
    const gtid = gtidOfEvent(event);
    if (gtid?.flavor !== "mariadb") return;
    const entry = this.slaveState.get(gtid.domain);
    if (!entry) {
      this.seen.record(gtid, { strict: false });
      return;
    }
    if (entry.emptyDomain) {
      const binlog = (await this.feedGtidState()) as Extract<FeedGtidState, { flavor: "mariadb" }>;
      const ours = binlog.binlogState.get(entry.gtid.domain, entry.gtid.serverId);
      if (!ours || ours.seq < entry.gtid.seq) throw this.missingGtidError(entry.gtid, binlog.binlogState);
      entry.emptyDomain = false;
    }
    const want = entry.gtid;
    let skip = gtid.serverId !== want.serverId || gtid.seq <= want.seq;
    if (gtid.serverId === want.serverId && gtid.seq >= want.seq) {
      if (this.strictMode && gtid.seq > want.seq) {
        throw new DumpError(
          `The binlog on the master is missing the GTID ${formatMariadbGtid(want)} requested by the slave (even though both a prior and a ` +
            "subsequent sequence number does exist), and GTID strict mode is enabled",
        );
      }
      this.slaveState.delete(gtid.domain);
      skip = gtid.seq <= want.seq;
      if (skip) {
        this.sendFakeGtidList = true;
      } else {
        // The replica's GTID is missing here (a hole, not in strict mode) and this group is past
        // it. MariaDB sends the fake GTID_LIST right after this GTID event, inside the group; it
        // goes before it here, between groups, without this GTID (the replica does not have it).
        this.sendFakeGtidList = true;
        await this.maybeFakeGtidList(item.offset);
      }
    }
    this.seen.record(gtid, { strict: false });
    // The group's events, this GTID event first, go to a boundary parser until it ends the group.
    if (skip) this.skipping = new TransactionBoundaryParser();
  }

  // -------------------------------------------------------------------------------------------
  // Artificial events and sending

  private artificialFormat(): BinlogFormat {
    return defaultFormat(checksumOn(this.checksumAlg) ? ChecksumAlgorithm.CRC32 : ChecksumAlgorithm.OFF);
  }

  private fakeRotate(file: string, position: number): Buffer {
    return buildEvent(
      { kind: "rotate", position: BigInt(position), nextFile: file },
      { timestamp: 0, serverId: this.config.serverId, logPos: 0, flags: EventFlag.ARTIFICIAL },
      this.artificialFormat(),
    ).bytes;
  }

  private heartbeat(position: number): Buffer {
    const v2 = this.flavor === "mysql" && this.request.command === "binlogDumpGtid" && (this.request.flags & DumpFlag.HEARTBEAT_V2) !== 0;
    const header = { timestamp: 0, serverId: this.config.serverId, logPos: position >>> 0, flags: 0 };
    if (v2) return buildEvent(buildHeartbeatV2(this.currentFile, BigInt(position)), header, this.artificialFormat()).bytes;
    return buildEvent({ kind: "heartbeat", logFile: this.currentFile }, header, this.artificialFormat()).bytes;
  }

  /**
   * One event packet: `0x00` + the event (split over packets when 16 MiB or more); for a semi-sync
   * replica `0x00, 0xEF, flag` + the event, the flag asking for an ack.
   */
  private sendEvent(event: Buffer, ack = false): Promise<void> {
    if (this.semiSync) return this.ctx.socket.writeParts([ack ? SEMI_SYNC_ACK_PREFIX : SEMI_SYNC_PREFIX, event]);
    return this.ctx.socket.writeParts([EVENT_PACKET_PREFIX, event]);
  }

  /** Whether to ask a semi-sync replica for an ack after this event: the end of a transaction arriving live. */
  private ackWanted(event: Buffer): boolean {
    if (!this.semiSync || !this.live || !this.config.semiSync) return false;
    const type = event[4];
    if (type === EventType.XID || type === EventType.XA_PREPARE) return true;
    if (type !== EventType.QUERY || event.length < EVENT_HEADER_LENGTH + 13) return false;
    // QUERY: post-header (thread id 4, exec time 4, db length 1, error 2, status length 2), status vars, db NUL, text.
    const statusLength = event.readUInt16LE(EVENT_HEADER_LENGTH + 11);
    const dbLength = event[EVENT_HEADER_LENGTH + 8]!;
    const at = EVENT_HEADER_LENGTH + 13 + statusLength + dbLength + 1;
    const text = event.toString("latin1", at, Math.min(event.length, at + 12)).toUpperCase();
    return text.startsWith("COMMIT") || text.startsWith("XA COMMIT") || text.startsWith("XA ROLLBACK");
  }
}

const EVENT_PACKET_PREFIX = Buffer.of(0x00);
const SEMI_SYNC_MAGIC = 0xef;
const SEMI_SYNC_PREFIX = Buffer.of(0x00, SEMI_SYNC_MAGIC, 0x00);
const SEMI_SYNC_ACK_PREFIX = Buffer.of(0x00, SEMI_SYNC_MAGIC, 0x01);

function formatSource(s: { uuid: string; tag: string; intervals: readonly { first: bigint; last: bigint }[] }): string {
  const ranges = s.intervals.map((i) => (i.first === i.last ? `${i.first}` : `${i.first}-${i.last}`)).join(":");
  return s.tag ? `${s.uuid}:${s.tag}:${ranges}` : `${s.uuid}:${ranges}`;
}

const TIMEOUT = Symbol("timeout");

async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
