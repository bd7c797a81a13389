/**
 * Test helper: a LogStore on a temporary directory, filled with entries, applied up to a chosen
 * index into an AppliedBinlogIndex and a BinlogState as the node applies them, and a LogBinlogFeed
 * over it. `store` counts its reads, so tests can show what a dump did not read.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BinlogState } from "../../log-entry/binlog-state.ts";
import { extractBinlogInfo } from "../../log-entry/extract.ts";
import type { Entry } from "../../raft/types.ts";
import { LogStore } from "../../storage/log-store.ts";
import { Notifier } from "../../storage/notifier.ts";
import { AppliedBinlogIndex } from "../applied-index.ts";
import { LogBinlogFeed, type FeedStore } from "../log-feed.ts";
import type { VerifyRecords } from "../verify-records.ts";

export interface HarnessOptions {
  segmentBytes?: number;
  readBytes?: number;
  /** The readers' shared cache (none unless asked: tests count what reaches the store). */
  cacheBytes?: number;
  verifyRecords?: VerifyRecords;
  /** How long `settle` waits (default 3 s). */
  settleMs?: number;
}

export interface CountingStore extends FeedStore {
  /** Entries read through entries() since the last reset. */
  entriesRead: number;
}

export class LogFeedHarness {
  readonly store: LogStore;
  readonly counting: CountingStore;
  readonly index = new AppliedBinlogIndex();
  state = new BinlogState();
  readonly applied = new Notifier();
  /** How many times readers waited for an apply. */
  waits = 0;
  readonly feed: LogBinlogFeed;
  readonly dir: string;

  /** The commit index the feed's `settle` waits for (as a follower learns it from its leader). */
  committed = 0;
  /** Whether that commit index covers what the cluster committed (false: a leader just died). */
  current = true;

  private constructor(dir: string, store: LogStore, options: HarnessOptions) {
    this.dir = dir;
    this.store = store;
    const counting: CountingStore = {
      entriesRead: 0,
      entries: (lo, hi, max, options) => {
        const out = store.entries(lo, hi, max, options);
        counting.entriesRead += out.length;
        return out;
      },
      firstIndex: () => store.firstIndex(),
      lookupGtid: (g) => store.lookupGtid(g),
      earliestEntryWithSeqFrom: (g) => store.earliestEntryWithSeqFrom(g),
      entryAfterPosition: (f, p) => store.entryAfterPosition(f, p),
      purgedGtids: () => store.purgedGtids(),
    };
    this.counting = counting;
    const signal = {
      wait: (s?: AbortSignal) => {
        this.waits++;
        return this.applied.wait(s);
      },
    };
    const progress = { committed: () => this.committed, applied: () => this.index.lastApplied, current: () => this.current };
    this.feed = new LogBinlogFeed({ store: counting, index: this.index, gtids: () => this.state, applied: signal, progress, settleMs: options.settleMs ?? 3000, cacheBytes: options.cacheBytes ?? 0, ...(options.readBytes ? { readBytes: options.readBytes } : {}), ...(options.verifyRecords ? { verifyRecords: options.verifyRecords } : {}) });
  }

  static async open(options: HarnessOptions = {}): Promise<LogFeedHarness> {
    const dir = mkdtempSync(join(tmpdir(), "kingbus-log-feed-"));
    const store = await LogStore.open(dir, { extractBinlogInfo, ...(options.segmentBytes ? { segmentBytes: options.segmentBytes } : {}) });
    return new LogFeedHarness(dir, store, options);
  }

  /** Appends (durable, not yet committed). */
  async append(entries: Entry[]): Promise<void> {
    await this.store.append(entries);
  }

  /** Applies the stored entries up to `through` (committed), then wakes readers as the node's "applied" event does. */
  applyThrough(through: number): void {
    for (let from = this.index.lastApplied + 1; from <= through; ) {
      const batch = this.store.entries(from, through + 1, 16 * 1024 * 1024);
      for (const e of batch) {
        this.state.apply(e);
        this.index.apply(e);
      }
      from = batch.at(-1)!.index + 1;
    }
    this.applied.notify();
  }

  /** As the node after a restart: the state and the index again from the first retained entry. */
  replay(): void {
    const through = this.index.lastApplied;
    this.index.reset();
    this.state = new BinlogState(this.store.purgedGtids());
    for (let from = this.store.firstIndex(); from <= through; ) {
      const batch = this.store.entries(from, through + 1, 16 * 1024 * 1024);
      for (const e of batch) {
        this.state.apply(e);
        this.index.apply(e);
      }
      from = batch.at(-1)!.index + 1;
    }
  }

  async close(): Promise<void> {
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
