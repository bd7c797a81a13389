/**
 * The Raft core's view of the segment-file log: the core reads entries, terms and bounds through
 * the Storage interface; the node loop persists each Ready through persist(). Storage errors
 * become the core's typed errors (compacted / unavailable) so the core can react to them.
 */
import { LogCompactedError, LogUnavailableError } from "../raft/errors.ts";
import type { Storage } from "../raft/storage.ts";
import type { ConfState, Entry, HardState, SnapshotMetadata } from "../raft/types.ts";
import { StorageError } from "../storage/errors.ts";
import type { LogStore } from "../storage/log-store.ts";

export interface PersistOptions {
  /** Save a commit-only hard state change at most this often (Raft does not need it durable). */
  commitSaveIntervalMs?: number;
  now?: () => number;
}

export class RaftLogStorage implements Storage {
  readonly store: LogStore;
  private readonly bootstrapConf: ConfState;
  private savedHard: HardState;
  private lastCommitSaveMs = 0;
  private readonly commitSaveIntervalMs: number;
  private readonly now: () => number;

  /** `bootstrapConf`: the membership of a brand-new cluster (empty for a node that joins one). */
  constructor(store: LogStore, bootstrapConf: ConfState, options: PersistOptions = {}) {
    this.store = store;
    this.bootstrapConf = bootstrapConf;
    this.savedHard = store.hardState();
    this.commitSaveIntervalMs = options.commitSaveIntervalMs ?? 1000;
    this.now = options.now ?? Date.now;
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

  firstIndex(): number {
    return this.store.firstIndex();
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
      await this.store.resetToSnapshot(ready.snapshot);
      await this.store.saveConfState(ready.snapshot.conf);
    }
    if (ready.entries.length > 0) await this.store.append([...ready.entries]);
    const hs = ready.hardState;
    if (!hs) return;
    const voteChanged = hs.term !== this.savedHard.term || hs.vote !== this.savedHard.vote;
    const commitDue = hs.commit !== this.savedHard.commit && this.now() - this.lastCommitSaveMs >= this.commitSaveIntervalMs;
    if (voteChanged || commitDue) await this.saveHardState(hs);
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
