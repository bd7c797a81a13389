/**
 * How appends are made durable: by default the open segment is written through O_DSYNC (the write
 * is the sync: one system call per batch); `syncMode: "fdatasync"` writes, then fdatasyncs. Both
 * report each sync's duration, and both leave the same log behind.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { constants, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { LogStore } from "./log-store.ts";
import { entries, payloadOf, removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";

after(removeTempStoreDirs);

/** The open-file flags of this process's descriptors on `path` (Linux: /proc/self/fdinfo). */
function openFlags(path: string): number[] {
  const out: number[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== path) continue;
    const flags = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"));
    if (flags) out.push(parseInt(flags[1]!, 8));
  }
  return out;
}

for (const mode of ["dsync", "fdatasync"] as const) {
  test(`syncMode ${mode}: appends durable through ${mode === "dsync" ? "O_DSYNC writes" : "write + fdatasync"}, each sync timed, the same log after a reopen`, { skip: process.platform !== "linux" && "reads /proc" }, async () => {
    const dir = tempStoreDir();
    const syncs: number[] = [];
    let store = await LogStore.open(dir, { segmentBytes: 16 * 1024, syncMode: mode, onSync: (s) => syncs.push(s) });
    try {
      for (let i = 1; i <= 60; i += 6) await store.append(entries(i, 6, 1, 500));
      // One sync per append batch, and one per new segment or seal at most.
      assert.ok(syncs.length >= 10, `${syncs.length} syncs timed`);
      assert.ok(syncs.every((s) => s >= 0 && s < 10));
      const open = readdirSync(dir).filter((f) => f.endsWith(".seg")).sort().at(-1)!;
      const flags = openFlags(join(dir, open));
      assert.ok(flags.length > 0, "the open segment has a writer");
      assert.equal(flags.some((f) => (f & constants.O_DSYNC) !== 0), mode === "dsync", `flags ${flags.map((f) => f.toString(8)).join(", ")}`);
      await store.close();
      store = await LogStore.open(dir, { segmentBytes: 16 * 1024, syncMode: mode });
      assert.equal(store.lastIndex(), 60);
      for (const e of store.entries(1, 61)) assert.ok(Buffer.from(e.data).equals(payloadOf(e.index, 1, 500)), `entry ${e.index}`);
    } finally {
      await store.close();
    }
  });
}
