/**
 * What the binlog server needs to know about the stored files, kept by applying committed entries
 * in order (the node feeds it from its apply, and again from the first retained index when it
 * restarts or installs a snapshot): per primary file its FORMAT_DESCRIPTION and the other events
 * before its first transaction (PREVIOUS_GTIDS or GTID_LIST, BINLOG_CHECKPOINT), the events outside
 * transactions after them (checkpoints, the ROTATE ending the file), its size so far, the entries
 * holding its first and last items; and per fragmented transaction the entry of its first fragment
 * and its start offset. Pure: no I/O. Lookups of a GTID or a position go through the store's own
 * indexes; this index only adds what those do not hold.
 *
 * A file whose FORMAT_DESCRIPTION is not in the log (its beginning was purged before this node
 * started) is known but not served: a replica that needs it is told it was purged.
 */
import { ChecksumAlgorithm } from "../binlog/checksum.ts";
import { decodeEvent } from "../binlog/codec.ts";
import { EventType } from "../binlog/event-type.ts";
import { formatFromDescription } from "../binlog/events/format-description.ts";
import { defaultFormat, flavorOf, type BinlogFormat, type Flavor } from "../binlog/format.ts";
import type { MariadbGtid } from "../binlog/gtid-mariadb.ts";
import { MysqlGtidSet } from "../binlog/gtid-mysql.ts";
import { EVENT_HEADER_LENGTH } from "../binlog/header.ts";
import { decodeEntry, isLogEntry, LogEntryError, type BatchItem, type EntryPayload } from "../log-entry/format.ts";
import { EntryType, type Entry } from "../raft/types.ts";

/** One stored event outside transactions, copied out of its entry. */
export interface StoredEvent {
  readonly offset: number;
  readonly bytes: Buffer;
}

/** At most this many events outside transactions are remembered per file (beyond it, no seeking in the file). */
const MAX_LOOSE_EVENTS = 256;
const MAX_LOOSE_BYTES = 256 * 1024;

export interface StoredFileFacts {
  readonly name: string;
  /** The entry holding the file's first stored item. */
  readonly firstEntry: number;
  /** The entry holding the file's last stored item. */
  lastEntry: number;
  /** End of the last stored item: where the next event of the file would start. */
  size: number;
  /** FORMAT_DESCRIPTION first, then the events before the first transaction. Empty: the beginning is not in the log. */
  readonly header: StoredEvent[];
  /** End of the header events. */
  headerEnd: number;
  /** Whether a transaction (or an event after one) has been stored: the header is complete. */
  headerDone: boolean;
  /** Events outside transactions after the header, in order (checkpoints, the ROTATE at the end, STOP). */
  readonly loose: StoredEvent[];
  looseBytes: number;
  /** False once `loose` overflowed: the file is then always read from its beginning. */
  seekable: boolean;
  flavor: Flavor | undefined;
  serverVersion: string;
  checksum: "CRC32" | "NONE";
  /** server_id in the FORMAT_DESCRIPTION's header: the primary that wrote the file. */
  writerServerId: number;
  /** MySQL: the file's PREVIOUS_GTIDS. */
  previousGtids: MysqlGtidSet | undefined;
  /** MariaDB: the file's GTID_LIST. */
  gtidList: MariadbGtid[] | undefined;
  transactions: number;
  /** MySQL transactions without a GTID: a GTID dump cannot seek over them. */
  anonymous: number;
  format: BinlogFormat;
}

/** A fragmented transaction, by the entry of its last fragment. */
export interface FragmentRun {
  readonly file: string;
  readonly firstEntry: number;
  readonly lastEntry: number;
  /** Offset of the transaction's first byte in its file. */
  readonly start: number;
  readonly end: number;
}

interface OpenRun {
  firstEntry: number;
  parts: number;
  bytes: number;
}

export class AppliedBinlogIndex {
  /** Files in the order the log first holds them. */
  #files: StoredFileFacts[] = [];
  readonly #byName = new Map<string, StoredFileFacts>();
  readonly #runs = new Map<number, FragmentRun>();
  #open: OpenRun | undefined;
  /** The last entry applied (every entry up to it is committed). */
  lastApplied = 0;
  /** Entries that could not be read (logged by the node, skipped here). */
  unreadable = 0;

