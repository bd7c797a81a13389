/**
 * The persisted log as the core reads it. The core never writes through this interface: the node
 * loop persists what each Ready hands it, then the core reads it back from here. Reads are
 * synchronous; an implementation keeps indexes and terms in memory and may read payloads from disk.
 */
import type { Entry, HardState, SnapshotMetadata } from "./types.ts";

export interface Storage {
  /** The hard state as last persisted; term 0, vote 0, commit 0 on a fresh node. */
  hardState(): HardState;
  /**
   * The latest snapshot. A node that never had one reports index 0, term 0 and the membership it
   * was bootstrapped with (empty for a node that will join an existing cluster).
   */
  snapshot(): SnapshotMetadata;
  /** snapshot().index + 1: entries before it live only in the snapshot. */
  firstIndex(): number;
  /** The last stored index; snapshot().index when no entry follows the snapshot. */
  lastIndex(): number;
  /**
   * The term of entry `index`, for snapshot().index <= index <= lastIndex() (the snapshot's own
   * term at its index). Throws LogCompactedError below that range, LogUnavailableError above it.
   */
  term(index: number): number;
  /**
   * Entries [lo, hi), in order. Stops before the entry whose payload would take the total past
   * `maxBytes`, but returns at least one entry when lo < hi. Throws LogCompactedError when
   * lo < firstIndex(), LogUnavailableError when hi > lastIndex() + 1 or the payloads cannot be read.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * The index of the last ConfChange entry stored after the snapshot, 0 when there is none. The
   * core reads that entry at start-up to learn the membership in force.
   */
  lastConfChangeIndex(): number;
}

/** The bytes an entry counts for against message and apply limits: its payload. */
export function payloadBytes(entry: Entry): number {
  return entry.data.byteLength;
}

/** The longest prefix within `maxBytes`, never empty when `entries` is not. */
export function limitBytes(entries: Entry[], maxBytes: number): Entry[] {
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    total += payloadBytes(entries[i]!);
    if (total > maxBytes && i > 0) return entries.slice(0, i);
  }
  return entries;
}
