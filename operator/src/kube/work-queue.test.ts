import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkQueue } from "./work-queue.ts";

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

test("a key added while queued is processed once; keys run in the order they were added", async () => {
  const seen: string[] = [];
  const q = new WorkQueue({ handler: async (k) => { seen.push(k); } });
  q.add("a"); q.add("b"); q.add("a"); q.add("c"); q.add("b");
  assert.equal(q.length, 3);
  q.start();
  await q.idle();
  assert.deepEqual(seen, ["a", "b", "c"]);
  await q.stop();
});

test("a key is never processed twice at once; added while running, it runs again afterwards, once", async () => {
  const gate = deferred();
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const q = new WorkQueue({
    concurrency: 4,
    handler: async () => {
      runs++;
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (runs === 1) await gate.promise;
      running--;
    },
  });
  q.start();
  q.add("k");
  await new Promise((r) => setImmediate(r));
  assert.equal(q.processing, 1);
  q.add("k"); q.add("k"); q.add("k");
  assert.equal(q.length, 0, "not queued while it runs: it is marked to run again");
  gate.resolve();
  await q.idle();
  assert.equal(runs, 2);
  assert.equal(maxRunning, 1);
  await q.stop();
});

test("different keys run concurrently up to the concurrency", async () => {
  const gate = deferred();
  let running = 0;
  let maxRunning = 0;
  const q = new WorkQueue({ concurrency: 2, handler: async () => { running++; maxRunning = Math.max(maxRunning, running); await gate.promise; running--; } });
  q.start();
  for (const k of ["a", "b", "c", "d"]) q.add(k);
  await new Promise((r) => setImmediate(r));
  assert.equal(q.processing, 2);
  assert.equal(q.length, 2);
  gate.resolve();
  await q.idle();
  assert.equal(maxRunning, 2);
  await q.stop();
});

test("failures retry with exponential backoff per key, reset by a success", async () => {
  const times: number[] = [];
  let fail = 4;
  const errors: number[] = [];
  const q = new WorkQueue({
    backoff: { baseMs: 20, maxMs: 100 },
    handler: async () => {
      times.push(Date.now());
      if (fail-- > 0) throw new Error("not yet");
    },
    onError: (_k, _e, n) => errors.push(n),
  });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => q.backoffFor(n)), [20, 40, 80, 100, 100, 100]);
  q.start();
  q.add("k");
  await q.idle();
  assert.equal(times.length, 5);
  assert.deepEqual(errors, [1, 2, 3, 4]);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const expected = [20, 40, 80, 100];
  gaps.forEach((g, i) => assert.ok(g >= expected[i]! - 2, `gap ${i}: ${g} ms, expected at least ${expected[i]} ms`));
  assert.ok(gaps[3]! < 400, "capped");
  assert.equal(q.failures("k"), 0, "forgotten after the success");
  await q.stop();
});

test("a handler can ask to be called again later; addAfter keeps the earliest of pending delays", async () => {
  const seen: [string, number][] = [];
  const start = Date.now();
  let first = true;
  const q = new WorkQueue({
    handler: async (k) => {
      seen.push([k, Date.now() - start]);
      if (k === "poll" && first) { first = false; return { requeueAfterMs: 50 }; }
      return undefined;
    },
  });
  q.start();
  q.add("poll");
  q.addAfter("late", 200);
  q.addAfter("late", 30);
  q.addAfter("late", 300);
  assert.equal(q.delayed, 1);
  await q.idle();
  const late = seen.filter(([k]) => k === "late");
  assert.equal(late.length, 1);
  assert.ok(late[0]![1] >= 28 && late[0]![1] < 190, `late ran at ${late[0]![1]} ms`);
  const polls = seen.filter(([k]) => k === "poll");
  assert.equal(polls.length, 2);
  assert.ok(polls[1]![1] >= 48);
  await q.stop();
});

test("resync adds every key it is given, periodically; stop waits for running handlers and drops delayed keys", async () => {
  const seen: string[] = [];
  const gate = deferred();
  const q = new WorkQueue<string>({
    resyncMs: 30,
    resyncKeys: () => ["x", "y"],
    handler: async (k) => { seen.push(k); if (k === "slow") await gate.promise; },
  });
  q.start();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(seen.filter((k) => k === "x").length >= 2, `resynced: ${seen.join(",")}`);
  q.add("slow");
  q.addAfter("never", 50);
  await new Promise((r) => setImmediate(r));
  let stopped = false;
  const stopping = q.stop().then(() => { stopped = true; });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(stopped, false, "waits for the running handler");
  gate.resolve();
  await stopping;
  const count = seen.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(seen.length, count, "nothing runs after stop");
  assert.ok(!seen.includes("never"));
});
