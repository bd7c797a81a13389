/**
 * What a Raft entry of kingbus carries: the primary's binlog, in its order and byte for byte.
 *
 * - A batch: consecutive items of the primary's stream, each a whole transaction (its GTID, its
 *   events) or one event outside transactions (FORMAT_DESCRIPTION, PREVIOUS_GTIDS, GTID_LIST,
 *   BINLOG_CHECKPOINT, the real ROTATE that ends a file, STOP). Concatenating the events of every
 *   item of one file gives that file as the primary wrote it (from where the syncer started).
 * - A fragment: part of one transaction too large for an entry. Only the last fragment carries the
 *   transaction's identity; the transaction counts (GTID sets, indexes, downstream) only once that
 *   one is committed. A run of fragments not ended by a last one (the leader changed mid-way) is
 *   abandoned: the transaction is fetched again from its start.
 * - A control record: JSON (the syncer's configuration, commands), applied by every node.
 *
 * Layout (little-endian), after the 4-byte header "KB", version 1, kind:
 *
 *   batch    = u16 n_files, n_files × str | u32 n_items, n_items × item
 *   item     = u8 kind (1 transaction, 2 event) | u16 file (index in the files) | u64 end_pos
 *              | u32 timestamp | [transaction: gtid] | u32 length | events
 *   fragment = u8 flags (1 first, 2 last) | u32 part | str file | u64 end_pos | u32 timestamp
 *              | gtid | u32 length | bytes
 *   control  = UTF-8 JSON
 *   gtid     = u8 0 (anonymous) | u8 1, u32 domain, u32 server_id, u64 seq (MariaDB)
 *              | u8 2, uuid[16], u8 tag_length, tag, u64 gno (MySQL)
 *   str      = u16 length | UTF-8
 *
 * end_pos is the primary's log_pos after the item (its last event's end), timestamp the header
 * timestamp of the item's first event (seconds behind the primary are measured from it).
 */
import type { GtidKey } from "../storage/binlog-index.ts";
import { uuidFromBytes, uuidToBytes } from "../binlog/gtid-mysql.ts";
import { KingbusError } from "../errors.ts";

export const ENTRY_VERSION = 1;
const MAGIC0 = 0x4b; // "K"
const MAGIC1 = 0x42; // "B"

export const EntryKind = { Batch: 1, Fragment: 2, Control: 3 } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

export const FragmentFlag = { First: 1, Last: 2 } as const;

export class LogEntryError extends KingbusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("LOG_ENTRY_CORRUPT", message, options);
  }
}

export interface TransactionItem {
  readonly kind: "transaction";
  readonly file: string;
  readonly endPos: number;
  readonly timestamp: number;
  /** Undefined for an anonymous (GTID-less) MySQL transaction. */
  readonly gtid: GtidKey | undefined;
  /** The transaction's events, whole and in order (header through checksum each). */
  readonly events: Uint8Array;
}

export interface EventItem {
  readonly kind: "event";
  readonly file: string;
  readonly endPos: number;
  readonly timestamp: number;
  readonly event: Uint8Array;
}

export type BatchItem = TransactionItem | EventItem;

export interface BatchPayload {
  readonly kind: "batch";
  readonly items: readonly BatchItem[];
}

export interface FragmentPayload {
  readonly kind: "fragment";
  readonly first: boolean;
  readonly last: boolean;
  /** 0 for the first fragment, counting up. */
  readonly part: number;
  readonly file: string;
  /** Meaningful on the last fragment: the transaction's end, timestamp and GTID. */
  readonly endPos: number;
  readonly timestamp: number;
  readonly gtid: GtidKey | undefined;
  readonly bytes: Uint8Array;
}

export interface ControlPayload {
  readonly kind: "control";
  readonly record: unknown;
}

export type EntryPayload = BatchPayload | FragmentPayload | ControlPayload;

// ------------------------------------------------------------------------------------ encoding

class Writer {
  buf: Buffer;
  at = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  u8(v: number): void {
    this.buf[this.at++] = v;
  }
  u16(v: number): void {
    this.at = this.buf.writeUInt16LE(v, this.at);
  }
  u32(v: number): void {
    this.at = this.buf.writeUInt32LE(v >>> 0, this.at);
  }
  u64(v: bigint | number): void {
    this.at = this.buf.writeBigUInt64LE(BigInt(v), this.at);
  }
  bytes(b: Uint8Array): void {
    this.buf.set(b, this.at);
    this.at += b.length;
  }
  str(s: string): void {
    const n = this.buf.write(s, this.at + 2, "utf8");
    this.u16(n);
    this.at += n;
  }
}

