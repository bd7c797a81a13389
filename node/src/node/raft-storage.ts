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
}

export class RaftLogStorage implements Storage {
  readonly store: LogStore;
  private readonly bootstrapConf: ConfState;
  private savedHard: HardState;
  private lastCommitSaveMs = 0;
  private readonly commitSaveIntervalMs: number;
  private readonly now: () => number;
  private readonly onAppend: ((seconds: number) => void) | undefined;
  /** Files of a leader's snapshot received by the transport, installed when Raft hands the snapshot over. */
  private staged: { meta: SnapshotMetadata; dir: string } | undefined;

  /** `bootstrapConf`: the membership of a brand-new cluster (empty for a node that joins one). */
  constructor(store: LogStore, bootstrapConf: ConfState, options: PersistOptions = {}) {
    this.store = store;
    this.bootstrapConf = bootstrapConf;
    this.savedHard = store.hardState();
    this.commitSaveIntervalMs = options.commitSaveIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.onAppend = options.onAppend;
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
    return translate(() => this.store.entries(lo, hi, maxBytes));
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
      await this.store.append([...ready.entries]);
      this.onAppend?.((performance.now() - started) / 1000);
    }
    const hs = ready.hardState;
    if (!hs) return;
    const voteChanged = hs.term !== this.savedHard.term || hs.vote !== this.savedHard.vote;
    const commitDue = hs.commit !== this.savedHard.commit && this.now() - this.lastCommitSaveMs >= this.commitSaveIntervalMs;
    if (voteChanged || commitDue) await this.saveHardState(hs);
  }

  /** The transport received a leader's snapshot files in `dir`: persist() installs them with the snapshot. */
  stageSnapshotFiles(meta: SnapshotMetadata, dir: string): void {
    this.staged = { meta, dir };
  }

  /** Saves the hard state now (at shutdown, so a restart starts from the latest commit). */
  async saveHardState(hs: HardState): Promise<void> {
    await this.store.saveHardState(hs);
    this.savedHard = { ...hs };
    this.lastCommitSaveMs = this.now();
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
