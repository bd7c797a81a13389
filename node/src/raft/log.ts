/**
 * The log as the core sees it: the persisted part read through Storage, followed by the unstable
 * tail only the core holds. Also the commit and applied marks, and the rules that compare logs.
 */
import { LogCompactedError, LogUnavailableError, RaftError } from "./errors.ts";
import { limitBytes, type Storage } from "./storage.ts";
import type { Entry, SnapshotMetadata } from "./types.ts";
import { Unstable } from "./unstable.ts";

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index the application has applied (confirmed by advance()). */
  applied: number;

  constructor(storage: Storage, committed: number, applied: number) {
    this.storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = committed;
    this.applied = applied;
  }

  firstIndex(): number {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** The term at `index`, or undefined when it is compacted or beyond the log. */
  maybeTerm(index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    const unstable = this.unstable.term(index);
    if (unstable !== undefined) return unstable;
    try {
      return this.storage.term(index);
    } catch (err) {
      if (err instanceof LogCompactedError || err instanceof LogUnavailableError) return undefined;
      throw err;
    }
  }

  term(index: number): number {
    const term = this.maybeTerm(index);
    if (term !== undefined) return term;
    if (index < this.firstIndex() - 1) throw new LogCompactedError(`term of ${index}: compacted up to ${this.firstIndex() - 1}`);
    throw new LogUnavailableError(`term of ${index}: last index is ${this.lastIndex()}`);
  }

  matchTerm(index: number, term: number): boolean {
    return this.maybeTerm(index) === term;
  }

  /** §5.4.1: a log is at least as up-to-date as ours if its last term is higher, or equal with an index at least ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries [lo, hi) within `maxBytes` (at least one). Throws LogCompactedError below the first index. */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new LogCompactedError(`entries from ${lo}: compacted up to ${this.firstIndex() - 1}`);
    if (hi > this.lastIndex() + 1) throw new RaftError("RAFT_INVARIANT", `entries up to ${hi - 1} beyond the last index ${this.lastIndex()}`);
    if (lo >= hi) return [];
    const offset = this.unstable.offset;
    let result: Entry[] = [];
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      result = this.storage.entries(lo, storedHi, maxBytes);
      if (result.length < storedHi - lo || hi <= offset) return result;
    }
    const tail = this.unstable.slice(Math.max(lo, offset), hi);
    return limitBytes(result.length === 0 ? tail : result.concat(tail), maxBytes);
  }

  /**
   * The index of the first entry of `entries` that is not in our log (absent or with another term),
   * 0 when all are present.
   */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The last index at or below `index` whose term is at most `term`, with that term. Used both by a
   * follower building a rejection hint and by the leader reading one: everything above the result
   * is known not to match a log whose entry at `index` has `term`.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; ; i--) {
      const t = this.maybeTerm(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
  }

  /** Appends after the last index or over an uncommitted suffix. */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    if (after < this.committed) throw new RaftError("RAFT_INVARIANT", `append after ${after} would overwrite committed entries up to ${this.committed}`);
    if (after > this.lastIndex()) throw new RaftError("RAFT_INVARIANT", `append after ${after} leaves a gap after ${this.lastIndex()}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) throw new RaftError("RAFT_INVARIANT", `commit ${index} beyond the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index > this.committed) throw new RaftError("RAFT_INVARIANT", `applied ${index} beyond committed ${this.committed}`);
    this.applied = Math.max(this.applied, index);
  }

  /** The last index persisted as the core sees it; conservative while a snapshot is pending. */
  persistedLastIndex(): number {
    if (this.unstable.snapshot !== undefined) return 0;
    return this.unstable.offset - 1;
  }

  /**
   * Committed entries to hand to the application: only persisted ones, so the node loop may apply
   * them while it persists the next batch.
   */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (this.unstable.snapshot !== undefined) return [];
    const hi = Math.min(this.committed, this.persistedLastIndex());
    if (hi <= this.applied) return [];
    return this.entries(this.applied + 1, hi + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== undefined) return false;
    return Math.min(this.committed, this.persistedLastIndex()) > this.applied;
  }

  snapshot(): SnapshotMetadata {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(snapshot: SnapshotMetadata): void {
    this.committed = snapshot.index;
    this.unstable.restore(snapshot);
  }
}
