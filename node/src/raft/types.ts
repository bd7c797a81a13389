/**
 * The values the Raft core shares with the storage that persists them and the transport that
 * carries them. Indexes and terms are JavaScript numbers: 2^53 entries outlast any binlog.
 */

/** What an entry holds; the storage record keeps it as one byte (the numeric value). */
export const EntryType = {
  /** Application data: whole binlog transactions, fragments, control records of kingbus. */
  Normal: 0,
  /** A membership change, applied by the Raft core itself. */
  ConfChange: 1,
  /** The empty entry a new leader appends to commit entries of earlier terms. */
  Empty: 2,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** What must be on disk before a message that depends on it is sent. */
export interface HardState {
  term: number;
  /** The node voted for in `term`, 0 for none. Node ids are positive. */
  vote: number;
  commit: number;
}

/** The membership a snapshot or a conf change leaves in force. */
export interface ConfState {
  voters: number[];
  learners: number[];
}

export interface SnapshotMetadata {
  /** Last entry the snapshot covers. */
  index: number;
  term: number;
  conf: ConfState;
}
