/**
 * Reading the log into a reused buffer (ReadBuffer): what a dump of a lone replica reads with, so
 * that streaming a gigabyte allocates nothing. The entries must be those a plain read returns, the
 * memory must really be reused, and a read that does not fit must still come back whole.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { LogStore, ReadBuffer } from "./log-store.ts";
import { entries, payloadOf, removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";

after(removeTempStoreDirs);

test("entries() into a ReadBuffer: the same entries as a plain read, across segments, in the same memory read after read", async () => {
  const store = await LogStore.open(tempStoreDir(), { segmentBytes: 64 * 1024 });
  try {
    for (let i = 1; i <= 200; i += 20) await store.append(entries(i, 20, 1, 1000));
    const into = new ReadBuffer(16 * 1024);
    let previous: ArrayBufferLike | undefined;
    let sameMemory = 0;
    for (let from = 1; from <= 200; ) {
      // 12 KiB per read: several segment boundaries are crossed on the way.
      const got = store.entries(from, 201, 12 * 1024, { into });
      const plain = store.entries(from, 201, 12 * 1024);
      assert.deepEqual(got.map((e) => e.index), plain.map((e) => e.index));
      for (const e of got) assert.ok(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).equals(payloadOf(e.index, 1, 1000)), `entry ${e.index} read into the buffer`);
      const memory = got[0]!.data.buffer;
      if (memory === previous) sameMemory++;
      previous = memory;
      from = got.at(-1)!.index + 1;
    }
    assert.ok(sameMemory >= 10, `reads reused the buffer (${sameMemory} of them)`);
    assert.equal(into.capacity, 16 * 1024, "reads that fit never grew it");
  } finally {
    await store.close();
  }
});

test("a ReadBuffer grows for a read larger than it, up to its limit; beyond that the read gets a buffer of its own", async () => {
  const store = await LogStore.open(tempStoreDir());
  try {
    await store.append([...entries(1, 1, 1, 40 * 1024), ...entries(2, 1, 1, 300 * 1024)]);
    const into = new ReadBuffer(8 * 1024, 64 * 1024);
    const [big] = store.entries(1, 2, 1, { into });
    assert.ok(Buffer.from(big!.data).equals(payloadOf(1, 1, 40 * 1024)));
    assert.ok(into.capacity >= 40 * 1024 && into.capacity <= 64 * 1024, `grew to ${into.capacity}`);
    const [huge] = store.entries(2, 3, 1, { into });
    assert.ok(Buffer.from(huge!.data).equals(payloadOf(2, 1, 300 * 1024)));
    assert.ok(into.capacity <= 64 * 1024, "a read over the limit is not kept");
    // The earlier entry's memory was not the huge read's.
    assert.notEqual(big!.data.buffer, huge!.data.buffer);
  } finally {
    await store.close();
  }
});
