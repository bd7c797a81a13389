/**
 * How RaftLogStorage saves the hard state: a term or vote change is durable before persist()
 * returns (a vote must never be forgotten); a commit-only change is saved at most every
 * commitSaveIntervalMs and without holding up the Ready; saves land in the order asked; a failed
 * background save stops the next persist().
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import type { HardState } from "../raft/types.ts";
import { LogStore } from "../storage/log-store.ts";
import { StorageError } from "../storage/errors.ts";
import { RaftLogStorage } from "./raft-storage.ts";
import { removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";

after(removeTempStoreDirs);

/** A store whose hard-state saves each wait for a permit from the test, recording what landed. */
async function gatedStore(): Promise<{ store: LogStore; landed: HardState[]; release: () => void; fail: (e: Error) => void }> {
  const store = await LogStore.open(tempStoreDir());
  const landed: HardState[] = [];
  const real = store.saveHardState.bind(store);
  const permits: Array<PromiseWithResolvers<void>> = [];
  let asked = 0;
  let granted = 0;
  const permit = (n: number): PromiseWithResolvers<void> => (permits[n] ??= Promise.withResolvers());
  let failure: Error | undefined;
  store.saveHardState = async (hs: HardState) => {
    await permit(asked++).promise;
    if (failure) throw failure;
    await real(hs);
    landed.push({ ...hs });
  };
  return { store, landed, release: () => permit(granted++).resolve(), fail: (e) => (failure = e) };
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

test("commit alone: saved in the background at most every interval; a vote waits for it and lands after it", async () => {
  const { store, landed, release } = await gatedStore();
  let now = 10_000;
  const storage = new RaftLogStorage(store, { voters: [1], learners: [] }, { commitSaveIntervalMs: 1000, now: () => now });
  try {
    // A commit-only change, due: persist() returns while the save is still held at the gate.
    let returned = false;
    await Promise.race([storage.persist({ entries: [], hardState: { term: 0, vote: 0, commit: 5 } }).then(() => (returned = true)), tick()]);
    assert.ok(returned, "persist() did not wait for the commit save");
    assert.deepEqual(landed, []);
    // Within the interval, another commit change is not saved at all.
    now += 500;
    await storage.persist({ entries: [], hardState: { term: 0, vote: 0, commit: 6 } });
    // A vote: persist() waits until it is durable, and it lands after the commit save before it.
    let voted = false;
    const vote = storage.persist({ entries: [], hardState: { term: 2, vote: 1, commit: 6 } }).then(() => (voted = true));
    await tick();
    assert.equal(voted, false, "a vote is not reported saved before it is");
    release();
    await tick();
    release();
    await vote;
    assert.deepEqual(landed, [{ term: 0, vote: 0, commit: 5 }, { term: 2, vote: 1, commit: 6 }]);
    assert.deepEqual(store.hardState(), { term: 2, vote: 1, commit: 6 });
  } finally {
    for (let i = 0; i < 4; i++) release();
    await store.close();
  }
});

test("a failed background commit save stops the next persist()", async () => {
  const { store, release, fail } = await gatedStore();
  const storage = new RaftLogStorage(store, { voters: [1], learners: [] }, { commitSaveIntervalMs: 0 });
  try {
    fail(new StorageError("STORAGE_FAILED", "disk gone"));
    await storage.persist({ entries: [], hardState: { term: 0, vote: 0, commit: 3 } });
    release();
    await tick();
    await assert.rejects(storage.persist({ entries: [], hardState: { term: 0, vote: 0, commit: 4 } }), /disk gone/);
  } finally {
    for (let i = 0; i < 4; i++) release();
    await store.close();
  }
});
