/**
 * The transaction assembler: turns the events of one dump connection into the items the log
 * stores, in the primary's order. Pure: the syncer feeds it events and proposes what it returns.
 *
 * - Every event's CRC32 is checked (when the primary's binlog has checksums); a mismatch, or an
 *   event that does not decode, fails the connection: the syncer reconnects and fetches again.
 * - Events are grouped into whole transactions (TransactionBoundaryParser); a transaction is
 *   returned only once its last event arrived. A connection that ends mid-transaction leaves
 *   nothing behind: the next connection gets a fresh assembler.
 * - Events outside transactions that the primary really wrote (FORMAT_DESCRIPTION, PREVIOUS_GTIDS,
 *   GTID_LIST, BINLOG_CHECKPOINT, the ROTATE ending a file, STOP) are stored as they are. What a
 *   primary synthesises for its replicas (the fake ROTATE naming the file, heartbeats, MariaDB's
 *   artificial GTID_LIST after skipped groups, events with log_pos 0) is not: it only moves the
 *   primary's position forward.
 * - On a resumed dump the primary starts again at the beginning of a file: what the log already
 *   holds (same file, not past the stored position; GTIDs already executed) is skipped.
 */
import { EventDecoder, type ReadEvent } from "../binlog/reader.ts";
import { defaultFormat } from "../binlog/format.ts";
import type { ChecksumAlgorithm } from "../binlog/checksum.ts";
import { readEventHeader, EVENT_HEADER_LENGTH } from "../binlog/header.ts";
import { EventFlag, EventType } from "../binlog/event-type.ts";
import { TransactionBoundaryParser, type TransactionGtid } from "../binlog/transactions.ts";
import { BinlogError } from "../binlog/errors.ts";
import type { GtidKey } from "../storage/binlog-index.ts";
import type { BatchItem } from "../log-entry/format.ts";
import type { StreamPosition } from "../log-entry/binlog-state.ts";
import { KingbusError } from "../errors.ts";

/** SYNCER_BAD_EVENT: an event fails its CRC or does not decode; SYNCER_OUT_OF_ORDER: the stream breaks the protocol. */
export class AssemblerError extends KingbusError {
  declare readonly code: "SYNCER_BAD_EVENT" | "SYNCER_OUT_OF_ORDER";
}

/** An item to store, and whether the primary asked for a semi-sync ack once it is committed. */
export interface AssembledItem {
  readonly item: BatchItem;
  readonly ackRequested: boolean;
}

/** What the log already holds when the connection starts. */
export interface StoredProgress {
  readonly position: StreamPosition | undefined;
  /** server_id of the FORMAT_DESCRIPTION that began the stored position's file. */
  readonly writerServerId: number | undefined;
  hasGtid(g: GtidKey): boolean;
}

interface Pending {
  events: Buffer[];
  ackRequested: boolean;
  timestamp: number;
}

/**
 * Orders primary binlog file names: same base name, numeric extension (bin.000009 < bin.000010).
 * Undefined when they are not of one series (another primary, or a renamed log).
 */
export function compareBinlogFiles(a: string, b: string): number | undefined {
  const da = a.lastIndexOf(".");
  const db = b.lastIndexOf(".");
  if (da < 0 || db < 0 || a.slice(0, da) !== b.slice(0, db)) return a === b ? 0 : undefined;
  const na = Number(a.slice(da + 1));
  const nb = Number(b.slice(db + 1));
  if (!Number.isInteger(na) || !Number.isInteger(nb)) return a === b ? 0 : undefined;
  return na - nb;
}

export class TransactionAssembler {
  private readonly decoder: EventDecoder;
  private readonly parser = new TransactionBoundaryParser();
  private readonly stored: StoredProgress;
  /** The primary file the events belong to (from ROTATE events). */
  private file: string | undefined;
  /** The stored (or already returned) end: events at or before it in its file are skipped. */
  private emitted: StreamPosition | undefined;
  private pending: Pending | undefined;
  private sawDescription = false;
  /** Where the primary's stream stands (events and heartbeats alike). */
  primaryPosition: StreamPosition | undefined;
  /** Header timestamp of the newest event received, seconds since 1970 (0 before any). */
  lastEventTimestamp = 0;
  events = 0;
  bytes = 0;
  skipped = 0;

  /** `checksum`: the algorithm the primary's events carry (@@binlog_checksum, as negotiated). */
  constructor(stored: StoredProgress, checksum: ChecksumAlgorithm) {
    this.stored = stored;
    this.emitted = stored.position;
    this.decoder = new EventDecoder({ verifyChecksums: true }, defaultFormat(checksum));
  }

  /** Whether a transaction has begun and not ended (a disconnect now would cut it off). */
  get inTransaction(): boolean {
    return this.pending !== undefined;
  }