function strSize(s: string): number {
  const n = Buffer.byteLength(s, "utf8");
  if (n > 0xffff) throw new LogEntryError(`a name of ${n} bytes does not fit an entry (at most 65535)`);
  return 2 + n;
}

function gtidSize(g: GtidKey | undefined): number {
  if (g === undefined) return 1;
  if (g.flavor === "mariadb") return 1 + 4 + 4 + 8;
  return 1 + 16 + 1 + Buffer.byteLength(g.tag ?? "", "utf8") + 8;
}

function writeGtid(w: Writer, g: GtidKey | undefined): void {
  if (g === undefined) return w.u8(0);
  if (g.flavor === "mariadb") {
    w.u8(1);
    w.u32(g.domain);
    w.u32(g.serverId);
    w.u64(g.seq);
    return;
  }
  w.u8(2);
  w.bytes(uuidToBytes(g.uuid));
  const tag = Buffer.from(g.tag ?? "", "utf8");
  w.u8(tag.length);
  w.bytes(tag);
  w.u64(g.gno);
}

function header(w: Writer, kind: EntryKind): void {
  w.u8(MAGIC0);
  w.u8(MAGIC1);
  w.u8(ENTRY_VERSION);
  w.u8(kind);
}

/** Bytes an item adds to a batch (for the batcher's size limit). */
export function batchItemSize(item: BatchItem): number {
  const common = 1 + 2 + 8 + 4 + 4;
  return item.kind === "transaction" ? common + gtidSize(item.gtid) + item.events.length : common + item.event.length;
}

/** Bytes of a batch entry holding no item yet, with these file names. */
export function batchBaseSize(files: Iterable<string>): number {
  let n = 4 + 2 + 4;
  for (const f of files) n += strSize(f);
  return n;
}

export function encodeBatch(items: readonly BatchItem[]): Buffer {
  const files: string[] = [];
  const fileIndex = new Map<string, number>();
  for (const it of items) {
    if (!fileIndex.has(it.file)) {
      fileIndex.set(it.file, files.length);
      files.push(it.file);
    }
  }
  if (files.length > 0xffff) throw new LogEntryError(`a batch names ${files.length} files (at most 65535)`);
  let size = batchBaseSize(files);
  for (const it of items) size += batchItemSize(it);
  const w = new Writer(size);
  header(w, EntryKind.Batch);
  w.u16(files.length);
  for (const f of files) w.str(f);
  w.u32(items.length);
  for (const it of items) {
    w.u8(it.kind === "transaction" ? 1 : 2);
    w.u16(fileIndex.get(it.file)!);
    w.u64(it.endPos);
    w.u32(it.timestamp);
    if (it.kind === "transaction") {
      writeGtid(w, it.gtid);
      w.u32(it.events.length);
      w.bytes(it.events);
    } else {
      w.u32(it.event.length);
      w.bytes(it.event);
    }
  }
  return w.buf;
}

export function encodeFragment(f: Omit<FragmentPayload, "kind">): Buffer {
  const size = 4 + 1 + 4 + strSize(f.file) + 8 + 4 + gtidSize(f.gtid) + 4 + f.bytes.length;
  const w = new Writer(size);
  header(w, EntryKind.Fragment);
  w.u8((f.first ? FragmentFlag.First : 0) | (f.last ? FragmentFlag.Last : 0));
  w.u32(f.part);
  w.str(f.file);
  w.u64(f.endPos);
  w.u32(f.timestamp);
  writeGtid(w, f.gtid);
  w.u32(f.bytes.length);
  w.bytes(f.bytes);
  return w.buf;
}

export function encodeControl(record: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(record), "utf8");
  const w = new Writer(4 + json.length);
  header(w, EntryKind.Control);
  w.bytes(json);
  return w.buf;
}

// ------------------------------------------------------------------------------------ decoding

class Reader {
  readonly buf: Buffer;
  at: number;

