/**
 * Kills a writer process with SIGKILL at random moments, 60 times in a row on the same store, and
 * after each reopen checks: every operation whose fsync had returned ("ack") is there, intact;
 * nothing follows a gap; anything beyond the acknowledged state belongs to the one operation in
 * flight when the kill came.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { LogStore } from "./log-store.ts";
import { payloadOf, removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";
import { repoRoot } from "../../test-support/requirements.ts";

after(removeTempStoreDirs);

const KILLS = Number(process.env.KINGBUS_CRASH_KILLS ?? 60);
const SEGMENT_BYTES = 16 * 1024;

interface Op {
  kind: "append" | "trunc";
  from: number;
  count: number;
  term: number;
  size: number;
}

/** What the store must hold: index -> [term, payload size], as of the last acknowledged operation. */
type Model = Map<number, [number, number]>;

function applyOp(model: Model, op: Op): void {
  if (op.kind === "trunc") {
    for (const i of [...model.keys()]) if (i >= op.from) model.delete(i);
    return;
  }
  for (const i of [...model.keys()]) if (i >= op.from) model.delete(i);
  for (let i = op.from; i < op.from + op.count; i++) model.set(i, [op.term, op.size]);
}

function parseOp(words: string[]): Op {
  if (words[1] === "trunc") return { kind: "trunc", from: Number(words[2]), count: 0, term: 0, size: 0 };
  return { kind: "append", from: Number(words[2]), count: Number(words[3]), term: Number(words[4]), size: Number(words[5]) };
}

async function runUntilKilled(dir: string, seed: number, term: number, killAfterMs: number): Promise<{ acked: Op[]; pending: Op | undefined; opened: boolean }> {
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", join(repoRoot, "node/test-support/storage-crash-writer.ts"), dir, String(seed), String(SEGMENT_BYTES), String(term)], { stdio: ["ignore", "pipe", "inherit"] });
  const acked: Op[] = [];
  let pending: Op | undefined;
  let opened = false;
  let timer: NodeJS.Timeout | undefined;
  const lines = createInterface({ input: child.stdout });
  // readline may close before or after the exit event: listen from the start.
  const closed = new Promise((r) => lines.once("close", r));
  lines.on("line", (line) => {
    const words = line.split(" ");
    if (words[0] === "open") {
      opened = true;
      timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    } else if (words[0] === "begin") {
      pending = parseOp(words);
    } else if (words[0] === "ack") {
      acked.push(pending!);
      pending = undefined;
    }
  });
  const exit = await new Promise<NodeJS.Signals | number | null>((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code)));
  clearTimeout(timer);
  await closed;
  assert.equal(exit, "SIGKILL", "the writer ran until it was killed");
  return { acked, pending, opened };
}

test(`SIGKILL at random moments, ${KILLS} times: every acknowledged batch survives intact, nothing after a gap`, { timeout: 300_000 }, async () => {
  const dir = tempStoreDir("kingbus-crash-");
  const model: Model = new Map();
  let seed = 20261122;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
  let totalAcked = 0;
  let pendingSeen = 0;
  for (let kill = 1; kill <= KILLS; kill++) {
    const { acked, pending, opened } = await runUntilKilled(dir, kill, kill, 5 + Math.floor(rand() * 150));
    assert.ok(opened, `run ${kill}: the writer opened the store`);
    for (const op of acked) applyOp(model, op);
    totalAcked += acked.length;
    if (pending) pendingSeen++;

    const store = await LogStore.open(dir, { segmentBytes: SEGMENT_BYTES });
    try {
      const first = store.firstIndex();
      const last = store.lastIndex();
      const held = last >= first ? store.entries(first, last + 1) : [];
      held.forEach((e, k) => {
        assert.equal(e.index, first + k, `run ${kill}: entries are contiguous`);
        assert.ok(Buffer.from(e.data).equals(payloadOf(e.index, e.term, e.data.length)), `run ${kill}: entry ${e.index} is intact`);
      });
      const actual = new Map(held.map((e) => [e.index, [e.term, e.data.length] as [number, number]]));
      const expectedWithPending: Model = new Map(model);
      if (pending) applyOp(expectedWithPending, pending);
      for (const [index, [term, size]] of model) {
        const got = actual.get(index);
        const mayBeGone = pending?.kind !== undefined && index >= pending.from;
        if (got === undefined) {
          assert.ok(mayBeGone, `run ${kill}: acknowledged entry ${index} is missing (last ${last})`);
          continue;
        }
        if (mayBeGone && pending?.kind === "append" && got[0] === pending.term) continue;
        assert.deepEqual(got, [term, size], `run ${kill}: acknowledged entry ${index} holds term ${got[0]}, expected ${term}`);
      }
      for (const [index, got] of actual) {
        if (model.has(index)) continue;
        assert.ok(pending?.kind === "append" && index >= pending.from && index < pending.from + pending.count && got[0] === pending.term, `run ${kill}: entry ${index} was never written`);
      }
      // What the store holds now is the truth the next run continues from.
      model.clear();
      for (const [index, v] of actual) model.set(index, v);
    } finally {
      await store.close();
    }
  }
  assert.ok(totalAcked > KILLS * 3, `the writer made progress between kills (${totalAcked} acknowledged operations)`);
  assert.ok(pendingSeen > KILLS / 2, `most kills landed during an operation (${pendingSeen} of ${KILLS})`);
});
