/**
 * A Storage held in memory, for tests, the simulator and benchmarks. Besides the reading side the
 * core uses, it has the writing side a node loop needs (save a Ready, compact), with the checks a
 * real storage would make.
 */
import { decodeConfChange, emptyConfState, normalizeConfState } from "./conf-change.ts";
import { LogCompactedError, LogUnavailableError, RaftError } from "./errors.ts";
import { limitBytes, type Storage } from "./storage.ts";
import { EntryType, type ConfState, type Entry, type HardState, type SnapshotMetadata } from "./types.ts";

export interface PersistUpdate {
  hardState?: HardState | undefined;
  entries?: readonly Entry[] | undefined;
  snapshot?: SnapshotMetadata | undefined;
}

export class MemoryStorage implements Storage {
  private hs: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: SnapshotMetadata;
  /** ents[k].index === snap.index + 1 + k. */
  private ents: Entry[] = [];
  /** Indexes of the ConfChange entries in `ents`, ascending. */
  private confIndexes: number[] = [];

  /** A fresh node: bootstrapped with `conf`, or empty to join an existing cluster later. */
  constructor(conf: ConfState = emptyConfState()) {
    this.snap = { index: 0, term: 0, conf: normalizeConfState(conf) };
  }

  hardState(): HardState {
    return { ...this.hs };
  }

  snapshot(): SnapshotMetadata {
    return this.snap;
  }

  firstIndex(): number {
    return this.snap.index + 1;
  }

  lastIndex(): number {
    return this.snap.index + this.ents.length;
  }

  term(index: number): number {
    if (index < this.snap.index) throw new LogCompactedError(`term of ${index}: compacted up to ${this.snap.index}`);
    if (index === this.snap.index) return this.snap.term;
    const entry = this.ents[index - this.snap.index - 1];
    if (entry === undefined) throw new LogUnavailableError(`term of ${index}: last index is ${this.lastIndex()}`);
    return entry.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new LogCompactedError(`entries from ${lo}: compacted up to ${this.snap.index}`);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(`entries up to ${hi - 1}: last index is ${this.lastIndex()}`);
    if (lo >= hi) return [];
    const offset = this.snap.index + 1;
    return limitBytes(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  lastConfChangeIndex(): number {
    return this.confIndexes.at(-1) ?? 0;
  }

  /** Persists a Ready's durable parts in the order a crash can tolerate: snapshot, entries, hard state. */
  save(update: PersistUpdate): void {
    if (update.snapshot) this.applySnapshot(update.snapshot);
    if (update.entries && update.entries.length > 0) this.append(update.entries);
    if (update.hardState) this.setHardState(update.hardState);
  }

  setHardState(hs: HardState): void {
    this.hs = { ...hs };
  }

  /** Appends, first discarding any stored entry at or after entries[0].index (a conflicting suffix). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.snap.index) throw new RaftError("RAFT_MISUSE", `append at ${first} into the snapshot (up to ${this.snap.index})`);
    if (first > this.lastIndex() + 1) throw new RaftError("RAFT_MISUSE", `append at ${first} leaves a gap after ${this.lastIndex()}`);
    this.ents.length = first - this.snap.index - 1;
    while (this.confIndexes.length > 0 && this.confIndexes.at(-1)! >= first) this.confIndexes.pop();
    for (const e of entries) {
      this.ents.push(e);
      if (e.type === EntryType.ConfChange) this.confIndexes.push(e.index);
    }
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: SnapshotMetadata): void {
    if (snapshot.index < this.snap.index) throw new RaftError("RAFT_MISUSE", `snapshot at ${snapshot.index} older than the stored one at ${this.snap.index}`);
    this.snap = snapshot;
    this.ents = [];
    this.confIndexes = [];
  }

  /**
   * Drops the entries up to `index` (which the application has applied), keeping their last term
   * and the membership in force there as the snapshot's metadata.
   */
  compact(index: number): void {
    if (index <= this.snap.index) return;
    if (index > this.lastIndex()) throw new RaftError("RAFT_MISUSE", `compact to ${index} beyond the last index ${this.lastIndex()}`);
    const snapshot: SnapshotMetadata = { index, term: this.term(index), conf: this.confAt(index) };
    this.ents = this.ents.slice(index - this.snap.index);
    this.confIndexes = this.confIndexes.filter((i) => i > index);
    this.snap = snapshot;
  }

  /** The membership after the entries up to `index`. */
  private confAt(index: number): ConfState {
    let last = 0;
    for (const i of this.confIndexes) if (i <= index) last = i;
    if (last === 0) return this.snap.conf;
    return decodeConfChange(this.ents[last - this.snap.index - 1]!.data).after;
  }
}
