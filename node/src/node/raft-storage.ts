/**
 * The Raft core's view of the segment-file log: the core reads entries, terms and bounds through
 * the Storage interface; the node loop persists each Ready through persist(). Storage errors
 * become the core's typed errors (compacted / unavailable) so the core can react to them.
 */
import { rm } from "node:fs/promises";
import { LogCompactedError, LogUnavailableError } from "../raft/errors.ts";
import type { Storage } from "../raft/storage.ts";
import type { ConfState, Entry, HardState, SnapshotMetadata } from "../raft/types.ts";
import { StorageError } from "../storage/errors.ts";
import type { LogStore } from "../storage/log-store.ts";

export interface PersistOptions {
  /** Save a commit-only hard state change at most this often (Raft does not need it durable). */
  commitSaveIntervalMs?: number;
  now?: () => number;
  /** Told how long each append of a Ready's entries took, write through fsync, in seconds. */
  onAppend?: (seconds: number) => void;
  /** Bytes of recently appended entries kept in memory until applied (default 8 MiB). */
  recentEntriesBytes?: number;
}

/** What an entry counts against a read's byte budget: its record (header and payload), as the store counts it. */
const RECORD_HEADER_BYTES = 25;

export class RaftLogStorage implements Storage {
  readonly store: LogStore;
  private readonly bootstrapConf: ConfState;
  private savedHard: HardState;
  private lastCommitSaveMs = 0;
  /** The hard-state saves under way, one after another. */
  private hardSaves: Promise<void> = Promise.resolve();
  /** A background commit save that failed: the next persist() reports it (the loop then stops). */
  private backgroundFailure: unknown;
  private readonly commitSaveIntervalMs: number;
  private readonly now: () => number;
  private readonly onAppend: ((seconds: number) => void) | undefined;
  /** Files of a leader's snapshot received by the transport, installed when Raft hands the snapshot over. */
  private staged: { meta: SnapshotMetadata; dir: string } | undefined;
  /**
   * The entries appended since the last one applied, oldest first (`recent[recentHead]` onward).
   * Every node applies each entry shortly after appending it, and the leader sends new entries to
   * followers just behind: serving those from memory spares a read, a buffer and a CRC check per
   * entry on every node. Released once applied, so the buffers die young instead of outliving
   * several garbage collections (which made old-space collections run several times a second
   * under 16 KiB writes). Bounded by bytes; anything not here is read from the segment files.
   */
  private recent: Entry[] = [];
  private recentHead = 0;
  private recentBytes = 0;
  private readonly recentLimit: number;

  /** `bootstrapConf`: the membership of a brand-new cluster (empty for a node that joins one). */
  constructor(store: LogStore, bootstrapConf: ConfState, options: PersistOptions = {}) {
    this.store = store;
    this.bootstrapConf = bootstrapConf;
    this.savedHard = store.hardState();
    this.commitSaveIntervalMs = options.commitSaveIntervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
    this.onAppend = options.onAppend;
    this.recentLimit = options.recentEntriesBytes ?? 8 * 1024 * 1024;
  }

  hardState(): HardState {
    return this.store.hardState();
  }

  snapshot(): SnapshotMetadata {
    const saved = this.store.snapshotMetadata();
    const compacted = this.store.firstIndex() - 1;
    if (saved && saved.index >= compacted) return saved;
    if (compacted === 0) return { index: 0, term: 0, conf: this.store.confState() ?? this.bootstrapConf };
    // Compaction always follows a saved snapshot; without one the membership at that point is unknown.
    throw new StorageError("STORAGE_CORRUPT", `the log is compacted through ${compacted} but no snapshot metadata covers it`, { file: `${this.store.dir}/snapshot` });
  }

  /**
   * Raft's first index: after the snapshot. The store may hold older entries (binlog history that
   * replicas still read), which Raft never asks for.
   */
  firstIndex(): number {
    return Math.max(this.store.firstIndex(), (this.store.snapshotMetadata()?.index ?? 0) + 1);
  }

  lastIndex(): number {
    return this.store.lastIndex();
  }

  term(index: number): number {
    return translate(() => this.store.term(index));
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const cached = this.recentEntries(lo, hi, maxBytes);
    return cached ?? translate(() => this.store.entries(lo, hi, maxBytes));
  }

  /** Entries [lo, hi) from memory when all of them are there, with the store's byte budget rule. */
  private recentEntries(lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    const count = this.recent.length - this.recentHead;
    if (count === 0 || lo >= hi) return undefined;
    const first = this.recent[this.recentHead]!.index;
    if (lo < first || hi - 1 > first + count - 1 || lo < this.store.firstIndex()) return undefined;
    const out: Entry[] = [];
    let budget = maxBytes;
    for (let i = lo; i < hi; i++) {
      const e = this.recent[this.recentHead + i - first]!;
      const size = RECORD_HEADER_BYTES + e.data.length;
      // Only the first entry may exceed the budget, as with the store.
      if (out.length > 0 && size > budget) break;
      out.push(e);
      budget -= size;
      if (budget <= 0) break;
    }
    return out;
  }

