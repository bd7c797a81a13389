/**
 * The tail of the log that is not durable yet: entries (and possibly a snapshot received from the
 * leader) that the node loop has not confirmed persisting. Part of it may be "in progress": handed
 * out in a Ready whose advance() has not come yet.
 */
import { RaftError } from "./errors.ts";
import type { Entry, SnapshotMetadata } from "./types.ts";

export class Unstable {
  snapshot: SnapshotMetadata | undefined;
  /** entries[k].index === offset + k. */
  entries: Entry[] = [];
  offset: number;
  /** Entries up to this index were handed out for persistence already. */
  inProgressTo: number;
  snapshotInProgress = false;

  /** `offset` is the index the first unstable entry will have: the stored last index + 1. */
  constructor(offset: number) {
    this.offset = offset;
    this.inProgressTo = offset - 1;
  }

  lastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.index;
  }

  /** Index of the first entry known here, if a snapshot makes it so. */
  firstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.index + 1;
  }

  term(index: number): number | undefined {
    if (index < this.offset) return this.snapshot !== undefined && this.snapshot.index === index ? this.snapshot.term : undefined;
    return this.entries[index - this.offset]?.term;
  }

  /** Entries [lo, hi), which must lie within the unstable entries. */
  slice(lo: number, hi: number): Entry[] {
    if (lo < this.offset || hi > this.offset + this.entries.length) {
      throw new RaftError("RAFT_INVARIANT", `unstable slice [${lo},${hi}) outside [${this.offset},${this.offset + this.entries.length})`);
    }
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }

  entriesToPersist(): Entry[] {
    const from = Math.max(this.inProgressTo + 1, this.offset) - this.offset;
    return from >= this.entries.length ? [] : this.entries.slice(from);
  }

  entriesToPersistCount(): number {
    return Math.max(0, this.offset + this.entries.length - 1 - Math.max(this.inProgressTo, this.offset - 1));
  }

  snapshotToPersist(): SnapshotMetadata | undefined {
    return this.snapshotInProgress ? undefined : this.snapshot;
  }

  /** Marks everything currently unstable as handed out. */
  acceptInProgress(): void {
    if (this.entries.length > 0) this.inProgressTo = this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) this.snapshotInProgress = true;
  }

  /**
   * The node loop persisted entries up to (index, term). If the entry there has changed since it was
   * handed out (a new leader overwrote it), what is in memory now is not what was persisted.
   */
  stableTo(index: number, term: number): boolean {
    if (this.term(index) !== term || index < this.offset) return false;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
    return true;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.index === index) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
  }

  restore(snapshot: SnapshotMetadata): void {
    this.offset = snapshot.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
    this.inProgressTo = snapshot.index;
    this.snapshotInProgress = false;
  }

  /** Appends `entries`, dropping whatever unstable entries they conflict with. */
  truncateAndAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first === this.offset + this.entries.length) {
      for (const e of entries) this.entries.push(e);
    } else if (first <= this.offset) {
      // Replaces the stored tail as well: the node loop will overwrite it from `first`.
      this.offset = first;
      this.entries = [...entries];
    } else {
      this.entries = this.entries.slice(0, first - this.offset);
      for (const e of entries) this.entries.push(e);
    }
    this.inProgressTo = Math.min(this.inProgressTo, first - 1);
  }
}
