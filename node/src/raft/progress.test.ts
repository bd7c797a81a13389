import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Progress } from "./progress.ts";

const fresh = (next = 10) => new Progress(next, 4, { isLearner: false, recentActive: true });

describe("progress", () => {
  test("a probing follower is paused after one append with entries, until an answer", () => {
    const pr = fresh();
    pr.sentEntries(0);
    assert.equal(pr.isPaused(), false, "an empty probe does not pause");
    pr.sentEntries(3);
    assert.equal(pr.isPaused(), true);
    assert.equal(pr.next, 10, "probing does not advance next optimistically");
    assert.equal(pr.maybeUpdate(9), true);
    assert.equal(pr.isPaused(), false);
  });

  test("in replicate, next runs ahead and the window pauses when full", () => {
    const pr = fresh();
    pr.maybeUpdate(9);
    pr.becomeReplicate();
    for (let i = 0; i < 4; i++) pr.sentEntries(2);
    assert.equal(pr.next, 18);
    assert.equal(pr.isPaused(), true);
    pr.inflights.freeLE(11);
    pr.maybeUpdate(11);
    assert.equal(pr.isPaused(), false);
  });

  test("a stale acknowledgement changes nothing", () => {
    const pr = fresh();
    pr.maybeUpdate(9);
    assert.equal(pr.maybeUpdate(8), false);
    assert.equal(pr.match, 9);
  });

  test("a rejection in replicate goes back to match+1; a stale one is ignored", () => {
    const pr = fresh();
    pr.maybeUpdate(5);
    pr.becomeReplicate();
    pr.sentEntries(5);
    assert.equal(pr.maybeDecrTo(4, 5), false, "at or below match, hinting at match: stale");
    assert.equal(pr.maybeDecrTo(8, 0), true);
    assert.equal(pr.next, 6);
  });

  test("a rejection at or below match that hints below it means the follower lost its log: start over from the hint", () => {
    const pr = fresh();
    pr.maybeUpdate(5);
    pr.becomeReplicate();
    pr.sentEntries(5);
    assert.equal(pr.maybeDecrTo(5, 0), true, "a wiped follower refuses what it had acknowledged");
    assert.deepEqual([pr.match, pr.next, pr.paused], [0, 1, false]);
  });

  test("a rejection in probe follows the hint but never below match+1, and only for the outstanding probe", () => {
    const pr = fresh(10);
    pr.maybeUpdate(3);
    pr.becomeProbe();
    pr.next = 10;
    assert.equal(pr.maybeDecrTo(7, 2), false, "not the outstanding probe (prev 9)");
    assert.equal(pr.maybeDecrTo(9, 6), true);
    assert.equal(pr.next, 7);
    assert.equal(pr.maybeDecrTo(6, 1), true);
    assert.equal(pr.next, 4, "match is 3");
  });

  test("after a snapshot the follower is probed from the snapshot on, even if it has not said so", () => {
    const pr = fresh(3);
    pr.becomeSnapshot(20);
    assert.equal(pr.isPaused(), true);
    pr.becomeProbe();
    assert.equal(pr.next, 21);
    pr.becomeSnapshot(30);
    pr.pendingSnapshot = 0;
    pr.becomeProbe();
    assert.equal(pr.next, 1, "a failed snapshot proves nothing");
  });

  test("a commit index is worth sending only when new and below what the follower holds", () => {
    const pr = fresh(10);
    assert.equal(pr.canBumpCommit(5), true);
    pr.sentCommit = 5;
    assert.equal(pr.canBumpCommit(5), false);
    pr.sentCommit = 9;
    assert.equal(pr.canBumpCommit(12), false, "next-1 is 9: the follower could not use more");
  });
});
