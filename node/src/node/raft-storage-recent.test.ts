/**
 * The recent-entries memory of RaftLogStorage must be invisible: whatever sequence of appends,
 * overwrites, releases and snapshots happens, every read answers exactly what the segment files
 * answer (same entries, same byte-budget cut), and released entries are no longer held.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LogStore } from "../storage/log-store.ts";
import { RaftLogStorage } from "./raft-storage.ts";
import { EntryType, type Entry } from "../raft/types.ts";
import { removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";

after(removeTempStoreDirs);

function entryOf(index: number, term: number, size: number): Entry {
  return { index, term, type: EntryType.Normal, data: Buffer.alloc(size, (index * 7 + term) & 0xff) };
}

type Step =
  | { kind: "append"; back: number; count: number; size: number }
  | { kind: "release"; back: number }
  | { kind: "read"; from: number; span: number; budget: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("append" as const), back: fc.integer({ min: 0, max: 4 }), count: fc.integer({ min: 1, max: 6 }), size: fc.integer({ min: 0, max: 3000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), back: fc.integer({ min: 0, max: 8 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("read" as const), from: fc.integer({ min: 0, max: 30 }), span: fc.integer({ min: 1, max: 12 }), budget: fc.integer({ min: 1, max: 20_000 }) }) },
);

test("reads served from recent entries equal reads of the segment files, through overwrites and releases", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 40_000 }), async (steps, limit) => {
      const store = await LogStore.open(tempStoreDir(), { segmentBytes: 8 * 1024 });
      const storage = new RaftLogStorage(store, { voters: [1], learners: [] }, { recentEntriesBytes: limit });
      let term = 1;
      try {
        for (const s of steps) {
          const last = store.lastIndex();
          if (s.kind === "append") {
            // Overwriting a suffix takes a newer term, as a new leader's entries do.
            const from = Math.max(1, last + 1 - s.back);
            if (from <= last) term++;
            const batch = Array.from({ length: s.count }, (_, i) => entryOf(from + i, term, s.size));
            await storage.persist({ entries: batch });
          } else if (s.kind === "release") {
            storage.releaseThrough(Math.max(0, last - s.back));
          } else if (last > 0) {
            const lo = Math.min(last, 1 + (s.from % last));
            const hi = Math.min(last + 1, lo + s.span);
            const got = storage.entries(lo, hi, s.budget);
            const want = store.entries(lo, hi, s.budget);
            assert.deepEqual(got.map((e) => [e.index, e.term, Buffer.from(e.data).toString("hex")]), want.map((e) => [e.index, e.term, Buffer.from(e.data).toString("hex")]));
          }
        }
      } finally {
        await store.close();
      }
    }),
    { numRuns: 60 },
  );
});

test("entries are served from memory until applied, then from the files", async () => {
  const store = await LogStore.open(tempStoreDir());
  const storage = new RaftLogStorage(store, { voters: [1], learners: [] });
  try {
    const batch = [entryOf(1, 1, 16 * 1024), entryOf(2, 1, 16 * 1024)];
    await storage.persist({ entries: batch });
    // The very objects appended come back: nothing was read or copied.
    assert.equal(storage.entries(1, 3, Infinity)[0], batch[0]);
    assert.equal(storage.entries(2, 3, Infinity)[0], batch[1]);
    storage.releaseThrough(1);
    assert.notEqual(storage.entries(1, 2, Infinity)[0], batch[0], "a released entry is read from the files");
    assert.deepEqual(Buffer.from(storage.entries(1, 2, Infinity)[0]!.data), batch[0]!.data);
    assert.equal(storage.entries(2, 3, Infinity)[0], batch[1]);
    // A snapshot replaces the log: nothing recent survives it.
    await storage.persist({ snapshot: { index: 10, term: 2, conf: { voters: [1], learners: [] } }, entries: [] });
    await storage.persist({ entries: [entryOf(11, 2, 10)] });
    assert.equal(storage.entries(11, 12, Infinity)[0]!.index, 11);
    assert.equal(store.firstIndex(), 11);
  } finally {
    await store.close();
  }
});
