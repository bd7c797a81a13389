import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SendQueue } from "./send-queue.ts";
import { Backoff } from "./backoff.ts";

function drain(q: SendQueue<number>): number[] {
  const out: number[] = [];
  while (q.length > 0) out.push(...q.take(Infinity));
  return out;
}

test("past the message bound the oldest non-essential messages go, essential ones stay, order holds", () => {
  const q = new SendQueue<number>({ maxMessages: 5, maxBytes: 1_000 });
  q.push(1, 10, true);
  for (let i = 2; i <= 9; i++) assert.equal(q.push(i, 10, false), i <= 5 ? 0 : 1);
  assert.equal(q.length, 5);
  assert.equal(q.dropped, 4);
  assert.deepEqual(drain(q), [1, 6, 7, 8, 9]);
});

test("the byte bound holds too, and with only essential messages the oldest goes", () => {
  const q = new SendQueue<string>({ maxMessages: 100, maxBytes: 100 });
  q.push("a", 40, false);
  q.push("b", 40, true);
  assert.equal(q.push("c", 40, true), 1, "a (non-essential) made room");
  assert.equal(q.bytes, 80);
  assert.equal(q.push("d", 40, true), 1, "all essential: the oldest, b, goes");
  assert.deepEqual(q.take(Infinity), ["c", "d"]);
  assert.equal(q.bytes, 0);
});

test("take stops before the byte limit but always returns at least one message", () => {
  const q = new SendQueue<number>({ maxMessages: 100, maxBytes: 10_000 });
  for (let i = 0; i < 10; i++) q.push(i, i === 0 ? 500 : 30, false);
  assert.deepEqual(q.take(100), [0], "an oversized head goes alone");
  assert.deepEqual(q.take(100), [1, 2, 3]);
  assert.equal(q.length, 6);
  assert.equal(q.bytes, 180);
});

test("under any pushes and takes: bounds hold, kept messages keep their order, every message is sent or counted as dropped", () => {
  const op = fc.oneof(
    fc.record({ push: fc.integer({ min: 1, max: 300 }), essential: fc.boolean() }),
    fc.record({ take: fc.integer({ min: 1, max: 2_000 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 400 }), fc.integer({ min: 1, max: 20 }), (ops, maxMessages) => {
    const q = new SendQueue<number>({ maxMessages, maxBytes: 1_000 });
    const taken: number[] = [];
    let pushed = 0;
    for (const o of ops) {
      if ("push" in o) q.push(pushed++, o.push, o.essential);
      else taken.push(...q.take(o.take));
      assert.ok(q.length <= maxMessages && q.bytes <= 1_000);
    }
    taken.push(...drain(q));
    assert.deepEqual(taken, [...taken].sort((a, b) => a - b), "never reordered");
    assert.equal(taken.length + q.dropped, pushed);
  }));
});

test("backoff doubles from the initial delay to the cap, jittered in the upper half of each step, and resets", () => {
  const low = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0 });
  assert.deepEqual(Array.from({ length: 7 }, () => low.next()), [50, 100, 200, 400, 500, 500, 500]);
  low.reset();
  assert.equal(low.next(), 50);
  const high = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0.999_999 });
  assert.deepEqual(Array.from({ length: 6 }, () => high.next()), [100, 200, 400, 800, 1_000, 1_000]);
  const real = new Backoff({ initialMs: 100, maxMs: 1_000 });
  for (let i = 0; i < 100; i++) assert.ok(real.next() <= 1_000);
});

test("a message taken or dropped from the queue is no longer held by it, though the queue never empties", async () => {
  const { collectGarbage } = await import("./testing.ts");
  const q = new SendQueue<{ payload: Uint8Array }>({ maxMessages: 3, maxBytes: 1 << 30 });
  const refs: WeakRef<object>[] = [];
  const push = () => {
    const m = { payload: new Uint8Array(1024) };
    refs.push(new WeakRef(m));
    q.push(m, 1024, false);
  };
  for (let i = 0; i < 10; i++) {
    push();
    push();
    q.take(1024); // one goes, one stays: the queue is never empty, so it is never compacted
  }
  // 20 pushed, 10 taken, 8 dropped by the 3-message bound: only the 2 still queued may be alive.
  await new Promise((r) => setImmediate(r));
  collectGarbage();
  assert.equal(q.length, 2);
  assert.equal(q.dropped, 8);
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 2);
});
