// Fast backtracking (§5.3's optimisation, in etcd's form): a rejection carries a hint, the last
// index at or below the probe whose term is at most the probe's term, and the leader answers with the
// last index of its own log that can match that hint. Whole terms are skipped per round trip.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { drain, logTerms, makeLeader, messagesOfType, newNode, storageWithLog } from "./testing/harness.ts";

/** Runs the leader/follower exchange to convergence; returns the rejections on the way. */
function syncCounting(leaderLog: number[], followerLog: number[], leaderTerm: number): { rejections: number; leaderTerms: number[]; followerTerms: number[] } {
  const leaderStorage = storageWithLog([1, 2, 3], leaderLog, leaderTerm - 1);
  const followerStorage = storageWithLog([1, 2, 3], followerLog, leaderTerm - 1);
  const leader = makeLeader(1, [1, 2, 3], leaderStorage);
  const follower = newNode(2, followerStorage);
  // The election's probe went nowhere: a heartbeat round trip makes the leader probe again.
  leader.tick();
  let toFollower = drain(leader, leaderStorage).messages.filter((m) => m.to === 2);
  let rejections = 0;
  for (let round = 0; toFollower.length > 0; round++) {
    if (round > 1000) throw new Error("no convergence");
    for (const m of toFollower) follower.step(m);
    const replies = drain(follower, followerStorage).messages;
    rejections += messagesOfType(replies, "MsgAppResp").filter((r) => r.reject).length;
    for (const r of replies) leader.step(r);
    toFollower = drain(leader, leaderStorage).messages.filter((m) => m.to === 2);
  }
  return { rejections, leaderTerms: logTerms(leader), followerTerms: logTerms(follower) };
}

describe("fast backtracking", () => {
  test("backtracking: a short follower's rejection hints its last index, and the leader jumps there in one round trip", () => {
    const result = syncCounting(Array(10).fill(1), [1, 1, 1], 2);
    assert.equal(result.rejections, 1);
    assert.deepEqual(result.followerTerms, result.leaderTerms);
  });

  test("backtracking: a divergent follower's hint skips whole conflicting terms", () => {
    const leaderLog = [1, 1, 1, 4, 4, 4, 4, 4, 4];
    const followerLog = [1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3];
    const result = syncCounting(leaderLog, followerLog, 5);
    assert.ok(result.rejections <= 2, `${result.rejections} rejections for 11 conflicting entries`);
    assert.deepEqual(result.followerTerms, [...leaderLog, 5]);
  });

  test("backtracking: round trips grow with the number of conflicting terms, not entries", () => {
    const terms = (min: number, max: number, maxLength: number) => fc.array(fc.integer({ min, max }), { maxLength }).map((a) => a.sort((x, y) => x - y));
    fc.assert(
      fc.property(terms(1, 3, 20), terms(4, 9, 60), terms(4, 9, 60), (prefix, leaderTail, followerTail) => {
        // Distinct parities keep the two tails in conflict at every index they share.
        const leaderLog = [...prefix, ...leaderTail.map((t) => 2 * t)];
        const followerLog = [...prefix, ...followerTail.map((t) => 2 * t + 1)];
        const result = syncCounting(leaderLog, followerLog, 20);
        const distinct = (a: number[]) => new Set(a).size;
        assert.ok(result.rejections <= distinct(leaderTail) + distinct(followerTail) + 1, `${result.rejections} rejections`);
        assert.deepEqual(result.followerTerms, [...leaderLog, 20]);
      }),
      { numRuns: 200 },
    );
  });
});
