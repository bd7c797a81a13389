/**
 * A BinlogFeed held in memory, for tests: binlog files built event by event (with the positions a
 * server would write), and a last file that can grow while dump sessions wait on it, as the Raft
 * log store's committed entries will. Also a builder of MariaDB-style binlog files.
 */
import { buildEvent } from "../../../binlog/build.ts";
import type { EventBody } from "../../../binlog/codec.ts";
import { ChecksumAlgorithm } from "../../../binlog/checksum.ts";
import { EventFlag, EventType } from "../../../binlog/event-type.ts";
import type { FormatDescriptionBody } from "../../../binlog/events/format-description.ts";
import { MariadbGtidFlag } from "../../../binlog/events/mariadb.ts";
import { defaultFormat, type BinlogFormat } from "../../../binlog/format.ts";
import { MariadbGtidState, type MariadbGtid } from "../../../binlog/gtid-mariadb.ts";
import { MysqlGtidSet } from "../../../binlog/gtid-mysql.ts";
import { FeedError, type BinlogChecksumName, type BinlogFeed, type BinlogFlavor, type FeedFile, type FeedGtidState, type FeedItem, type FeedPosition } from "../feed.ts";

interface MemoryFile {
  name: string;
  events: Array<{ offset: number; bytes: Buffer }>;
  size: number;
  previousGtids?: MysqlGtidSet;
  gtidList?: MariadbGtid[];
}

export class MemoryBinlogFeed implements BinlogFeed {
  readonly flavor: BinlogFlavor;
  readonly #checksum: BinlogChecksumName;
  readonly #files: MemoryFile[] = [];
  #state: FeedGtidState;
  #waiters: Array<() => void> = [];

  constructor(flavor: BinlogFlavor, checksum: BinlogChecksumName = "CRC32") {
    this.flavor = flavor;
    this.#checksum = checksum;
    this.#state = flavor === "mysql" ? { flavor, executed: MysqlGtidSet.empty(), purged: MysqlGtidSet.empty() } : { flavor, binlogState: MariadbGtidState.empty() };
  }

  setGtidState(state: FeedGtidState): void {
    this.#state = state;
  }

  /** Adds a file (its events as bytes, FDE first). */
  addFile(name: string, events: readonly Buffer[], header: { previousGtids?: MysqlGtidSet; gtidList?: MariadbGtid[] } = {}): void {
    const file: MemoryFile = { name, events: [], size: 4, ...header };
    this.#files.push(file);
    for (const event of events) this.#push(file, event);
    this.#wake();
  }

  /** Appends events to the last file; waiting readers get them. */
  append(...events: Buffer[]): void {
    const file = this.#files.at(-1);
    if (!file) throw new Error("no file to append to");
    for (const event of events) this.#push(file, event);
    this.#wake();
  }

  #push(file: MemoryFile, event: Buffer): void {
    file.events.push({ offset: file.size, bytes: event });
    file.size += event.length;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  binlogChecksum(): BinlogChecksumName {
    return this.#checksum;
  }

  async gtidState(): Promise<FeedGtidState> {
    return this.#state;
  }

  async files(): Promise<readonly FeedFile[]> {
    return this.#files.map((f) => ({ name: f.name, size: f.size, ...(f.previousGtids ? { previousGtids: f.previousGtids } : {}), ...(f.gtidList ? { gtidList: f.gtidList } : {}) }));
  }

  async *read(from: FeedPosition, signal: AbortSignal): AsyncGenerator<FeedItem> {
    let fileIndex = this.#files.findIndex((f) => f.name === from.file);
    if (fileIndex < 0) throw new FeedError("FEED_UNKNOWN_FILE", `no binlog file named ${from.file}`);
    const start = this.#files[fileIndex]!;
    let eventIndex = start.events.findIndex((e) => e.offset === from.position);
    if (eventIndex < 0) {
      if (from.position !== start.size) throw new FeedError("FEED_BAD_POSITION", `position ${from.position} in ${start.name} is not the start of an event`);
      eventIndex = start.events.length;
    }
    if (eventIndex > 0) yield { kind: "event", file: start.name, ...start.events[0]! };
    while (!signal.aborted) {
      const file = this.#files[fileIndex]!;
      if (eventIndex < file.events.length) {
        yield { kind: "event", file: file.name, ...file.events[eventIndex++]! };
        continue;
      }
      if (fileIndex + 1 < this.#files.length) {
        fileIndex++;
        eventIndex = 0;
        continue;
      }
      yield { kind: "caughtUp", file: file.name, position: file.size };
      if (eventIndex < file.events.length || fileIndex + 1 < this.#files.length) continue;
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const onAbort = (): void => resolve();
        signal.addEventListener("abort", onAbort, { once: true });
        this.#waiters.push(() => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        });
      });
    }
  }
}

