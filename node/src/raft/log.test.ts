import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LogCompactedError, LogUnavailableError, RaftError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { MemoryStorage } from "./memory-storage.ts";
import { entry, storageWithLog } from "./testing/harness.ts";

describe("the log: storage plus unstable tail", () => {
  test("reads span the stored part and the unstable tail, within a byte budget of at least one entry", () => {
    const storage = storageWithLog([1], [1, 1, 2]);
    const log = new RaftLog(storage, 0, 0);
    log.append([entry(4, 2, new Uint8Array(10)), entry(5, 3, new Uint8Array(10))]);
    assert.deepEqual(log.entries(2, 6, Infinity).map((e) => e.index), [2, 3, 4, 5]);
    assert.deepEqual(log.entries(3, 6, 12).map((e) => e.index), [3, 4], "one byte of entry 3 plus ten of entry 4");
    assert.deepEqual(log.entries(4, 6, 1).map((e) => e.index), [4]);
    assert.deepEqual([log.lastIndex(), log.lastTerm(), log.term(3)], [5, 3, 2]);
  });

  test("reads below the first index throw LogCompactedError; term() also above the last index throws", () => {
    const storage = storageWithLog([1], [1, 1, 2, 2]);
    storage.compact(2);
    const log = new RaftLog(storage, 2, 2);
    assert.equal(log.term(2), 1, "the snapshot's own index keeps its term");
    assert.equal(log.maybeTerm(1), undefined);
    assert.throws(() => log.term(1), LogCompactedError);
    assert.throws(() => log.entries(2, 4, Infinity), LogCompactedError);
    assert.throws(() => log.term(9), LogUnavailableError);
  });

  test("appending below the commit index or past the end is an invariant violation", () => {
    const log = new RaftLog(storageWithLog([1], [1, 1, 1]), 2, 0);
    assert.throws(() => log.append([entry(2, 2)]), (err: unknown) => err instanceof RaftError && err.code === "RAFT_INVARIANT");
    assert.throws(() => log.append([entry(5, 2)]), /gap/);
    assert.throws(() => log.commitTo(4), /beyond the last index/);
  });

  test("findConflictByTerm finds the last index whose term is at most the given one", () => {
    const log = new RaftLog(storageWithLog([1], [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]), 0, 0);
    assert.deepEqual(log.findConflictByTerm(10, 3), { index: 3, term: 1 });
    assert.deepEqual(log.findConflictByTerm(10, 5), { index: 7, term: 5 });
    assert.deepEqual(log.findConflictByTerm(8, 6), { index: 8, term: 6 });
    assert.deepEqual(log.findConflictByTerm(3, 0), { index: 0, term: 0 });
  });

  test("under any appends, truncations and persists, the log reads like a plain array and storage holds a persisted prefix", () => {
    type Op = { op: "append"; back: number; terms: number } | { op: "persist" };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant("append" as const), back: fc.nat(4), terms: fc.integer({ min: 1, max: 4 }) }),
      fc.constant<Op>({ op: "persist" }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const storage = new MemoryStorage({ voters: [1], learners: [] });
        const log = new RaftLog(storage, 0, 0);
        let model: number[] = [];
        let term = 1;
        for (const o of ops) {
          if (o.op === "append") {
            const after = Math.max(0, model.length - o.back);
            term++;
            const added = Array.from({ length: o.terms }, () => term);
            log.append(added.map((t, i) => entry(after + 1 + i, t)));
            model = [...model.slice(0, after), ...added];
          } else {
            const toPersist = log.unstable.entriesToPersist();
            log.unstable.acceptInProgress();
            storage.append(toPersist);
            const last = toPersist.at(-1);
            if (last) assert.equal(log.unstable.stableTo(last.index, last.term), true);
          }
          assert.equal(log.lastIndex(), model.length);
          assert.deepEqual(log.entries(1, model.length + 1, Infinity).map((e) => e.term), model);
          const stored = storage.entries(1, storage.lastIndex() + 1, Infinity).map((e) => e.term);
          const persisted = log.persistedLastIndex();
          assert.deepEqual(stored.slice(0, persisted), model.slice(0, persisted), "the storage agrees up to the persisted index");
        }
      }),
    );
  });
});

describe("MemoryStorage", () => {
  test("appending over a stored suffix replaces it and forgets its conf changes", () => {
    const storage = storageWithLog([1], [1, 1, 1]);
    storage.append([{ index: 3, term: 2, type: 1, data: new Uint8Array(0) }]);
    assert.equal(storage.lastConfChangeIndex(), 3);
    storage.append([entry(2, 3)]);
    assert.deepEqual([storage.lastIndex(), storage.term(2), storage.lastConfChangeIndex()], [2, 3, 0]);
  });

  test("compaction keeps the last term and the membership in force as snapshot metadata", () => {
    const storage = storageWithLog([1, 2, 3], [1, 1, 2, 2]);
    storage.compact(3);
    assert.deepEqual(storage.snapshot(), { index: 3, term: 2, conf: { voters: [1, 2, 3], learners: [] } });
    assert.deepEqual([storage.firstIndex(), storage.lastIndex()], [4, 4]);
    assert.throws(() => storage.term(2), LogCompactedError);
    assert.throws(() => storage.compact(9), (err: unknown) => err instanceof RaftError && err.code === "RAFT_MISUSE");
  });

  test("writes that would leave a gap, or land inside the snapshot, are refused", () => {
    const storage = storageWithLog([1], [1, 1]);
    assert.throws(() => storage.append([entry(4, 1)]), /gap/);
    storage.compact(2);
    assert.throws(() => storage.append([entry(2, 2)]), /into the snapshot/);
  });
});
