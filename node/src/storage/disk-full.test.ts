/**
 * A real full disk: the store lives on a 1 MiB tmpfs (mounted by the test, which needs root, as in
 * CI). Appends fail with STORAGE_NO_SPACE, the store stays readable and consistent, and appends
 * work again once space is freed.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LogStore } from "./log-store.ts";
import { StorageError } from "./errors.ts";
import { entries, payloadOf } from "../../test-support/storage.ts";
import { inCI } from "../../test-support/requirements.ts";

function mountSkip(): string | undefined {
  if (process.getuid?.() === 0) return undefined;
  if (inCI) throw new Error("missing in CI: the disk-full test mounts a tmpfs and needs root");
  return "skipped: mounting a tmpfs needs root";
}

const skip = mountSkip();
const mountPoint = mkdtempSync(join(tmpdir(), "kingbus-tmpfs-"));
let mounted = false;
after(() => {
  if (mounted) execFileSync("umount", [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

test("a full disk fails the append with STORAGE_NO_SPACE, keeps the store consistent, and appends resume once space frees", { skip }, async () => {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
  mounted = true;
  const dir = join(mountPoint, "store");
  const store = await LogStore.open(dir, { segmentBytes: 128 * 1024 });
  let last = 0;
  let failure: unknown;
  for (let batch = 0; batch < 1000 && failure === undefined; batch++) {
    try {
      await store.append(entries(last + 1, 8, 1, 4000));
      last += 8;
    } catch (e) {
      failure = e;
    }
  }
  assert.ok(failure instanceof StorageError, `expected a StorageError, got ${String(failure)}`);
  assert.equal(failure.code, "STORAGE_NO_SPACE");
  assert.ok(statfsSync(mountPoint).bavail * statfsSync(mountPoint).bsize < 64 * 1024, "the disk is really full");
  const durable = store.lastIndex();
  assert.ok(durable >= last && durable < last + 8, "a failed append persists at most a prefix of its batch");
  const check = (upTo: number): void => {
    const got = store.entries(1, upTo + 1);
    assert.equal(got.length, upTo);
    got.forEach((e, k) => assert.ok(Buffer.from(e.data).equals(payloadOf(k + 1, 1, 4000)), `entry ${k + 1} intact`));
  };
  check(durable);
  await assert.rejects(store.append(entries(durable + 1, 8, 1, 4000)), (e: unknown) => e instanceof StorageError && e.code === "STORAGE_NO_SPACE", "still full: still refused");
  assert.equal(store.lastIndex(), durable);

  // Free space: retention drops the oldest segments (as an operator would purge binlogs).
  await store.compact(Math.floor(durable / 2));
  await store.append(entries(durable + 1, 8, 1, 4000));
  assert.equal(store.lastIndex(), durable + 8);
  await store.close();
  const reopened = await LogStore.open(dir, { segmentBytes: 128 * 1024 });
  assert.equal(reopened.lastIndex(), durable + 8);
  const got = reopened.entries(reopened.firstIndex(), durable + 9);
  got.forEach((e) => assert.ok(Buffer.from(e.data).equals(payloadOf(e.index, 1, 4000))));
  await reopened.close();
});

test("metadata writes on a full disk fail with STORAGE_NO_SPACE and keep the previous value", { skip }, async () => {
  if (!mounted) {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
    mounted = true;
  }
  const dir = join(mountPoint, "meta-store");
  const store = await LogStore.open(dir);
  await store.saveHardState({ term: 3, vote: 1, commit: 10 });
  // Fill what is left, in halving chunks down to 512 bytes.
  let size = 1024 * 1024;
  for (let n = 0; size >= 512; n++) {
    try {
      writeFileSync(join(mountPoint, `filler-${n}`), Buffer.alloc(size));
    } catch {
      size = Math.floor(size / 2);
    }
  }
  await assert.rejects(store.saveHardState({ term: 4, vote: 2, commit: 11 }), (e: unknown) => e instanceof StorageError && e.code === "STORAGE_NO_SPACE");
  assert.deepEqual(store.hardState(), { term: 3, vote: 1, commit: 10 });
  await store.close();
  const reopened = await LogStore.open(dir);
  assert.deepEqual(reopened.hardState(), { term: 3, vote: 1, commit: 10 }, "the file on disk still holds the old value");
  await reopened.close();
  for (const name of readdirSync(mountPoint)) if (name.startsWith("filler-")) unlinkSync(join(mountPoint, name));
});
