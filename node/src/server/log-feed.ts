/**
 * LogBinlogFeed: the BinlogFeed of a kingbus node, over its Raft log. Dump sessions read the
 * committed (applied) entries only, never past the last entry the node applied, in log order:
 * batches of whole transactions and file events, and fragmented transactions reassembled once
 * their last fragment is committed (a run of fragments never finished is skipped, as the node's
 * state skips it).
 *
 * - The start of a dump is found without reading the log: the file's FORMAT_DESCRIPTION and
 *   header events come from the AppliedBinlogIndex; a position from the store's file/position
 *   index; the first transaction a GTID dump needs from the store's GTID index (`seekStart`).
 * - A reader that has handed out everything committed reports `caughtUp` and waits for the
 *   node's next apply (no polling), until its signal aborts.
 * - Memory per reader: one read of at most `readBytes` of entries, or one event when an event is
 *   larger; a fragmented transaction is read again entry by entry once it is known to be whole.
 * - Record checks (`verifyRecords`): "always" checks every record's CRC32 as it is read; "auto"
 *   (the default) leaves the CRC32 to the replicas when every served file's events carry a CRC32
 *   of their own, which replicas check on every event (as a MariaDB primary with
 *   master_verify_checksum=OFF does). Framing is always checked, and an entry that does not
 *   decode is read again with its CRC32 checked before it is skipped: damage is never skipped.
 */
import { EventSplitter } from "../binlog/reader.ts";
import { BinlogError } from "../binlog/errors.ts";
import { MariadbGtidState } from "../binlog/gtid-mariadb.ts";
import { MysqlGtidSet } from "../binlog/gtid-mysql.ts";
import { EVENT_HEADER_LENGTH } from "../binlog/header.ts";
import { decodeEntry, isLogEntry, LogEntryError, type EntryPayload } from "../log-entry/format.ts";
import { FeedError, type BinlogChecksumName, type BinlogFeed, type BinlogFlavor, type FeedEvent, type FeedFile, type FeedGtidState, type FeedItem, type FeedPosition, type FeedSeek } from "../mysql/server/feed.ts";
import { EntryType, type Entry } from "../raft/types.ts";
import type { GtidKey } from "../storage/binlog-index.ts";
import { ReadBuffer, type LogStore } from "../storage/log-store.ts";
import type { VerifyRecords } from "./verify-records.ts";
import { isServed, type AppliedBinlogIndex, type StoredEvent, type StoredFileFacts } from "./applied-index.ts";

/** The applied GTID state, as the node's BinlogState holds it (purged GTIDs included). */
export interface AppliedGtids {
  readonly mysql: MysqlGtidSet;
  readonly mariadb: MariadbGtidState;
}

/** Wakes readers when the node applied more entries. */
export interface AppliedSignal {
  /** Resolves at the next apply, or at once when the signal aborts. */
  wait(signal?: AbortSignal): Promise<void>;
}

/** What LogBinlogFeed reads the store through: the store's own methods, counted in tests. */
export type FeedStore = Pick<LogStore, "entries" | "firstIndex" | "lookupGtid" | "earliestEntryWithSeqFrom" | "entryAfterPosition" | "purgedGtids">;

export interface LogBinlogFeedOptions {
  store: FeedStore;
  index: AppliedBinlogIndex;
  gtids: () => AppliedGtids;
  applied: AppliedSignal;
  /** Bytes of entries read at once (default 1 MiB; at least one entry is always read). */
  readBytes?: number;
  /**
   * The commit index this node knows and the index it applied (for `settle`); without them, settle
   * answers at once. `current`: whether that commit index covers everything the cluster committed
   * (default: always). A follower learns the commit index from its leader's messages: after a
   * leader dies, the survivors' indexes lag what the dead leader committed, and served, until the
   * new leader commits an entry of its own term.
   */
  progress?: { committed(): number; applied(): number; current?(): boolean };
  /** How long `settle` waits for this node to apply what was committed (default 5 s). */
  settleMs?: number;
  /** Bytes of recently read entries kept for other readers (default 64 MiB; 0: none). */
  cacheBytes?: number;
  /** When reads check each record's CRC32 (default "auto", see above). */
  verifyRecords?: VerifyRecords;
}