  /** Forgets everything: the node replays the log from its first retained index next. */
  reset(): void {
    this.#files = [];
    this.#byName.clear();
    this.#runs.clear();
    this.#open = undefined;
    this.lastApplied = 0;
  }

  /** The flavour of the newest served file (undefined while nothing is stored). */
  get flavor(): Flavor | undefined {
    for (let i = this.#files.length - 1; i >= 0; i--) if (this.#files[i]!.flavor) return this.#files[i]!.flavor;
    return undefined;
  }

  /** The server version of the newest file's FORMAT_DESCRIPTION ("" while nothing is stored). */
  get serverVersion(): string {
    for (let i = this.#files.length - 1; i >= 0; i--) if (this.#files[i]!.serverVersion) return this.#files[i]!.serverVersion;
    return "";
  }

  /** Every known file, oldest first (served or not). */
  files(): readonly StoredFileFacts[] {
    return this.#files;
  }

  file(name: string): StoredFileFacts | undefined {
    return this.#byName.get(name);
  }

  /** The fragmented transaction whose last fragment is `entry`. */
  fragmentRun(lastEntry: number): FragmentRun | undefined {
    return this.#runs.get(lastEntry);
  }

  /** Drops what the log no longer holds (entries below `firstIndex`). */
  forgetBefore(firstIndex: number): void {
    const keep = this.#files.filter((f) => f.lastEntry >= firstIndex);
    if (keep.length !== this.#files.length) {
      for (const f of this.#files) if (f.lastEntry < firstIndex) this.#byName.delete(f.name);
      this.#files = keep;
    }
    for (const key of this.#runs.keys()) if (key < firstIndex) this.#runs.delete(key);
  }

  /**
   * One committed entry, in log order. Entries this version cannot read are counted and skipped.
   * `decoded`: its payload when the caller already decoded it (the node decodes each entry once).
   */
  apply(entry: Entry, decoded?: EntryPayload): void {
    this.lastApplied = entry.index;
    if (entry.type !== EntryType.Normal || !isLogEntry(entry.data)) return;
    let payload = decoded;
    try {
      payload ??= decodeEntry(entry.data);
    } catch (e) {
      if (!(e instanceof LogEntryError)) throw e;
      this.unreadable++;
      return;
    }
    if (payload.kind === "control") return;
    if (payload.kind === "batch") {
      this.#open = undefined;
      for (const item of payload.items) this.#item(entry.index, item);
      return;
    }
    // A fragment: only a complete run is a transaction (see BinlogState).
    if (payload.first) this.#open = { firstEntry: entry.index, parts: 0, bytes: 0 };
    else if (!this.#open || payload.part !== this.#open.parts) {
      this.#open = undefined;
      return;
    }
    const run = this.#open!;
    run.parts++;
    run.bytes += payload.bytes.length;
    if (!payload.last) return;
    this.#open = undefined;
    const start = payload.endPos - run.bytes;
    this.#runs.set(entry.index, { file: payload.file, firstEntry: run.firstEntry, lastEntry: entry.index, start, end: payload.endPos });
    const facts = this.#facts(payload.file, run.firstEntry, start);
    this.#transaction(facts, entry.index, payload.endPos, payload.gtid === undefined);
  }

  #item(index: number, item: BatchItem): void {
    if (item.kind === "transaction") {
      const facts = this.#facts(item.file, index, item.endPos - item.events.length);
      this.#transaction(facts, index, item.endPos, item.gtid === undefined);
      return;
    }
    const start = item.endPos - item.event.length;
    if (isFormatDescriptionAt4(start, item.event)) {
      this.#begin(item.file, index, Buffer.from(item.event));
      return;
    }
    const facts = this.#facts(item.file, index, start);
    facts.lastEntry = index;
    if (item.endPos > facts.size) facts.size = item.endPos;
    const event = { offset: start, bytes: Buffer.from(item.event) };
    if (!facts.headerDone && facts.header.length > 0) {
      // Before the first transaction: the file's header (FDE, PREVIOUS_GTIDS or GTID_LIST, checkpoint).
      if (facts.header.length === 1) this.#headerEvent(facts, event.bytes);
      facts.header.push(event);
      facts.headerEnd = item.endPos;
      return;
    }
    if (!facts.seekable) return;
    facts.loose.push(event);
    facts.looseBytes += event.bytes.length;
    if (facts.loose.length > MAX_LOOSE_EVENTS || facts.looseBytes > MAX_LOOSE_BYTES) {
      facts.seekable = false;
      facts.loose.length = 0;
      facts.looseBytes = 0;
    }
  }

  #transaction(facts: StoredFileFacts, index: number, endPos: number, anonymous: boolean): void {
    facts.headerDone = true;
    facts.lastEntry = index;
    if (endPos > facts.size) facts.size = endPos;
    facts.transactions++;
    if (anonymous && facts.flavor === "mysql") facts.anonymous++;
  }

  /** The facts of `file`; a file the log holds without its beginning (purged) is known but not served. */
  #facts(name: string, index: number, start: number): StoredFileFacts {
    return this.#byName.get(name) ?? this.#add(newFacts(name, index, start));
  }

  /** An FDE at offset 4 begins a file (again: the same name from another primary after a re-point). */
  #begin(name: string, index: number, fde: Buffer): void {
    const facts = newFacts(name, index, 4);
    facts.header.push({ offset: 4, bytes: fde });
    facts.headerEnd = facts.size = 4 + fde.length;
    facts.headerDone = false;
    this.#describe(facts, fde);
    const existing = this.#byName.get(name);
    if (existing) this.#files = this.#files.filter((f) => f !== existing);
    this.#add(facts);
  }