/** MariaDB 10.11's post-header lengths would do; only QUERY's (13) and ROTATE's (8) matter to the codec. */
function mariadbPostHeaders(): Buffer {
  const table = Buffer.alloc(EventType.MARIADB_PARTIAL_ROW_DATA, 0);
  table[EventType.QUERY - 1] = 13;
  table[EventType.ROTATE - 1] = 8;
  table[EventType.FORMAT_DESCRIPTION - 1] = 84;
  table[EventType.XID - 1] = 0;
  table[EventType.MARIADB_GTID - 1] = 19;
  table[EventType.MARIADB_GTID_LIST - 1] = 4;
  table[EventType.MARIADB_BINLOG_CHECKPOINT - 1] = 4;
  return table;
}

/**
 * Writes a MariaDB binlog file event by event: FDE (CRC32), GTID_LIST, BINLOG_CHECKPOINT, then
 * whatever the test adds, each event's log_pos its end in the file.
 */
export class MariadbFileBuilder {
  readonly name: string;
  readonly events: Buffer[] = [];
  readonly gtidList: MariadbGtid[];
  private offset = 4;
  private readonly format: BinlogFormat;
  private readonly serverId: number;

  constructor(name: string, options: { gtidList?: MariadbGtid[]; serverId?: number; inUse?: boolean } = {}) {
    this.name = name;
    this.serverId = options.serverId ?? 1;
    this.gtidList = options.gtidList ?? [];
    const fde: FormatDescriptionBody = {
      kind: "formatDescription",
      binlogVersion: 4,
      serverVersion: "10.11.19-MariaDB-log",
      serverVersionBytes: Buffer.alloc(0),
      createTimestamp: 1_700_000_000,
      headerLength: 19,
      postHeaderLengths: mariadbPostHeaders(),
      checksumAlgorithm: ChecksumAlgorithm.CRC32,
    };
    this.format = { ...defaultFormat(ChecksumAlgorithm.CRC32), flavor: "mariadb", serverVersion: "10.11.19-MariaDB-log", version: [10, 11, 19], postHeaderLengths: fde.postHeaderLengths };
    this.add(fde, { flags: options.inUse ? EventFlag.BINLOG_IN_USE : 0 });
    this.add({ kind: "mariadbGtidList", flags: 0, list: this.gtidList, trailing: Buffer.alloc(0) });
    this.add({ kind: "mariadbBinlogCheckpoint", logFile: name });
  }

  /** Adds an event; returns its bytes. */
  add(body: EventBody, header: { type?: number; flags?: number; serverId?: number } = {}): Buffer {
    const base = { timestamp: 1_700_000_100, serverId: header.serverId ?? this.serverId, flags: header.flags ?? 0, ...(header.type === undefined ? {} : { type: header.type }) };
    const size = buildEvent(body, { ...base, logPos: 0 }, this.format).bytes.length;
    const { bytes } = buildEvent(body, { ...base, logPos: this.offset + size }, this.format);
    this.events.push(bytes);
    this.offset += size;
    return bytes;
  }

  /** A GTID event. */
  gtid(gtid: MariadbGtid, standalone = false): Buffer {
    return this.add(
      { kind: "mariadbGtid", seq: gtid.seq, domain: gtid.domain, flags2: standalone ? MariadbGtidFlag.STANDALONE : MariadbGtidFlag.TRANSACTIONAL, trailing: Buffer.alloc(0) },
      { serverId: gtid.serverId, flags: 0x08 },
    );
  }

  query(sql: string, serverId = this.serverId): Buffer {
    return this.add(
      { kind: "query", threadId: 1, execTime: 0, errorCode: 0, extraPostHeader: Buffer.alloc(0), statusVars: Buffer.alloc(0), schema: Buffer.from("db"), sql: Buffer.from(sql) },
      { serverId },
    );
  }

  /** A whole InnoDB-style transaction: GTID, ANNOTATE_ROWS, a rows event, XID. */
  transaction(gtid: MariadbGtid): Buffer[] {
    return [
      this.gtid(gtid),
      this.add({ kind: "mariadbAnnotateRows", sql: Buffer.from(`INSERT INTO t VALUES (${gtid.seq})`) }, { serverId: gtid.serverId }),
      this.add({ kind: "opaque", bytes: Buffer.alloc(20, Number(gtid.seq) & 0xff) }, { type: EventType.WRITE_ROWS_V1, serverId: gtid.serverId }),
      this.add({ kind: "xid", xid: gtid.seq }, { serverId: gtid.serverId }),
    ];
  }

  /** A standalone DDL group: GTID (FL_STANDALONE) and its Query. */
  ddl(gtid: MariadbGtid, sql = "CREATE TABLE t (a INT)"): Buffer[] {
    return [this.gtid(gtid, true), this.query(sql, gtid.serverId)];
  }

  /** The real ROTATE that closes the file. */
  rotate(next: string): Buffer {
    return this.add({ kind: "rotate", position: 4n, nextFile: next });
  }

  get size(): number {
    return this.offset;
  }
}
