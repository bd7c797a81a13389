import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { sharedDir } from "../../test-support/requirements.ts";
import { readBinlogBuffer, readBinlogStream, EventSplitter } from "./reader.ts";
import { BinlogError } from "./errors.ts";

const { dir: shared, skip } = sharedDir();

async function collect(chunks: Buffer[]): Promise<{ offsets: number[]; error?: BinlogError }> {
  const offsets: number[] = [];
  async function* source(): AsyncGenerator<Buffer> {
    yield* chunks;
  }
  try {
    for await (const e of readBinlogStream(source())) offsets.push(e.offset);
    return { offsets };
  } catch (error) {
    if (error instanceof BinlogError) return { offsets, error };
    throw error;
  }
}

function cutAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  return out;
}

test("the stream reader gives the same events however the bytes are chunked", { skip }, async () => {
  const file = readFileSync(join(shared, "fixtures", "binlog", "mysql", "ver_5_1_23.001"));
  const expected = [...readBinlogBuffer(file)].map((e) => e.offset);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.nat(), { maxLength: 40 }), async (cuts) => {
      const { offsets, error } = await collect(cutAt(file, cuts));
      assert.equal(error, undefined);
      assert.deepEqual(offsets, expected);
    }),
    { numRuns: 150 },
  );
  const bytewise = await collect([...file].map((b) => Buffer.of(b)));
  assert.deepEqual(bytewise.offsets, expected, "one byte at a time");
});

test("a file cut anywhere reports BINLOG_TRUNCATED at the offset of the torn event", { skip }, async () => {
  const file = readFileSync(join(shared, "fixtures", "binlog", "mariadb", "mariadb-bin.000001"));
  const events = [...readBinlogBuffer(file)];
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 5, max: file.length - 1 }), async (length) => {
      const { offsets, error } = await collect([file.subarray(0, length)]);
      const torn = events.find((e) => e.offset < length && e.offset + e.bytes.length > length);
      if (torn === undefined) {
        assert.equal(error, undefined);
        return;
      }
      assert.equal(error?.code, "BINLOG_TRUNCATED");
      assert.equal(error?.offset, torn.offset);
      assert.deepEqual(offsets, events.filter((e) => e.offset < torn.offset).map((e) => e.offset));
    }),
    { numRuns: 200 },
  );
});

test("an event size below the header or absurdly large is corruption at that offset", () => {
  const header = (size: number): Buffer => {
    const h = Buffer.alloc(19);
    h[4] = 2;
    h.writeUInt32LE(size, 9);
    return h;
  };
  for (const size of [0, 18, 0xffffffff]) {
    const s = new EventSplitter(4);
    s.push(header(size));
    assert.throws(() => s.nextEvent(), (e: unknown) => e instanceof BinlogError && e.code === "BINLOG_CORRUPT" && e.offset === 4);
  }
});

test("a large event arriving in many chunks is joined once and read whole", () => {
  const size = 3 * 1024 * 1024;
  const event = Buffer.alloc(size, 7);
  event[4] = 30;
  event.writeUInt32LE(size, 9);
  const s = new EventSplitter(4);
  for (let at = 0; at < size; at += 65536) {
    assert.equal(s.nextEvent(), undefined);
    s.push(event.subarray(at, at + 65536));
  }
  const got = s.nextEvent()!;
  assert.equal(got.offset, 4);
  assert.ok(got.bytes.equals(event));
  s.finish();
});
