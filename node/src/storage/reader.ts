/**
 * Tails the log for a dump session: yields entries from an index on, never past `bound()` (the
 * commit index: downstream sees committed entries only), and waits on the store's change notifier
 * when caught up. Each read is bounded in bytes, so a reader holds at most one batch in memory
 * whatever the size of the store.
 */
import type { Entry } from "../raft/types.ts";
import type { LogStore } from "./log-store.ts";

export interface TailOptions {
  /** The highest index that may be read (default: the last durable index). */
  bound?: () => number;
  signal?: AbortSignal;
  /** Bytes of records read at once (default 1 MiB; at least one entry is always read). */
  batchBytes?: number;
}

export async function* tailEntries(store: LogStore, from: number, options: TailOptions = {}): AsyncGenerator<Entry[]> {
  const batchBytes = options.batchBytes ?? 1024 * 1024;
  let next = from;
  while (!options.signal?.aborted) {
    // Subscribe before checking, so a change between the check and the wait is not missed.
    const changed = store.changes.wait(options.signal);
    const limit = Math.min(options.bound?.() ?? store.lastIndex(), store.lastIndex());
    if (next > limit) {
      await changed;
      continue;
    }
    const batch = store.entries(next, limit + 1, batchBytes);
    next += batch.length;
    yield batch;
  }
}