  #add(facts: StoredFileFacts): StoredFileFacts {
    this.#files.push(facts);
    this.#byName.set(facts.name, facts);
    return facts;
  }

  #describe(facts: StoredFileFacts, fde: Buffer): void {
    facts.writerServerId = fde.readUInt32LE(5);
    try {
      const event = decodeEvent(fde, defaultFormat());
      if (event.body.kind !== "formatDescription") return;
      facts.format = formatFromDescription(event.body);
      facts.serverVersion = event.body.serverVersion;
      facts.flavor = flavorOf(event.body.serverVersion);
      facts.checksum = event.body.checksumAlgorithm === ChecksumAlgorithm.CRC32 ? "CRC32" : "NONE";
    } catch {
      // An FDE that does not decode: the file is served as stored, the session reports the damage.
    }
  }

  /** The event after the FDE: PREVIOUS_GTIDS (MySQL) or GTID_LIST (MariaDB) tell where the file starts. */
  #headerEvent(facts: StoredFileFacts, bytes: Buffer): void {
    const type = bytes[4];
    if (type !== EventType.PREVIOUS_GTIDS && type !== EventType.MARIADB_GTID_LIST) return;
    try {
      const event = decodeEvent(bytes, facts.format);
      if (event.body.kind === "previousGtids") facts.previousGtids = MysqlGtidSet.decode(event.body.encodedSet);
      else if (event.body.kind === "mariadbGtidList") facts.gtidList = event.body.list.map((g) => ({ domain: g.domain, serverId: g.serverId, seq: g.seq }));
    } catch {
      // Left undefined: the session then starts from another file, or reports the damage when it reads it.
    }
  }
}

/** Whether the file can be served: its FORMAT_DESCRIPTION is stored. */
export function isServed(facts: StoredFileFacts, firstIndex: number): boolean {
  return facts.header.length > 0 && facts.firstEntry >= firstIndex;
}

function isFormatDescriptionAt4(start: number, event: Uint8Array): boolean {
  return start === 4 && event.length >= EVENT_HEADER_LENGTH && event[4] === EventType.FORMAT_DESCRIPTION;
}

function newFacts(name: string, index: number, start: number): StoredFileFacts {
  return {
    name,
    firstEntry: index,
    lastEntry: index,
    size: start,
    header: [],
    headerEnd: start,
    headerDone: true,
    loose: [],
    looseBytes: 0,
    seekable: true,
    flavor: undefined,
    serverVersion: "",
    checksum: "NONE",
    writerServerId: 0,
    previousGtids: undefined,
    gtidList: undefined,
    transactions: 0,
    anonymous: 0,
    format: defaultFormat(),
  };
}