  constructor(data: Uint8Array, at: number) {
    this.buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.at = at;
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new LogEntryError(`${what} needs ${n} bytes at byte ${this.at}, the entry has ${this.buf.length}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.at++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.at);
    this.at += 8;
    return v;
  }
  position(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new LogEntryError(`${what} ${v} is beyond 2^53`);
    return Number(v);
  }
  take(n: number, what: string): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
  str(what: string): string {
    const n = this.u16(what);
    return this.take(n, what).toString("utf8");
  }
}

function readGtid(r: Reader): GtidKey | undefined {
  const kind = r.u8("GTID kind");
  if (kind === 0) return undefined;
  if (kind === 1) {
    const domain = r.u32("GTID domain");
    const serverId = r.u32("GTID server id");
    return { flavor: "mariadb", domain, serverId, seq: r.u64("GTID sequence number") };
  }
  if (kind === 2) {
    const uuid = uuidFromBytes(r.take(16, "GTID uuid"));
    const tagLength = r.u8("GTID tag length");
    const tag = r.take(tagLength, "GTID tag").toString("utf8");
    const gno = r.u64("GTID gno");
    return tag === "" ? { flavor: "mysql", uuid, gno } : { flavor: "mysql", uuid, tag, gno };
  }
  throw new LogEntryError(`GTID kind ${kind} is unknown`);
}

/** Whether the data is a kingbus entry payload at all (test-only writes and empty entries are not). */
export function isLogEntry(data: Uint8Array): boolean {
  return data.length >= 4 && data[0] === MAGIC0 && data[1] === MAGIC1;
}

/** Decodes an entry's payload (a view on `data`: event bytes are not copied). */
export function decodeEntry(data: Uint8Array): EntryPayload {
  if (!isLogEntry(data)) throw new LogEntryError("the entry does not start with the kingbus magic");
  if (data[2] !== ENTRY_VERSION) throw new LogEntryError(`entry format version ${data[2]} is not one this kingbus reads (${ENTRY_VERSION})`);
  const r = new Reader(data, 4);
  switch (data[3]) {
    case EntryKind.Batch: {
      const nFiles = r.u16("file count");
      const files: string[] = [];
      for (let i = 0; i < nFiles; i++) files.push(r.str("file name"));
      const n = r.u32("item count");
      const items: BatchItem[] = [];
      for (let i = 0; i < n; i++) {
        const kind = r.u8("item kind");
        const fileRef = r.u16("item file");
        const file = files[fileRef];
        if (file === undefined) throw new LogEntryError(`item ${i} names file ${fileRef} of ${nFiles}`);
        const endPos = r.position("end position");
        const timestamp = r.u32("timestamp");
        if (kind === 1) {
          const gtid = readGtid(r);
          const events = r.take(r.u32("events length"), "events");
          items.push({ kind: "transaction", file, endPos, timestamp, gtid, events });
        } else if (kind === 2) {
          items.push({ kind: "event", file, endPos, timestamp, event: r.take(r.u32("event length"), "event") });
        } else {
          throw new LogEntryError(`item ${i} has kind ${kind}`);
        }
      }
      if (r.at !== r.buf.length) throw new LogEntryError(`${r.buf.length - r.at} bytes follow the last item`);
      return { kind: "batch", items };
    }
    case EntryKind.Fragment: {
      const flags = r.u8("fragment flags");
      const part = r.u32("fragment part");
      const file = r.str("file name");
      const endPos = r.position("end position");
      const timestamp = r.u32("timestamp");
      const gtid = readGtid(r);
      const bytes = r.take(r.u32("fragment length"), "fragment bytes");
      if (r.at !== r.buf.length) throw new LogEntryError(`${r.buf.length - r.at} bytes follow the fragment`);
      return { kind: "fragment", first: (flags & FragmentFlag.First) !== 0, last: (flags & FragmentFlag.Last) !== 0, part, file, endPos, timestamp, gtid, bytes };
    }
    case EntryKind.Control: {
      const text = r.take(r.buf.length - 4, "control record").toString("utf8");
      try {
        return { kind: "control", record: JSON.parse(text) as unknown };
      } catch (e) {
        throw new LogEntryError("the control record is not JSON", { cause: e });
      }
    }
    default:
      throw new LogEntryError(`entry kind ${data[3]} is unknown`);
  }
}