  /** Forgets the recent entries through `index` (applied on this node). */
  releaseThrough(index: number): void {
    while (this.recentHead < this.recent.length && this.recent[this.recentHead]!.index <= index) this.dropOldest();
    this.compactRecent();
  }

  private dropOldest(): void {
    this.recentBytes -= this.recent[this.recentHead]!.data.length;
    this.recent[this.recentHead] = undefined as unknown as Entry; // let the buffer go now
    this.recentHead++;
  }

  private compactRecent(): void {
    if (this.recentHead === this.recent.length) {
      this.recent = [];
      this.recentHead = 0;
    } else if (this.recentHead > 1024 && this.recentHead * 2 > this.recent.length) {
      this.recent = this.recent.slice(this.recentHead);
      this.recentHead = 0;
    }
  }

  private clearRecent(): void {
    this.recent = [];
    this.recentHead = 0;
    this.recentBytes = 0;
  }

  /** Appended entries join the recent ones; a suffix they overwrite leaves, as in the store. */
  private rememberAppended(entries: readonly Entry[]): void {
    const from = entries[0]!.index;
    const count = this.recent.length - this.recentHead;
    if (count > 0) {
      const first = this.recent[this.recentHead]!.index;
      const last = first + count - 1;
      if (from <= first || from > last + 1) this.clearRecent();
      else
        while (this.recent.length - this.recentHead > from - first) {
          this.recentBytes -= this.recent.pop()!.data.length;
        }
    }
    for (const e of entries) {
      this.recent.push(e);
      this.recentBytes += e.data.length;
    }
    while (this.recentBytes > this.recentLimit && this.recentHead < this.recent.length) this.dropOldest();
    this.compactRecent();
  }

  lastConfChangeIndex(): number {
    return this.store.lastConfChangeIndex();
  }

  /**
   * Makes a Ready's state durable, in the order recovery needs: a snapshot replaces the log first,
   * then entries are appended (fsynced), then the hard state is saved when term or vote changed
   * (they must be durable before any message that depends on them) or, for commit alone, at most
   * every commitSaveIntervalMs.
   */
  async persist(ready: { snapshot?: SnapshotMetadata; entries: readonly Entry[]; hardState?: HardState }): Promise<void> {
    if (ready.snapshot) {
      // The files the transport received go in now, when the core expects its storage to change
      // (installing them earlier would let the core mistake them for its own log). Without files
      // (a snapshot of metadata only) the log restarts empty at the snapshot's point.
      const staged = this.staged;
      this.staged = undefined;
      this.clearRecent();
      if (staged && staged.meta.index === ready.snapshot.index && staged.meta.term === ready.snapshot.term) {
        await this.store.installSnapshot(ready.snapshot, staged.dir);
        await rm(staged.dir, { recursive: true, force: true });
      } else {
        await this.store.resetToSnapshot(ready.snapshot);
      }
      await this.store.saveConfState(ready.snapshot.conf);
    }
    if (ready.entries.length > 0) {
      const started = performance.now();
      try {
        await this.store.append([...ready.entries]);
      } catch (e) {
        // Part of the batch may be on disk: let the store say what is there.
        this.clearRecent();
        throw e;
      }
      this.rememberAppended(ready.entries);
      this.onAppend?.((performance.now() - started) / 1000);
    }
    if (this.backgroundFailure !== undefined) throw this.backgroundFailure;
    const hs = ready.hardState;
    if (!hs) return;
    const voteChanged = hs.term !== this.savedHard.term || hs.vote !== this.savedHard.vote;
    if (voteChanged) {
      await this.saveHardState(hs);
      return;
    }
    if (hs.commit === this.savedHard.commit || this.now() - this.lastCommitSaveMs < this.commitSaveIntervalMs) return;
    // Commit alone need not be durable before anything (a restarted node learns it again from the
    // leader): the save, an atomic file replacement with two fsyncs, runs beside the loop instead
    // of holding up this Ready's apply (it was a 1-3 ms stall once a second on every node).
    this.lastCommitSaveMs = this.now();
    this.saveHardState(hs).catch((e: unknown) => {
      this.backgroundFailure = e;
    });
  }

  /** The transport received a leader's snapshot files in `dir`: persist() installs them with the snapshot. */
  stageSnapshotFiles(meta: SnapshotMetadata, dir: string): void {
    this.staged = { meta, dir };
  }

  /**
   * Saves the hard state (at shutdown, so a restart starts from the latest commit). Saves run one
   * after another, in the order asked: a commit save still running never lands after a vote.
   */
  saveHardState(hs: HardState): Promise<void> {
    const saved = { ...hs };
    const run = this.hardSaves.then(async () => {
      await this.store.saveHardState(saved);
      this.savedHard = saved;
      this.lastCommitSaveMs = this.now();
    });
    // The queue goes on after a failure; the caller (or persist(), for a background save) sees it.
    this.hardSaves = run.catch(() => undefined);
    return run;
  }
}

function translate<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof StorageError && e.code === "STORAGE_COMPACTED") throw new LogCompactedError(e.message);
    if (e instanceof StorageError && e.code === "STORAGE_UNAVAILABLE") throw new LogUnavailableError(e.message);
    throw e;
  }
}
