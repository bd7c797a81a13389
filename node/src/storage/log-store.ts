/**
 * The segment-file log: Raft's log and kingbus's binlog store in one (nothing is written twice).
 *
 * Durability: an append returns after its records are durable (one synchronous write for the
 * whole batch, and appends that queue up behind a running one share the next write). The open
 * segment is written through O_DSYNC, so the write itself is the sync: one system call and one
 * thread-pool round trip per batch where write + fdatasync took two (about 0.1 ms less per append
 * on a busy machine); `syncMode: "fdatasync"` keeps the separate call for filesystems that need it. lastIndex()
 * only ever reports durable entries. Recovery on open truncates a torn tail; damage anywhere else
 * stops the store with STORAGE_CORRUPT naming the file and the offset. The on-disk layout and the
 * recovery rules are written down in docs/storage.md.
 */
import { closeSync, constants, fdatasyncSync, fsyncSync, ftruncateSync, linkSync, openSync, readFileSync, readSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { mkdir, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { EntryType, type ConfState, type Entry, type HardState, type SnapshotMetadata } from "../raft/types.ts";
import { MysqlGtidSet } from "../binlog/gtid-mysql.ts";
import { MariadbGtidState } from "../binlog/gtid-mariadb.ts";
import { fsyncDirectory, writeFileAtomically } from "./atomic-file.ts";
import { SegmentBinlogIndex, sourceOf, seqOf, type BinlogIndexSummary, type BinlogInfoExtractor, type GtidKey } from "./binlog-index.ts";
import { StorageError, isNoSpace } from "./errors.ts";
import * as meta from "./meta.ts";
import { Notifier } from "./notifier.ts";
import { RECORD_HEADER_LENGTH, decodeRecord, encodeRecord, recordLength } from "./record.ts";
import { purgeThrough, type RetentionPolicy, type SegmentFacts } from "./retention.ts";
import {
  SEGMENT_HEADER_LENGTH,
  checkSegmentHeader,
  decodeSidecarArrays,
  decodeSidecarSummary,
  encodeSegmentHeader,
  encodeSidecar,
  extendTermRuns,
  parseSegmentName,
  segmentName,
  sidecarName,
  termAt,
  truncateTermRuns,
  type SidecarArrays,
  type TermRun,
} from "./segment.ts";

export interface LogStoreOptions {
  /** Roll to a new segment past this size (default 64 MiB). */
  segmentBytes?: number;
  /** Reads the GTIDs and primary positions an entry holds; without it no binlog index is kept. */
  extractBinlogInfo?: BinlogInfoExtractor;
  /** Clock for segment seal times (tests inject one). */
  now?: () => number;
  /** Sealed segments whose offset and key arrays stay in memory (default 8). */
  cachedSegments?: number;
  /** Told the duration of every sync of the log (the O_DSYNC write, or the fdatasync), in seconds (metrics). */
  onSync?: (seconds: number) => void;
  /** "dsync" (default): the open segment is written with O_DSYNC; "fdatasync": write, then fdatasync. */
  syncMode?: "dsync" | "fdatasync";
}

interface Segment {
  firstIndex: number;
  /** firstIndex - 1 while empty. */
  lastIndex: number;
  path: string;
  /** Bytes of the file that hold whole records (the write position of the open segment). */
  sizeBytes: number;
  sealed: boolean;
  sealedMs: number;
  termRuns: TermRun[];
  /** Indexes of membership-change entries in this segment. */
  confChanges: number[];
  /** Open segment: record offsets and binlog keys in memory. Sealed: loaded on demand. */
  offsets: number[] | undefined;
  binlog: SegmentBinlogIndex | undefined;
  /** Sealed segment: key summary (from the sidecar) and where its arrays start. */
  summary: BinlogIndexSummary | undefined;
  arraysAt: number;
}

interface PendingAppend {
  entries: Entry[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Offsets read at once from an uncached sidecar. */
const OFFSET_WINDOW = 256;

/** How entries() reads. */
export interface ReadOptions {
  /** Read into this buffer (reused read after read) instead of a new one. */
  into?: ReadBuffer;
  /** Check each record's CRC32 (default true). */
  checkCrc?: boolean;
}

/**
 * A buffer a reader passes to entries() again and again, so that reading the log allocates
 * nothing: each fresh megabyte is memory V8 counts as external, and every few dozen of them force a
 * full garbage collection (a dump reading a gigabyte spent more time collecting than reading).
 * It grows to the largest read asked of it, up to `maxKeptBytes`; larger reads get a buffer of
 * their own.
 */
export class ReadBuffer {
  #buffer: Buffer;
  #used = 0;
  readonly #maxKeptBytes: number;

  constructor(bytes = 1024 * 1024, maxKeptBytes = 4 * 1024 * 1024) {
    this.#buffer = Buffer.allocUnsafe(bytes);
    this.#maxKeptBytes = maxKeptBytes;
  }

  get capacity(): number {
    return this.#buffer.length;
  }

  /** `length` bytes of room; `restart` at a new read (what earlier reads hold is given up). */
  take(length: number, restart: boolean): Buffer {
    if (restart) this.#used = 0;
    if (this.#used + length > this.#buffer.length) {
      // Entries of this read still point into the current buffer: the rest goes into a new one.
      const next = Buffer.allocUnsafe(Math.max(length, this.#buffer.length));
      if (next.length > this.#maxKeptBytes) return next;
      this.#buffer = next;
      this.#used = 0;
    }
    const out = this.#buffer.subarray(this.#used, this.#used + length);
    this.#used += length;
    return out;
  }
}

export class LogStore {
  readonly dir: string;
  /** Notified after every durable append, compaction or truncation, and by whoever advances a bound readers wait on. */
  readonly changes = new Notifier();
  private readonly segmentBytes: number;
  private readonly extract: BinlogInfoExtractor | undefined;
  private readonly now: () => number;
  private readonly cacheLimit: number;
  private readonly onSync: ((seconds: number) => void) | undefined;
  /** Whether the open segment's writer syncs every write itself (O_DSYNC). */
  private readonly dsync: boolean;
  private segments: Segment[] = [];
  /** The last durable index. */
  private last = 0;
  private compaction: meta.CompactionState = { ...meta.EMPTY_COMPACTION };
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private conf: ConfState | undefined;
  private snapshotMeta: SnapshotMetadata | undefined;
  private writer: FileHandle | undefined;
  private readonly readFds = new Map<string, number>();
  private readonly arraysCache = new Map<number, SidecarArrays>();
  private failure: StorageError | undefined;
  private closed = false;
  private queue: PendingAppend[] = [];
  private writing: Promise<void> | undefined;
  private scratch = Buffer.allocUnsafe(256 * 1024);
  /** The append batch being written now, if any. */
  private batchInFlight: Promise<void> | undefined;
  /** Mutations other than appends wait for the writer and hold it. */
  private exclusive: Promise<void> = Promise.resolve();

  private constructor(dir: string, options: LogStoreOptions) {
    this.dir = dir;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.extract = options.extractBinlogInfo;
    this.now = options.now ?? Date.now;
    this.cacheLimit = options.cachedSegments ?? 8;
    this.onSync = options.onSync;
    this.dsync = (options.syncMode ?? "dsync") === "dsync";
  }

  static async open(dir: string, options: LogStoreOptions = {}): Promise<LogStore> {
    const store = new LogStore(dir, options);
    await store.recover();
    return store;
  }

  // ---------------------------------------------------------------- reading

  firstIndex(): number {
    return this.compaction.compactedThrough + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  /** The index of the last membership-change entry still in the log, 0 when there is none. */
  lastConfChangeIndex(): number {
    for (let k = this.segments.length - 1; k >= 0; k--) {
      const seg = this.segments[k]!;
      for (let j = seg.confChanges.length - 1; j >= 0; j--) {
        const i = seg.confChanges[j]!;
        if (i <= this.last && i > this.compaction.compactedThrough) return i;
      }
    }
    return 0;
  }

  hardState(): HardState {
    return { ...this.hard };
  }

  confState(): ConfState | undefined {
    return this.conf && { voters: [...this.conf.voters], learners: [...this.conf.learners] };
  }

  snapshotMetadata(): SnapshotMetadata | undefined {
    return this.snapshotMeta && structuredClone(this.snapshotMeta);
  }

  /** Transactions no longer held, for refusing requests that need them. */
  purgedGtids(): { mysql: MysqlGtidSet; mariadb: MariadbGtidState } {
    return { mysql: MysqlGtidSet.parse(this.compaction.purgedMysql), mariadb: MariadbGtidState.parse(this.compaction.purgedMariadb) };
  }

  /** Term of an entry; also of firstIndex() - 1 (the compaction point), as Raft needs. */
  term(index: number): number {
    this.check();
    if (index === this.compaction.compactedThrough) return this.compaction.compactedTerm;
    this.checkRange(index, index + 1);
    return termAt(this.segmentOf(index).termRuns, index);
  }

  /**
   * Entries [lo, hi), at most maxBytes of records but always at least one. Reads the files with
   * positioned reads (bounded memory: only what is returned is read). With `into`, the records are
   * read into that caller's buffer instead of a new one: the entries returned are then views that
   * the next read into it overwrites. Every record's CRC32 is checked unless `checkCrc` is false;
   * its length and index always are.
   */
  entries(lo: number, hi: number, maxBytes = Number.MAX_SAFE_INTEGER, options: ReadOptions = {}): Entry[] {
    const { into, checkCrc = true } = options;
    this.check();
    this.checkRange(lo, hi);
    const out: Entry[] = [];
    let budget = maxBytes;
    let index = lo;
    while (index < hi) {
      const seg = this.segmentOf(index);
      const { offsetOf, coveredUntil } = this.offsetsFor(seg, index, hi);
      const end = Math.min(hi, seg.lastIndex + 1, coveredUntil);
      const start = offsetOf(index);
      const endOffset = (i: number): number => (i <= seg.lastIndex ? offsetOf(i) : seg.sizeBytes);
      // The byte budget spans the whole call; only its very first record may exceed it.
      let stop = index;
      while (stop < end && (endOffset(stop + 1) - start <= budget || out.length + stop - index === 0)) stop++;
      if (stop === index) break;
      const length = endOffset(stop) - start;
      const bytes = into === undefined ? Buffer.allocUnsafe(length) : into.take(length, out.length === 0);
      const got = readSync(this.readFd(seg.path), bytes, 0, length, start);
      if (got !== length) this.fail(new StorageError("STORAGE_CORRUPT", `read ${got} of ${length} bytes of records`, { file: seg.path, offset: start }));
      let at = 0;
      for (let i = index; i < stop; i++) {
        const r = decodeRecord(bytes, at, bytes.length, checkCrc);
        if (!r.ok) this.fail(new StorageError("STORAGE_CORRUPT", r.detail, { file: seg.path, offset: start + at }));
        if (r.entry.index !== i) this.fail(new StorageError("STORAGE_CORRUPT", `record holds index ${r.entry.index} where ${i} belongs`, { file: seg.path, offset: start + at }));
        out.push(r.entry);
        at = r.end;
      }
      budget -= length;
      index = stop;
      if (budget <= 0) break;
    }
    return out;
  }

  // ---------------------------------------------------------------- binlog index

  /** The entry holding this GTID, if the log holds it. */
  lookupGtid(g: GtidKey): number | undefined {
    const source = sourceOf(g);
    const seq = seqOf(g);
    for (const seg of this.segments) {
      const index = this.binlogOf(seg, (s) => inRange(s.sources.get(source), seq, false))?.lookupGtid(g);
      if (index !== undefined && index <= this.last && index >= this.firstIndex()) return index;
    }
    return undefined;
  }

  /** The earliest entry holding a GTID of this source with a sequence number >= seq. */
  earliestEntryWithSeqFrom(g: GtidKey): number | undefined {
    const source = sourceOf(g);
    const seq = seqOf(g);
    for (const seg of this.segments) {
      const index = this.binlogOf(seg, (s) => inRange(s.sources.get(source), seq, true))?.earliestEntryWithSeqFrom(source, seq);
      if (index !== undefined && index <= this.last && index >= this.firstIndex()) return index;
    }
    return undefined;
  }

  /** The entry holding the first transaction of the primary's `file` that ends after `pos`. */
  entryAfterPosition(file: string, pos: number): number | undefined {
    for (const seg of this.segments) {
      const index = this.binlogOf(seg, (s) => (s.files.get(file)?.max ?? -1n) > BigInt(pos))?.entryAfterPosition(file, pos);
      if (index !== undefined && index <= this.last && index >= this.firstIndex()) return index;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- writing

  /**
   * Appends entries of consecutive indexes, durably. The first may be at or below lastIndex():
   * the suffix from there is replaced (a follower overwriting conflicting entries). A failed append
   * may have persisted a prefix of its entries; lastIndex() tells which.
   */
  append(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== entries[i - 1]!.index + 1) {
        return Promise.reject(new StorageError("STORAGE_BAD_APPEND", `entries are not consecutive: ${entries[i - 1]!.index} then ${entries[i]!.index}`));
      }
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  /** Removes entries >= from (conflicting entries of a follower). */
  truncateSuffix(from: number): Promise<void> {
    return this.withWriter(() => this.doTruncate(from));
  }

  /**
   * Forgets entries <= through: Raft compaction behind a snapshot, or retention. Whole segments
   * at or below it are deleted; the GTIDs of the forgotten entries join the purged set first.
   */
  compact(through: number): Promise<void> {
    return this.withWriter(() => this.doCompact(through));
  }

  /** Purges what the policy allows (never past appliedIndex); returns the new first index. */
  async applyRetention(policy: RetentionPolicy, appliedIndex: number): Promise<number> {
    const through = purgeThrough(this.segmentFacts(), policy, appliedIndex, this.now());
    if (through !== undefined && through > this.compaction.compactedThrough) await this.compact(through);
    return this.firstIndex();
  }

  /**
   * Files a follower can start from: hard links to the sealed segments and their sidecars, a copy
   * of the open segment's durable bytes, and the compaction state, in `target` (a new directory on
   * the same file system). Nothing in it changes while it is streamed.
   */
  exportSnapshot(target: string): Promise<string[]> {
    return this.withWriter(async () => {
      await mkdir(target, { recursive: true });
      const files: string[] = [];
      for (const seg of this.segments) {
        const name = segmentName(seg.firstIndex);
        if (seg.sealed) {
          linkSync(seg.path, join(target, name));
          linkSync(join(this.dir, sidecarName(seg.firstIndex)), join(target, sidecarName(seg.firstIndex)));
          files.push(name, sidecarName(seg.firstIndex));
        } else {
          const bytes = Buffer.allocUnsafe(seg.sizeBytes);
          readSync(this.readFd(seg.path), bytes, 0, seg.sizeBytes, 0);
          writeFileSync(join(target, name), bytes);
          files.push(name);
        }
      }
      await meta.saveCompaction(target, this.compaction);
      files.push(meta.COMPACTION_FILE);
      return files;
    });
  }

  /**
   * A follower installs a leader's exported files: its own log is replaced by them, cut back to
   * the snapshot's index (Raft sends what follows), and the snapshot metadata saved.
   */
  installSnapshot(m: SnapshotMetadata, source: string): Promise<void> {
    return this.withWriter(async () => {
      for (const seg of [...this.segments].reverse()) await this.deleteSegment(seg);
      for (const name of readdirSync(source)) {
        if (parseSegmentName(name) !== undefined || name.endsWith(".idx") || name === meta.COMPACTION_FILE) await rename(join(source, name), join(this.dir, name));
      }
      await fsyncDirectory(this.dir);
      await meta.saveSnapshotMetadata(this.dir, m);
      this.snapshotMeta = structuredClone(m);
      this.segments = [];
      await this.recover();
      if (this.last < m.index) {
        // The leader's files end before its snapshot point (it compacted past them): start empty there.
        for (const seg of [...this.segments].reverse()) await this.deleteSegment(seg);
        this.compaction = { ...this.compaction, compactedThrough: m.index, compactedTerm: m.term };
        await meta.saveCompaction(this.dir, this.compaction);
        this.last = m.index;
      } else if (this.last > m.index) {
        await this.doTruncate(m.index + 1);
      }
      this.changes.notify();
    });
  }

  /** A follower installing a snapshot without files: the whole log is replaced by the snapshot's point. */
  resetToSnapshot(m: SnapshotMetadata): Promise<void> {
    return this.withWriter(async () => {
      await meta.saveSnapshotMetadata(this.dir, m);
      this.snapshotMeta = m;
      for (const seg of [...this.segments].reverse()) await this.deleteSegment(seg);
      await fsyncDirectory(this.dir);
      this.compaction = { ...this.compaction, compactedThrough: m.index, compactedTerm: m.term };
      await meta.saveCompaction(this.dir, this.compaction);
      this.last = m.index;
      this.changes.notify();
    });
  }

  async saveHardState(hs: HardState): Promise<void> {
    this.check();
    await meta.saveHardState(this.dir, hs);
    this.hard = { ...hs };
  }

  async saveConfState(cs: ConfState): Promise<void> {
    this.check();
    await meta.saveConfState(this.dir, cs);
    this.conf = { voters: [...cs.voters], learners: [...cs.learners] };
  }

  async saveSnapshotMetadata(m: SnapshotMetadata): Promise<void> {
    this.check();
    await meta.saveSnapshotMetadata(this.dir, m);
    this.snapshotMeta = structuredClone(m);
  }

  /** Segment sizes and ages, for retention and metrics. */
  segmentFacts(): SegmentFacts[] {
    return this.segments.map((s) => ({ firstIndex: s.firstIndex, lastIndex: s.lastIndex, bytes: s.sizeBytes, sealed: s.sealed, sealedMs: s.sealedMs }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.writing;
    await this.exclusive;
    this.closed = true;
    await this.writer?.close();
    this.writer = undefined;
    for (const fd of this.readFds.values()) closeSync(fd);
    this.readFds.clear();
    this.changes.notify();
  }

  // ---------------------------------------------------------------- internals: append path

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // Wait out exclusive work (truncation, compaction, snapshots); one may start while we wait.
        for (let ex = this.exclusive; ; ex = this.exclusive) {
          await ex;
          if (ex === this.exclusive) break;
        }
        const batch = this.queue.splice(0);
        // Set before any await, so exclusive work that starts from here on waits for this batch.
        this.batchInFlight = this.writeBatch(batch);
        await this.batchInFlight;
        this.batchInFlight = undefined;
        this.changes.notify();
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    try {
      this.check();
      await this.writeEntries(coalesce(batch.map((b) => b.entries)));
      for (const b of batch) b.resolve();
    } catch (e) {
      for (const b of batch) b.reject(e);
    }
  }

  /** Exclusive work waits for the exclusive work before it and the append batch in flight, never for queued appends. */
  private async withWriter<T>(work: () => Promise<T>): Promise<T> {
    this.check();
    const previous = this.exclusive;
    let release!: () => void;
    this.exclusive = new Promise((r) => (release = r));
    try {
      await previous;
      await this.batchInFlight;
      this.check();
      return await work();
    } finally {
      release();
    }
  }

  private async writeEntries(entries: Entry[]): Promise<void> {
    const first = entries[0]!.index;
    if (first <= this.compaction.compactedThrough || first > this.last + 1) {
      throw new StorageError("STORAGE_BAD_APPEND", `append at index ${first}: the log holds ${this.firstIndex()}..${this.last}`);
    }
    if (first <= this.last) await this.doTruncate(first);
    let i = 0;
    while (i < entries.length) {
      let seg = this.segments.at(-1);
      if (!seg || seg.sealed) seg = await this.createSegment(entries[i]!.index);
      let bytes = 0;
      let j = i;
      while (j < entries.length) {
        const length = recordLength(entries[j]!);
        const empty = seg.lastIndex < seg.firstIndex && j === i;
        if (!empty && seg.sizeBytes + bytes + length > this.segmentBytes) break;
        bytes += length;
        j++;
      }
      if (j === i) {
        await this.seal(seg);
        continue;
      }
      await this.writeRecords(seg, entries.slice(i, j), bytes);
      i = j;
      if (i < entries.length) {
        await this.sync(seg);
        this.last = seg.lastIndex;
        await this.seal(seg);
      }
    }
    await this.sync(this.segments.at(-1)!);
    this.last = this.segments.at(-1)!.lastIndex;
  }

  private async writeRecords(seg: Segment, entries: Entry[], bytes: number): Promise<void> {
    // One buffer reused for every batch (batches are written one at a time): a fresh allocation
    // per batch is the kind of off-heap churn that drives frequent full garbage collections.
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(Math.max(bytes, this.scratch.length * 2));
    const buf = this.scratch;
    const starts: number[] = [];
    let at = 0;
    for (const e of entries) {
      starts.push(seg.sizeBytes + at);
      at = encodeRecord(e, buf, at);
    }
    const writer = await this.openWriter(seg);
    try {
      const started = performance.now();
      let done = 0;
      while (done < bytes) done += (await writer.write(buf, done, bytes - done, seg.sizeBytes + done)).bytesWritten;
      if (this.dsync) this.onSync?.((performance.now() - started) / 1000);
    } catch (e) {
      // Leave the file as it was: a partial batch would be a torn tail at the next open.
      await writer.truncate(seg.sizeBytes).catch((cause: unknown) => this.fail(new StorageError("STORAGE_FAILED", "cannot undo a failed write", { file: seg.path, cause })));
      if (isNoSpace(e)) throw new StorageError("STORAGE_NO_SPACE", `no space to append ${entries.length} entries (${bytes} bytes)`, { file: seg.path, offset: seg.sizeBytes, cause: e });
      this.fail(new StorageError("STORAGE_FAILED", "write failed", { file: seg.path, cause: e }));
    }
    entries.forEach((e, k) => {
      seg.offsets!.push(starts[k]!);
      extendTermRuns(seg.termRuns, e.index, e.term);
      if (e.type === EntryType.ConfChange) seg.confChanges.push(e.index);
      if (this.extract) seg.binlog!.add(e.index, this.extract(e));
    });
    seg.lastIndex = entries.at(-1)!.index;
    seg.sizeBytes += bytes;
  }

  /** Makes the open segment durable: nothing to do after O_DSYNC writes, unless `force` (a truncation). */
  private async sync(seg: Segment, force = false): Promise<void> {
    if (seg.sealed || (this.dsync && !force)) return;
    try {
      const started = performance.now();
      await (await this.openWriter(seg)).datasync();
      this.onSync?.((performance.now() - started) / 1000);
    } catch (e) {
      // After a failed fsync the page cache no longer says what is on disk: stop, reopen to recover.
      this.fail(new StorageError("STORAGE_FAILED", "fdatasync failed", { file: seg.path, cause: e }));
    }
  }

  private async openWriter(seg: Segment): Promise<FileHandle> {
    this.writer ??= await open(seg.path, this.dsync ? constants.O_RDWR | constants.O_DSYNC : "r+");
    return this.writer;
  }

  private async createSegment(firstIndex: number): Promise<Segment> {
    const path = join(this.dir, segmentName(firstIndex));
    await this.writer?.close();
    this.writer = undefined;
    try {
      const fh = await open(path, this.dsync ? constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_DSYNC : "w+");
      try {
        await fh.write(encodeSegmentHeader(firstIndex, this.now()), 0, SEGMENT_HEADER_LENGTH, 0);
        await fh.datasync();
      } catch (e) {
        await fh.close();
        throw e;
      }
      this.writer = fh;
      await fsyncDirectory(this.dir);
    } catch (e) {
      await unlink(path).catch(() => undefined);
      if (isNoSpace(e)) throw new StorageError("STORAGE_NO_SPACE", "no space for a new segment", { file: path, cause: e });
      throw e;
    }
    const seg: Segment = { firstIndex, lastIndex: firstIndex - 1, path, sizeBytes: SEGMENT_HEADER_LENGTH, sealed: false, sealedMs: 0, termRuns: [], confChanges: [], offsets: [], binlog: new SegmentBinlogIndex(), summary: undefined, arraysAt: 0 };
    this.segments.push(seg);
    return seg;
  }

  /** Writes the sidecar (after the records are durable), then the segment is read-only. */
  private async seal(seg: Segment): Promise<void> {
    await this.sync(seg);
    const sealedMs = this.now();
    const binlog = seg.binlog!;
    const offsets = Float64Array.from(seg.offsets!);
    const count = seg.lastIndex - seg.firstIndex + 1;
    const summary = { firstIndex: seg.firstIndex, count, segmentBytes: seg.sizeBytes, sealedMs, termRuns: seg.termRuns, confChanges: seg.confChanges, binlog: binlog.summary() };
    const sidecar = encodeSidecar(summary, { offsets, binlog });
    await writeFileAtomically(this.dir, sidecarName(seg.firstIndex), sidecar);
    await this.writer?.close();
    this.writer = undefined;
    seg.sealed = true;
    seg.sealedMs = sealedMs;
    seg.summary = summary.binlog;
    seg.arraysAt = decodeSidecarSummary(sidecar, seg.path).arraysAt;
    this.cacheArrays(seg.firstIndex, { offsets, binlog });
    seg.offsets = undefined;
    seg.binlog = undefined;
  }

  // ---------------------------------------------------------------- internals: truncation, compaction

  private async doTruncate(from: number): Promise<void> {
    if (from > this.last) return;
    if (from <= this.compaction.compactedThrough) {
      throw new StorageError("STORAGE_BAD_APPEND", `cannot truncate from ${from}: entries up to ${this.compaction.compactedThrough} are compacted`);
    }
    // Newest first, so a crash at any point leaves a contiguous prefix.
    while (this.segments.length > 0 && this.segments.at(-1)!.firstIndex >= from) await this.deleteSegment(this.segments.at(-1)!);
    await fsyncDirectory(this.dir);
    const seg = this.segments.at(-1);
    if (seg && seg.lastIndex >= from) {
      if (seg.sealed) await this.unseal(seg);
      const cut = seg.offsets![from - seg.firstIndex]!;
      const writer = await this.openWriter(seg);
      await writer.truncate(cut);
      await this.sync(seg, true);
      seg.offsets!.length = from - seg.firstIndex;
      truncateTermRuns(seg.termRuns, from);
      seg.confChanges = seg.confChanges.filter((i) => i < from);
      seg.binlog!.truncateFrom(from);
      seg.lastIndex = from - 1;
      seg.sizeBytes = cut;
    }
    this.last = from - 1;
    this.changes.notify();
  }

  /** A sealed segment becomes the open one again: its sidecar goes first, so a crash rescans it. */
  private async unseal(seg: Segment): Promise<void> {
    const arrays = this.arraysOf(seg);
    const sidecar = join(this.dir, sidecarName(seg.firstIndex));
    const fd = this.readFds.get(sidecar);
    if (fd !== undefined) closeSync(fd);
    this.readFds.delete(sidecar);
    await unlink(sidecar);
    await fsyncDirectory(this.dir);
    this.arraysCache.delete(seg.firstIndex);
    seg.sealed = false;
    seg.offsets = Array.from(arrays.offsets);
    seg.binlog = arrays.binlog;
    seg.summary = undefined;
  }

  private async doCompact(through: number): Promise<void> {
    if (through <= this.compaction.compactedThrough) return;
    if (through > this.last) throw new StorageError("STORAGE_UNAVAILABLE", `cannot compact through ${through}: the last entry is ${this.last}`);
    const term = this.term(through);
    const mysql = [];
    const mariadb = MariadbGtidState.parse(this.compaction.purgedMariadb);
    for (const seg of this.segments) {
      if (seg.firstIndex > through) break;
      const binlog = seg.sealed ? this.arraysOf(seg).binlog : seg.binlog!;
      for (const g of binlog.gtidsWithEntries()) {
        if (g.entry <= this.compaction.compactedThrough || g.entry > through) continue;
        if (g.gtid.flavor === "mysql") mysql.push(g.gtid.tag ? { uuid: g.gtid.uuid, tag: g.gtid.tag, gno: g.gtid.gno } : { uuid: g.gtid.uuid, gno: g.gtid.gno });
        else mariadb.record({ domain: g.gtid.domain, serverId: g.gtid.serverId, seq: g.gtid.seq }, { strict: false });
      }
    }
    this.compaction = {
      compactedThrough: through,
      compactedTerm: term,
      purgedMysql: MysqlGtidSet.parse(this.compaction.purgedMysql).union(MysqlGtidSet.fromGtids(mysql)).toString(),
      purgedMariadb: mariadb.toString(),
    };
    // Recorded before any file goes: a crash in between leaves files that open() deletes.
    await meta.saveCompaction(this.dir, this.compaction);
    while (this.segments.length > 0 && this.segments[0]!.lastIndex <= through && this.segments[0]!.lastIndex >= this.segments[0]!.firstIndex) {
      await this.deleteSegment(this.segments[0]!);
    }
    await fsyncDirectory(this.dir);
    this.changes.notify();
  }

  private async deleteSegment(seg: Segment): Promise<void> {
    if (seg === this.segments.at(-1) && this.writer) {
      await this.writer.close();
      this.writer = undefined;
    }
    for (const path of [seg.path, join(this.dir, sidecarName(seg.firstIndex))]) {
      const fd = this.readFds.get(path);
      if (fd !== undefined) closeSync(fd);
      this.readFds.delete(path);
    }
    this.arraysCache.delete(seg.firstIndex);
    await unlink(join(this.dir, sidecarName(seg.firstIndex))).catch(ignoreMissing);
    await unlink(seg.path).catch(ignoreMissing);
    this.segments = this.segments.filter((s) => s !== seg);
  }

  // ---------------------------------------------------------------- internals: recovery

  private async recover(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of readdirSync(this.dir)) if (name.endsWith(".tmp")) unlinkSync(join(this.dir, name));
    this.hard = await meta.loadHardState(this.dir);
    this.conf = await meta.loadConfState(this.dir);
    this.snapshotMeta = await meta.loadSnapshotMetadata(this.dir);
    this.compaction = await meta.loadCompaction(this.dir);
    const through = this.compaction.compactedThrough;

    const firsts = readdirSync(this.dir).map(parseSegmentName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
    const sidecars = new Set(readdirSync(this.dir).filter((n) => n.endsWith(".idx")));
    for (const name of sidecars) {
      const first = Number(name.slice(0, 20));
      if (!firsts.includes(first)) unlinkSync(join(this.dir, name));
    }
    // Finish a compaction that a crash interrupted: whole segments at or below it go.
    while (firsts.length > 1 && firsts[1]! - 1 <= through) {
      const first = firsts.shift()!;
      for (const name of [segmentName(first), sidecarName(first)]) unlinkIfExists(join(this.dir, name));
    }

    for (let k = 0; k < firsts.length; k++) {
      const first = firsts[k]!;
      const isLast = k === firsts.length - 1;
      const seg = isLast ? this.recoverOpenSegment(first, sidecars.has(sidecarName(first))) : this.recoverSealedSegment(first, firsts[k + 1]! - 1, sidecars.has(sidecarName(first)));
      if (seg === undefined) continue;
      const previous = this.segments.at(-1);
      const expected = previous ? previous.lastIndex + 1 : seg.firstIndex;
      if (seg.firstIndex !== expected) {
        throw new StorageError("STORAGE_CORRUPT", `gap in the log: segment starts at index ${seg.firstIndex}, the previous one ends at ${expected - 1}`, { file: seg.path, offset: 0 });
      }
      this.segments.push(seg);
    }
    if (this.segments.length === 1 && this.segments[0]!.lastIndex <= through && this.segments[0]!.lastIndex >= this.segments[0]!.firstIndex) {
      await this.deleteSegment(this.segments[0]!);
    }
    const firstSeg = this.segments[0];
    if (firstSeg && firstSeg.firstIndex > through + 1) {
      throw new StorageError("STORAGE_CORRUPT", `gap in the log: entries after ${through} are compacted but the first segment starts at ${firstSeg.firstIndex}`, { file: firstSeg.path, offset: 0 });
    }
    const lastSeg = this.segments.at(-1);
    this.last = Math.max(through, lastSeg ? lastSeg.lastIndex : 0);
    await fsyncDirectory(this.dir);
  }

  private recoverSealedSegment(first: number, expectedLast: number, hasSidecar: boolean): Segment {
    const path = join(this.dir, segmentName(first));
    if (hasSidecar) {
      const sidecarPath = join(this.dir, sidecarName(first));
      try {
        const head = readHead(sidecarPath);
        const { summary, arraysAt } = decodeSidecarSummary(head, sidecarPath);
        const size = statSync(path).size;
        if (summary.firstIndex !== first || summary.segmentBytes !== size) {
          throw new StorageError("STORAGE_CORRUPT", `sealed segment holds ${size} bytes, its sidecar says ${summary.segmentBytes}`, { file: path, offset: Math.min(size, summary.segmentBytes) });
        }
        if (first + summary.count - 1 !== expectedLast) throw gapAfter(path, first + summary.count - 1, expectedLast + 1);
        return { firstIndex: first, lastIndex: expectedLast, path, sizeBytes: size, sealed: true, sealedMs: summary.sealedMs, termRuns: summary.termRuns, confChanges: summary.confChanges, offsets: undefined, binlog: undefined, summary: summary.binlog, arraysAt };
      } catch (e) {
        // A sidecar is derived data: a damaged one is rebuilt from its segment below.
        if (!(e instanceof StorageError) || !e.message.includes("sidecar")) throw e;
      }
    }
    // No sidecar (a crash between the last record and the seal): rebuild it from the records,
    // every one of which must be whole, since later segments exist.
    const seg = this.scanSegment(first, false);
    if (seg.lastIndex !== expectedLast) throw gapAfter(path, seg.lastIndex, expectedLast + 1);
    const summary = { firstIndex: first, count: seg.lastIndex - first + 1, segmentBytes: seg.sizeBytes, sealedMs: this.now(), termRuns: seg.termRuns, confChanges: seg.confChanges, binlog: seg.binlog!.summary() };
    const sidecar = encodeSidecar(summary, { offsets: Float64Array.from(seg.offsets!), binlog: seg.binlog! });
    writeSyncAtomic(this.dir, sidecarName(first), sidecar);
    return { ...seg, sealed: true, sealedMs: summary.sealedMs, summary: summary.binlog, arraysAt: decodeSidecarSummary(sidecar, path).arraysAt, offsets: undefined, binlog: undefined };
  }

  private recoverOpenSegment(first: number, hasSidecar: boolean): Segment | undefined {
    const path = join(this.dir, segmentName(first));
    const size = statSync(path).size;
    if (size < SEGMENT_HEADER_LENGTH) {
      // Created, header not yet durable: the crash came before any record was written to it.
      unlinkSync(path);
      unlinkIfExists(join(this.dir, sidecarName(first)));
      return undefined;
    }
    if (hasSidecar) {
      const seg = this.recoverSealedSegmentIfWhole(first);
      if (seg) return seg;
    }
    return this.scanSegment(first, true);
  }

  /** The last segment may have been sealed just before a crash (its successor never created). */
  private recoverSealedSegmentIfWhole(first: number): Segment | undefined {
    const sidecarPath = join(this.dir, sidecarName(first));
    try {
      const { summary } = decodeSidecarSummary(readHead(sidecarPath), sidecarPath);
      return this.recoverSealedSegment(first, first + summary.count - 1, true);
    } catch (e) {
      if (e instanceof StorageError && e.message.includes("sidecar")) {
        unlinkSync(sidecarPath);
        return undefined;
      }
      throw e;
    }
  }

  /**
   * Reads every record of a segment, checking each. In the last segment a torn tail (a record cut
   * short by the end of the file, zeros to the end, or a bad last record) is truncated; anywhere
   * else a bad record is STORAGE_CORRUPT.
   */
  private scanSegment(first: number, isLast: boolean): Segment {
    const path = join(this.dir, segmentName(first));
    const bytes = readFileSync(path);
    checkSegmentHeader(bytes, path, first);
    const seg: Segment = { firstIndex: first, lastIndex: first - 1, path, sizeBytes: SEGMENT_HEADER_LENGTH, sealed: false, sealedMs: 0, termRuns: [], confChanges: [], offsets: [], binlog: new SegmentBinlogIndex(), summary: undefined, arraysAt: 0 };
    let at = SEGMENT_HEADER_LENGTH;
    while (at < bytes.length) {
      const r = decodeRecord(bytes, at);
      if (!r.ok) {
        const tornTail = r.reason === "short" || isZeros(bytes, at) || isLastRecord(bytes, at);
        if (isLast && tornTail) {
          truncateFileSync(path, at);
          break;
        }
        throw new StorageError("STORAGE_CORRUPT", r.detail, { file: path, offset: at });
      }
      if (r.entry.index !== seg.lastIndex + 1) {
        throw new StorageError("STORAGE_CORRUPT", `record holds index ${r.entry.index} where ${seg.lastIndex + 1} belongs`, { file: path, offset: at });
      }
      seg.offsets!.push(at);
      extendTermRuns(seg.termRuns, r.entry.index, r.entry.term);
      if (r.entry.type === EntryType.ConfChange) seg.confChanges.push(r.entry.index);
      if (this.extract) seg.binlog!.add(r.entry.index, this.extract({ ...r.entry, data: Buffer.from(r.entry.data) }));
      seg.lastIndex = r.entry.index;
      at = r.end;
    }
    seg.sizeBytes = at;
    return seg;
  }

  // ---------------------------------------------------------------- internals: lookups

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new StorageError("STORAGE_CLOSED", "the log store is closed");
  }

  private fail(e: StorageError): never {
    this.failure ??= e;
    throw e;
  }

  private checkRange(lo: number, hi: number): void {
    if (lo < this.firstIndex()) throw new StorageError("STORAGE_COMPACTED", `index ${lo} is compacted: the log starts at ${this.firstIndex()}`);
    if (hi - 1 > this.last || lo >= hi) throw new StorageError("STORAGE_UNAVAILABLE", `entries ${lo}..${hi - 1} are not in the log (last index ${this.last})`);
  }

  private segmentOf(index: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid]!.firstIndex <= index) lo = mid;
      else hi = mid - 1;
    }
    const seg = this.segments[lo];
    if (!seg || index < seg.firstIndex || index > seg.lastIndex) throw new StorageError("STORAGE_UNAVAILABLE", `no segment holds index ${index}`);
    return seg;
  }

  /**
   * Record offsets for reading from `index`: from memory (open segment, cached sealed segment), or
   * for an uncached sealed segment a window of at most OFFSET_WINDOW offsets read straight from its
   * sidecar, so a random read costs two small reads instead of loading the segment's arrays.
   */
  private offsetsFor(seg: Segment, index: number, hi: number): { offsetOf: (i: number) => number; coveredUntil: number } {
    const inMemory = seg.sealed ? this.arraysCache.get(seg.firstIndex)?.offsets : seg.offsets;
    if (inMemory) return { offsetOf: (i) => inMemory[i - seg.firstIndex]!, coveredUntil: seg.lastIndex + 1 };
    const from = index - seg.firstIndex;
    const count = Math.min(OFFSET_WINDOW, hi - index, seg.lastIndex + 1 - index) + 1;
    const available = Math.min(count, seg.lastIndex - seg.firstIndex + 1 - from);
    const window = Buffer.allocUnsafe(available * 8);
    const sidecar = join(this.dir, sidecarName(seg.firstIndex));
    if (readSync(this.readFd(sidecar), window, 0, window.length, seg.arraysAt + 8 + from * 8) !== window.length) {
      this.fail(new StorageError("STORAGE_CORRUPT", "sidecar offsets are cut short", { file: sidecar, offset: seg.arraysAt + 8 + from * 8 }));
    }
    return {
      offsetOf: (i) => window.readUInt32LE((i - index) * 8) + window.readUInt32LE((i - index) * 8 + 4) * 2 ** 32,
      coveredUntil: index + available - (available === count ? 1 : 0),
    };
  }

  private binlogOf(seg: Segment, mayHold: (s: BinlogIndexSummary) => boolean): SegmentBinlogIndex | undefined {
    if (!seg.sealed) return seg.binlog;
    return mayHold(seg.summary!) ? this.arraysOf(seg).binlog : undefined;
  }

  private arraysOf(seg: Segment): SidecarArrays {
    const cached = this.arraysCache.get(seg.firstIndex);
    if (cached) {
      this.arraysCache.delete(seg.firstIndex);
      this.arraysCache.set(seg.firstIndex, cached);
      return cached;
    }
    const path = join(this.dir, sidecarName(seg.firstIndex));
    let arrays: SidecarArrays;
    try {
      arrays = decodeSidecarArrays(readFileSync(path), seg.arraysAt, seg.lastIndex - seg.firstIndex + 1, path);
    } catch (e) {
      if (e instanceof StorageError) this.fail(e);
      throw e;
    }
    this.cacheArrays(seg.firstIndex, arrays);
    return arrays;
  }

  private cacheArrays(first: number, arrays: SidecarArrays): void {
    this.arraysCache.set(first, arrays);
    while (this.arraysCache.size > this.cacheLimit) this.arraysCache.delete(this.arraysCache.keys().next().value!);
  }

  /** Read descriptors of segments and sidecars, the 64 most recently opened kept open. */
  private readFd(path: string): number {
    let fd = this.readFds.get(path);
    if (fd === undefined) {
      fd = openSync(path, "r");
      this.readFds.set(path, fd);
      if (this.readFds.size > 64) {
        const [oldPath, oldFd] = this.readFds.entries().next().value!;
        closeSync(oldFd);
        this.readFds.delete(oldPath);
      }
    }
    return fd;
  }
}

function gapAfter(path: string, last: number, nextFirst: number): StorageError {
  return new StorageError("STORAGE_CORRUPT", `gap in the log after this segment: it ends at index ${last}, the next segment (${segmentName(nextFirst)}) starts at ${nextFirst}`, { file: path });
}

function coalesce(batches: Entry[][]): Entry[] {
  // A later batch starting inside the accumulated run replaces its tail (overwrite semantics).
  let out: Entry[] = [];
  for (const b of batches) {
    if (out.length === 0) {
      out = [...b];
      continue;
    }
    const first = b[0]!.index;
    const base = out[0]!.index;
    if (first > base + out.length) throw new StorageError("STORAGE_BAD_APPEND", `append at index ${first} would leave a gap after ${base + out.length - 1}`);
    out = first < base ? [...b] : [...out.slice(0, first - base), ...b];
  }
  return out;
}

function inRange(s: { min: bigint; max: bigint } | undefined, key: bigint, orAbove: boolean): boolean {
  return s !== undefined && key <= s.max && (orAbove || key >= s.min);
}

/** A bad record whose announced length reaches exactly the end of the file is the torn last one. */
function isLastRecord(bytes: Buffer, at: number): boolean {
  return bytes.length - at >= 4 && at + RECORD_HEADER_LENGTH + bytes.readUInt32LE(at) === bytes.length;
}

function isZeros(bytes: Buffer, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

const SIDECAR_HEAD_BYTES = 64 * 1024;

/** The first bytes of a sidecar: its head and summary almost always fit; else the whole file. */
function readHead(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const size = statSync(path).size;
    const buf = Buffer.allocUnsafe(Math.min(size, SIDECAR_HEAD_BYTES));
    readSync(fd, buf, 0, buf.length, 0);
    if (buf.length >= 12 && 16 + buf.readUInt32LE(8) > buf.length && size > buf.length) return readFileSync(path);
    return buf;
  } finally {
    closeSync(fd);
  }
}

function ignoreMissing(e: unknown): void {
  if ((e as { code?: string }).code !== "ENOENT") throw e;
}

function unlinkIfExists(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    ignoreMissing(e);
  }
}

function truncateFileSync(path: string, length: number): void {
  const fd = openSync(path, "r+");
  try {
    ftruncateSync(fd, length);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The synchronous twin used during recovery; open() fsyncs the directory once at its end. */
function writeSyncAtomic(dir: string, name: string, bytes: Buffer): void {
  const tmp = join(dir, `${name}.tmp`);
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
}