  /** Feeds one event (header through checksum); returns the items it completes, in order. */
  push(bytes: Buffer, ackRequested = false): AssembledItem[] {
    if (bytes.length < EVENT_HEADER_LENGTH) throw new AssemblerError("SYNCER_BAD_EVENT", `an event of ${bytes.length} bytes is shorter than its header`);
    const header = readEventHeader(bytes);
    let read: ReadEvent;
    try {
      read = this.decoder.decode({ bytes, offset: header.logPos > bytes.length ? header.logPos - bytes.length : 0 });
    } catch (e) {
      const what = e instanceof BinlogError ? e.message : String(e);
      throw new AssemblerError("SYNCER_BAD_EVENT", `event of type ${header.type} ending at ${this.file ?? "?"}:${header.logPos}: ${what}`, { cause: e });
    }
    this.events++;
    this.bytes += bytes.length;
    if (header.timestamp !== 0) this.lastEventTimestamp = header.timestamp;
    const type = header.type;
    const artificial = (header.flags & EventFlag.ARTIFICIAL) !== 0;

    if (type === EventType.ROTATE) {
      const next = read.event.body.kind === "rotate" ? read.event.body.nextFile : undefined;
      if (next === undefined) throw new AssemblerError("SYNCER_BAD_EVENT", "a ROTATE event without a file name");
      const out = artificial || header.logPos === 0 ? [] : this.outside(bytes, header.logPos, header.timestamp);
      this.file = next;
      this.primaryPosition = { file: next, pos: read.event.body.kind === "rotate" ? Number(read.event.body.position) : 4 };
      return out;
    }
    if (type === EventType.HEARTBEAT || type === EventType.HEARTBEAT_V2) {
      if (this.file !== undefined) this.primaryPosition = { file: this.file, pos: header.logPos };
      return [];
    }
    if (this.file === undefined) throw new AssemblerError("SYNCER_OUT_OF_ORDER", `a ${type} event arrived before the ROTATE that names its file`);
    if (header.logPos !== 0) this.primaryPosition = { file: this.file, pos: header.logPos };

    if (type === EventType.FORMAT_DESCRIPTION && !this.sawDescription) {
      this.sawDescription = true;
      // Another server wrote these files (the syncer was pointed at another primary): its file
      // names and positions say nothing about the stored ones. GTIDs alone tell what is stored.
      const writer = this.stored.writerServerId;
      if (writer !== undefined && writer !== header.serverId) this.emitted = undefined;
    }
    const done = this.parser.push({ offset: 0, size: bytes.length, event: read.event });
    if (done.length === 0) {
      if (this.parser.inTransaction) {
        // Inside a transaction: held until its last event arrives.
        this.pending ??= { events: [], ackRequested: false, timestamp: header.timestamp };
        this.pending.events.push(bytes);
        this.pending.ackRequested ||= ackRequested;
        return [];
      }
      // Outside any transaction. What the primary synthesised is not stored.
      if (artificial || header.logPos === 0) return [];
      return this.outside(bytes, header.logPos, header.timestamp);
    }
    // A group the parser cut short (a GTID or INCIDENT inside an open transaction) means the
    // stream itself is broken: one connection never delivers half a transaction otherwise.
    const cut = done.find((t) => !t.complete);
    if (cut !== undefined || done.length !== 1) {
      throw new AssemblerError("SYNCER_BAD_EVENT", `a transaction in ${this.file} before ${header.logPos} is incomplete: ${cut?.cutShort ?? "two groups ended at once"}`);
    }
    // Otherwise exactly one group ended, and with this very event.
    const p = this.pending ?? { events: [], ackRequested: false, timestamp: header.timestamp };
    this.pending = undefined;
    p.events.push(bytes);
    p.ackRequested ||= ackRequested;
    const item = this.transaction(p, done[0]!.gtid, header.logPos);
    return item ? [item] : [];
  }

  private outside(event: Buffer, endPos: number, timestamp: number): AssembledItem[] {
    if (this.alreadyStored(endPos)) return [];
    this.emitted = { file: this.file!, pos: endPos };
    return [{ item: { kind: "event", file: this.file!, endPos, timestamp, event }, ackRequested: false }];
  }

  private transaction(p: Pending, gtid: TransactionGtid | undefined, endPos: number): AssembledItem | undefined {
    const key = gtidKey(gtid);
    if ((key !== undefined && this.stored.hasGtid(key)) || this.alreadyStored(endPos)) {
      this.skipped++;
      return undefined;
    }
    this.emitted = { file: this.file!, pos: endPos };
    const events = p.events.length === 1 ? p.events[0]! : Buffer.concat(p.events);
    return { item: { kind: "transaction", file: this.file!, endPos, timestamp: p.timestamp, gtid: key, events }, ackRequested: p.ackRequested };
  }

  /** An event ending at `endPos` of the current file is already in the log (a resumed dump). */
  private alreadyStored(endPos: number): boolean {
    const e = this.emitted;
    if (e === undefined || endPos === 0) return false;
    const order = compareBinlogFiles(this.file!, e.file);
    if (order === undefined) return false;
    return order < 0 || (order === 0 && endPos <= e.pos);
  }
}

function gtidKey(g: TransactionGtid | undefined): GtidKey | undefined {
  if (g === undefined) return undefined;
  if (g.flavor === "mariadb") return { flavor: "mariadb", domain: g.domain, serverId: g.serverId, seq: g.seq };
  if (g.anonymous) return undefined;
  return g.tag ? { flavor: "mysql", uuid: g.uuid, tag: g.tag, gno: g.gno } : { flavor: "mysql", uuid: g.uuid, gno: g.gno };
}
