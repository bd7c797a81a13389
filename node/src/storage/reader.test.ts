import { test, after } from "node:test";
import assert from "node:assert/strict";
import { LogStore } from "./log-store.ts";
import { tailEntries } from "./reader.ts";
import { StorageError } from "./errors.ts";
import { entries, removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";

after(removeTempStoreDirs);

test("a tailing reader delivers the log in bounded batches, then new entries as they become durable", async () => {
  const store = await LogStore.open(tempStoreDir(), { segmentBytes: 64 * 1024 });
  await store.append(entries(1, 400, 1, 1000));
  const controller = new AbortController();
  const seen: number[] = [];
  let largestBatch = 0;
  const reading = (async () => {
    for await (const batch of tailEntries(store, 1, { signal: controller.signal, batchBytes: 16 * 1024 })) {
      largestBatch = Math.max(largestBatch, batch.reduce((n, e) => n + e.data.length + 25, 0));
      for (const e of batch) seen.push(e.index);
      if (seen.at(-1) === 450) controller.abort();
    }
  })();
  while (seen.length < 400) await new Promise((r) => setTimeout(r, 5));
  await store.append(entries(401, 50, 1, 1000));
  await reading;
  assert.deepEqual(seen, Array.from({ length: 450 }, (_, k) => k + 1));
  assert.ok(largestBatch <= 16 * 1024, `batches stay within 16 KiB (largest ${largestBatch})`);
  await store.close();
});

test("the reader never passes its bound, and moves when the bound moves", async () => {
  const store = await LogStore.open(tempStoreDir());
  await store.append(entries(1, 100));
  let commit = 40;
  const controller = new AbortController();
  const seen: number[] = [];
  const reading = (async () => {
    for await (const batch of tailEntries(store, 1, { bound: () => commit, signal: controller.signal })) {
      for (const e of batch) {
        assert.ok(e.index <= commit, `entry ${e.index} read past the bound ${commit}`);
        seen.push(e.index);
      }
      if (seen.at(-1) === 100) controller.abort();
    }
  })();
  while (seen.length < 40) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(seen.length, 40, "nothing past the bound while it stays");
  commit = 100;
  store.changes.notify();
  await reading;
  assert.equal(seen.length, 100);
  await store.close();
});

test("a reader behind a compaction gets STORAGE_COMPACTED", async () => {
  const store = await LogStore.open(tempStoreDir(), { segmentBytes: 2048 });
  await store.append(entries(1, 100));
  await store.compact(50);
  const reader = tailEntries(store, 10);
  await assert.rejects(reader.next(), (e: unknown) => e instanceof StorageError && e.code === "STORAGE_COMPACTED");
  await store.close();
});