/** Recently read committed entries, shared by the readers of one feed; the oldest read go first. */
class EntryCache {
  readonly #entries = new Map<number, Entry>();
  readonly #maxBytes: number;
  #bytes = 0;
  #newest = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Consecutive cached entries from `from`, up to `bound` and about `maxBytes`. */
  run(from: number, bound: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = from; i <= bound && bytes < maxBytes; i++) {
      const e = this.#entries.get(i);
      if (!e) break;
      out.push(e);
      bytes += e.data.length;
    }
    return out;
  }

  get enabled(): boolean {
    return this.#maxBytes > 0;
  }

  /** The highest index ever cached (0: none). */
  get newest(): number {
    return this.#newest;
  }

  /** About how many entries the cache holds when full (unknown until something was cached). */
  get reachEntries(): number {
    if (this.#entries.size === 0) return Number.POSITIVE_INFINITY;
    return Math.floor(this.#maxBytes / Math.max(1, this.#bytes / this.#entries.size));
  }

  add(entries: readonly Entry[]): void {
    if (this.#maxBytes <= 0) return;
    for (const e of entries) {
      if (this.#entries.has(e.index)) continue;
      this.#entries.set(e.index, e);
      this.#bytes += e.data.length;
      if (e.index > this.#newest) this.#newest = e.index;
    }
    for (const [index, e] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(index);
      this.#bytes -= e.data.length;
    }
  }
}

/** A reader streaming now: where it reads next, and its own read buffer. */
interface ActiveReader {
  next: number;
  scratch: ReadBuffer | undefined;
}

interface PendingRun {
  file: string;
  firstEntry: number;
  parts: number;
  bytes: number;
}

/** Where a reader begins: skip items until the first one of `file` that ends after `position`. */
interface StartFilter {
  file: string;
  position: number;
  /** 0: before the file's items; 1: inside them; 2: started. */
  phase: 0 | 1 | 2;
}

export class LogBinlogFeed implements BinlogFeed {
  readonly #store: FeedStore;
  readonly #index: AppliedBinlogIndex;
  readonly #gtids: () => AppliedGtids;
  readonly #applied: AppliedSignal;
  readonly #readBytes: number;
  readonly #progress: LogBinlogFeedOptions["progress"];
  readonly #cache: EntryCache;
  readonly #settleMs: number;
  readonly #verifyRecords: VerifyRecords;

  /** Readers streaming now: a lone reader reads into a buffer of its own, several share the cache. */
  readonly #active = new Set<ActiveReader>();

  constructor(options: LogBinlogFeedOptions) {
    this.#store = options.store;
    this.#index = options.index;
    this.#gtids = options.gtids;
    this.#applied = options.applied;
    this.#readBytes = options.readBytes ?? 1024 * 1024;
    this.#progress = options.progress;
    this.#settleMs = options.settleMs ?? 5000;
    this.#cache = new EntryCache(options.cacheBytes ?? 64 * 1024 * 1024);
    this.#verifyRecords = options.verifyRecords ?? "auto";
  }

  /** Waits until this node applied what is committed now (a replica may come from a pod further ahead). */
  async settle(signal: AbortSignal): Promise<boolean> {
    const progress = this.#progress;
    if (!progress) return true;
    const current = (): boolean => progress.current?.() ?? true;
    if (current() && progress.applied() >= progress.committed()) return true;
    const both = AbortSignal.any([signal, AbortSignal.timeout(this.#settleMs)]);
    // The commit index becomes current when this node applies an entry of the leader's term.
    while (!current() && !both.aborted) await this.#applied.wait(both);
    if (!current()) return false;
    const target = progress.committed();
    while (progress.applied() < target && !both.aborted) await this.#applied.wait(both);
    return progress.applied() >= target;
  }

  /** The flavour of the stored binlog (MariaDB until something is stored). */
  get flavor(): BinlogFlavor {
    return this.#index.flavor ?? "mariadb";
  }

  binlogChecksum(): BinlogChecksumName {
    const files = this.#servedFiles();
    return files.at(-1)?.checksum ?? "CRC32";
  }

  /**
   * What the stored transactions add up to, with what came before the first served file (its
   * PREVIOUS_GTIDS or GTID_LIST: the primary had those before kingbus stored anything, and a
   * replica holding them is no stranger). For MySQL that part counts as purged here.
   */
  async gtidState(): Promise<FeedGtidState> {
    const state = this.#gtids();
    const first = this.#servedFiles()[0];
    if (this.flavor === "mysql") {
      const before = first?.previousGtids ?? MysqlGtidSet.empty();
      const purged = this.#store.purgedGtids().mysql.union(before);
      return { flavor: "mysql", executed: state.mysql.union(purged), purged };
    }
    const binlogState = MariadbGtidState.empty();
    for (const gtid of first?.gtidList ?? []) binlogState.record(gtid, { strict: false });
    for (const gtid of state.mariadb.gtids()) binlogState.record(gtid, { strict: false });
    return { flavor: "mariadb", binlogState };
  }

  async files(): Promise<readonly FeedFile[]> {
    return this.#servedFiles().map((f) => ({
      name: f.name,
      size: f.size,
      ...(f.previousGtids ? { previousGtids: f.previousGtids } : {}),
      ...(f.gtidList ? { gtidList: f.gtidList } : {}),
    }));
  }

  #servedFiles(): StoredFileFacts[] {
    const first = this.#store.firstIndex();
    return this.#index.files().filter((f) => isServed(f, first));
  }

  #served(name: string): StoredFileFacts | undefined {
    const facts = this.#index.file(name);
    return facts && isServed(facts, this.#store.firstIndex()) ? facts : undefined;
  }

  async seekStart(seek: FeedSeek): Promise<number | undefined> {
    const facts = this.#served(seek.file);
    if (!facts || !facts.seekable || facts.anonymous > 0 || facts.flavor !== seek.flavor) return undefined;
    let target: number | undefined;
    const earliest = (e: number | undefined): void => {
      if (e !== undefined && (target === undefined || e < target)) target = e;
    };
    const state = this.#gtids();
    if (seek.flavor === "mysql") {
      // Per source stored: every GNO below the replica's first gap is one it holds, so the first
      // transaction it lacks is in an entry at or after the one holding the first GNO from the gap.
      for (const source of state.mysql) {
        const gno = firstGap(seek.replica.intervalsOf(source.uuid, source.tag));
        const key: GtidKey = source.tag ? { flavor: "mysql", uuid: source.uuid, tag: source.tag, gno } : { flavor: "mysql", uuid: source.uuid, gno };
        earliest(this.#store.earliestEntryWithSeqFrom(key));
      }
    } else {
      for (const { domain } of state.mariadb.position()) {
        const want = seek.replica.get(domain);
        if (want) {
          // The group holding the replica's GTID must be read (reaching it is what ends the skipping).
          const at = this.#store.lookupGtid({ flavor: "mariadb", domain, serverId: want.serverId, seq: want.seq });
          if (at === undefined) return undefined;
          earliest(at);
          continue;
        }
        // A domain the replica does not skip: its first group in this file.
        let from = 0n;
        for (const g of facts.gtidList ?? []) if (g.domain === domain && g.seq > from) from = g.seq;
        earliest(this.#store.earliestEntryWithSeqFrom({ flavor: "mariadb", domain, serverId: 0, seq: from + 1n }));
      }
    }
    let position: number;
    if (target === undefined || target > facts.lastEntry || target > this.#index.lastApplied) {
      position = facts.size;
    } else if (target < facts.firstEntry) {
      return undefined;
    } else {
      const start = this.#itemStartIn(target, facts.name);
      if (start === undefined) return undefined;
      position = start;
    }
    return position > facts.headerEnd ? position : undefined;
  }

  /** Offset of the first item of `file` held by entry `index` (a fragmented transaction's start for its last fragment). */
  #itemStartIn(index: number, file: string): number | undefined {
    const run = this.#index.fragmentRun(index);
    if (run) return run.file === file ? run.start : undefined;
    const [entry] = this.#store.entries(index, index + 1);
    const payload = entry && decodePayload(entry);
    if (payload?.kind !== "batch") return undefined;
    for (const item of payload.items) {
      if (item.file !== file) continue;
      return item.endPos - (item.kind === "transaction" ? item.events.length : item.event.length);
    }
    return undefined;
  }

  async *read(from: FeedPosition, signal: AbortSignal): AsyncGenerator<FeedItem> {
    const facts = this.#served(from.file);
    if (!facts) {
      const known = this.#index.file(from.file);
      throw new FeedError("FEED_UNKNOWN_FILE", known ? `binlog file ${from.file} was purged` : `no binlog file named ${from.file}`);
    }
    if (from.position < 4 || from.position > facts.size) {
      throw new FeedError("FEED_BAD_POSITION", `position ${from.position} is outside ${from.file} (4 to ${facts.size})`);
    }
    const seekTo = from.seekTo !== undefined && from.position <= 4 && from.seekTo > facts.headerEnd ? Math.min(from.seekTo, facts.size) : undefined;
    let position = seekTo ?? from.position;
    let startEntry: number;
    if (seekTo !== undefined) {
      // The header, the events outside transactions before the seek position, then the log from there.
      for (const e of facts.header) yield event(facts.name, e);
      for (const e of facts.loose) if (e.offset < seekTo) yield event(facts.name, e);
      startEntry = this.#entryAt(facts, seekTo);
    } else if (position <= 4) {
      position = 4;
      startEntry = facts.firstEntry;
    } else {
      yield event(facts.name, facts.header[0]!);
      startEntry = this.#entryAt(facts, position);
    }
    yield* this.#stream({ file: facts.name, position, phase: 0 }, startEntry, signal);
  }

  /** The entry to read from for `position` in the file: through the store's file/position index. */
  #entryAt(facts: StoredFileFacts, position: number): number {
    if (position >= facts.size) return facts.lastEntry;
    const at = this.#store.entryAfterPosition(facts.name, position);
    // An earlier file of the same name (another primary's) is not this one: read this one from its start.
    if (at === undefined || at < facts.firstEntry || at > this.#index.lastApplied) return facts.firstEntry;
    return this.#index.fragmentRun(at)?.firstEntry ?? at;
  }

  async *#stream(filter: StartFilter, startEntry: number, signal: AbortSignal): AsyncGenerator<FeedItem> {
    const reader: ActiveReader = { next: startEntry, scratch: undefined };
    this.#active.add(reader);
    try {
      yield* this.#streamFrom(filter, startEntry, signal, reader);
    } finally {
      this.#active.delete(reader);
    }
  }

  async *#streamFrom(filter: StartFilter, startEntry: number, signal: AbortSignal, reader: ActiveReader): AsyncGenerator<FeedItem> {
    let next = startEntry;
    let current = { file: filter.file, position: filter.position };
    let caughtUpSent = false;
    let run: PendingRun | undefined;
    while (!signal.aborted) {
      reader.next = next;
      const bound = this.#index.lastApplied;
      if (next > bound) {
        if (!caughtUpSent) {
          caughtUpSent = true;
          yield { kind: "caughtUp", file: current.file, position: current.position };
          continue;
        }
        // A caught-up reader among others reads what comes next from the cache the one reading
        // ahead fills: its own buffer (1 MiB) would only sit there, for every replica attached.
        if (this.#active.size > 1 && this.#cache.enabled) reader.scratch = undefined;
        // Subscribed before anything else can run: an apply cannot slip between check and wait.
        await this.#applied.wait(signal);
        continue;
      }
      if (next < this.#store.firstIndex()) {
        throw new FeedError("FEED_UNAVAILABLE", `the log was purged past entry ${next} while this dump was reading it (now from ${this.#store.firstIndex()})`);
      }
      const { entries: batch, transient, checked } = this.#read(next, bound, reader);
      for (const entry of batch) {
        next = entry.index + 1;
        const payload = this.#decode(entry, checked);
        if (!payload || payload.kind === "control") continue;
        if (payload.kind === "batch") {
          run = undefined;
          for (const item of payload.items) {
            const bytes = item.kind === "transaction" ? item.events : item.event;
            const start = item.endPos - bytes.length;
            const from = startWithin(filter, item.file, start, item.endPos);
            if (from === undefined) continue;
            yield { kind: "events", events: splitEvents(item.file, start, bytes, from, transient) };
            current = { file: item.file, position: item.endPos };
            caughtUpSent = false;
          }
          continue;
        }
        // Fragments: a run counts once its last fragment is committed.
        if (payload.first) run = { file: payload.file, firstEntry: entry.index, parts: 0, bytes: 0 };
        else if (!run || payload.part !== run.parts) {
          run = undefined;
          continue;
        }
        run.parts++;
        run.bytes += payload.bytes.length;
        if (!payload.last) continue;
        const whole = run;
        run = undefined;
        const start = payload.endPos - whole.bytes;
        const from = startWithin(filter, payload.file, start, payload.endPos);
        if (from === undefined) continue;
        yield* this.#runEvents(whole, entry.index, start, from);
        current = { file: payload.file, position: payload.endPos };
        caughtUpSent = false;
      }
    }
  }

  /**
   * Entries from `from` (at most `readBytes`, never past `bound`): from the cache the readers
   * share when another reader read them lately (readers near each other read the disk once),
   * else from the store. A reader reads for the others (into buffers of their own that the cache
   * keeps) when another reader is close enough behind it to find them there; otherwise it reads
   * into its own buffer, reused read after read: the events it hands out are then views that its
   * next read overwrites (marked transient: consumers copy what they keep).
   */
  #read(from: number, bound: number, reader: ActiveReader): { entries: Entry[]; transient: boolean; checked: boolean } {
    const cached = this.#cache.run(from, bound, this.#readBytes);
    if (cached.length > 0) return { entries: cached, transient: false, checked: true };
    const checkCrc = this.#checkCrc();
    // What a reader behind the cache would add is older than what the readers ahead of it need,
    // and would push that out; what nobody behind will read only costs a fresh buffer.
    if (this.#cache.enabled && from > this.#cache.newest && this.#someoneMayFollow(reader, from)) {
      // Cached entries are always checked: other readers take them as they are.
      const entries = this.#store.entries(from, bound + 1, this.#readBytes);
      this.#cache.add(entries);
      return { entries, transient: false, checked: true };
    }
    reader.scratch ??= new ReadBuffer(this.#readBytes);
    return { entries: this.#store.entries(from, bound + 1, this.#readBytes, { into: reader.scratch, checkCrc }), transient: true, checked: checkCrc };
  }

  /**
   * Whether another reader may read from `from` soon: one is behind, within what the cache holds;
   * or, among several, none is behind at all (the last of a pack: replicas that connect next start
   * behind it, often from the same place: a hundred attached one after another to the same file
   * each read that file into a 1 MiB buffer of its own until this). A reader far ahead of the
   * others, with readers behind but all out of reach, reads for itself.
   */
  #someoneMayFollow(reader: ActiveReader, from: number): boolean {
    if (this.#active.size < 2) return false;
    const reach = this.#cache.reachEntries;
    let behind = false;
    for (const other of this.#active) {
      if (other === reader || other.next > from) continue;
      if (from - other.next <= reach) return true;
      behind = true;
    }
    return !behind;
  }

  /** Whether reads check each record's CRC32 now (see verifyRecords): once per read of up to `readBytes`. */
  #checkCrc(): boolean {
    if (this.#verifyRecords === "always") return true;
    const files = this.#index.files();
    return files.length === 0 || files.some((f) => f.checksum !== "CRC32");
  }

  /**
   * The entry's payload (undefined: not one readers serve). An entry read without its CRC32 that
   * does not decode is read again with it checked: a damaged record fails there (STORAGE_CORRUPT)
   * instead of being skipped as an entry this version cannot read.
   */
  #decode(entry: Entry, checked: boolean): EntryPayload | undefined {
    const payload = decodePayload(entry);
    if (payload === undefined && !checked && entry.type === EntryType.Normal && entry.data.length > 0) this.#store.entries(entry.index, entry.index + 1);
    return payload;
  }

  /** A whole fragmented transaction, read again entry by entry and cut into events. */
  async *#runEvents(run: PendingRun, lastEntry: number, start: number, from: number): AsyncGenerator<FeedEvent> {
    const splitter = new EventSplitter(start);
    let parts = 0;
    let found = false;
    try {
      for (let index = run.firstEntry; index <= lastEntry; index++) {
        const [entry] = this.#store.entries(index, index + 1);
        const payload = entry && decodePayload(entry);
        if (payload?.kind !== "fragment") continue;
        if (payload.part !== parts || (parts === 0 && !payload.first)) {
          throw new FeedError("FEED_DAMAGED", `entry ${index} is not fragment ${parts} of the transaction that ends in entry ${lastEntry}`);
        }
        parts++;
        splitter.push(payload.bytes);
        for (let raw = splitter.nextEvent(); raw !== undefined; raw = splitter.nextEvent()) {
          if (raw.offset < from) continue;
          if (!found && raw.offset !== from) break;
          found = true;
          yield { kind: "event", file: run.file, offset: raw.offset, bytes: raw.bytes };
        }
        if (!found && splitter.offset > from) break;
      }
      if (!found) throw new FeedError("FEED_BAD_POSITION", `position ${from} in ${run.file} is not the start of an event`);
      splitter.finish();
    } catch (cause) {
      if (cause instanceof BinlogError) throw new FeedError("FEED_DAMAGED", `the transaction of ${run.file} stored in entries ${run.firstEntry}-${lastEntry}: ${cause.message}`, { cause });
      throw cause;
    }
  }
}

function decodePayload(entry: Entry): EntryPayload | undefined {
  if (entry.type !== EntryType.Normal || !isLogEntry(entry.data)) return undefined;
  try {
    return decodeEntry(entry.data);
  } catch (e) {
    // The node logs an entry it cannot read and skips it; so does every reader.
    if (e instanceof LogEntryError) return undefined;
    throw e;
  }
}

/**
 * Whether an item is past the reader's start, and from which offset to hand out its events
 * (undefined: skip it whole). The first item handed out must begin at the start position, or hold
 * an event that begins there.
 */
function startWithin(filter: StartFilter, file: string, start: number, end: number): number | undefined {
  if (filter.phase === 2) return start;
  if (filter.phase === 0) {
    if (file !== filter.file) return undefined;
    filter.phase = 1;
  }
  if (file !== filter.file) {
    // Past the start file (its end was the start position).
    filter.phase = 2;
    return start;
  }
  if (end <= filter.position) return undefined;
  if (start > filter.position) throw new FeedError("FEED_BAD_POSITION", `position ${filter.position} in ${file} is not stored (the next event stored begins at ${start})`);
  filter.phase = 2;
  return filter.position;
}

/** The events of an item (whole events back to back) from offset `from` on; views, not copies. */
function splitEvents(file: string, start: number, bytes: Uint8Array, from: number, transient: boolean): FeedEvent[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: FeedEvent[] = [];
  let at = 0;
  let found = from === start;
  while (at < buf.length) {
    if (buf.length - at < EVENT_HEADER_LENGTH) throw new FeedError("FEED_DAMAGED", `${file}: ${buf.length - at} bytes at ${start + at} are not a whole event header`);
    const size = buf.readUInt32LE(at + 9);
    if (size < EVENT_HEADER_LENGTH || at + size > buf.length) throw new FeedError("FEED_DAMAGED", `${file}: the event at ${start + at} announces ${size} bytes, ${buf.length - at} are stored`);
    const offset = start + at;
    if (offset === from) found = true;
    if (offset >= from) out.push({ kind: "event", file, offset, bytes: buf.subarray(at, at + size), transient });
    at += size;
  }
  if (!found) throw new FeedError("FEED_BAD_POSITION", `position ${from} in ${file} is not the start of an event`);
  return out;
}

function event(file: string, e: StoredEvent): FeedEvent {
  return { kind: "event", file, offset: e.offset, bytes: e.bytes };
}

/** The first GNO a source's intervals do not hold, counting from 1. */
function firstGap(intervals: readonly { first: bigint; last: bigint }[]): bigint {
  const first = intervals[0];
  return first && first.first <= 1n ? first.last + 1n : 1n;
}
