import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { committedIndex, hasQuorum, majority, voteOutcome } from "./quorum.ts";

describe("quorum", () => {
  test("majority of n voters is floor(n/2)+1", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(majority), [1, 2, 2, 3, 3, 4, 4]);
  });

  test("the committed index is held by a majority and no higher index is", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(100), { minLength: 1, maxLength: 9 }), (matches) => {
        const voters = matches.map((_, i) => i + 1);
        const index = committedIndex(voters, (id) => matches[id - 1]!);
        assert.ok(matches.filter((m) => m >= index).length >= majority(voters.length));
        assert.ok(matches.filter((m) => m >= index + 1).length < majority(voters.length));
      }),
    );
  });

  test("without voters nothing is committed, and missing voters count as 0", () => {
    assert.equal(committedIndex([], () => 10), 0);
    assert.equal(committedIndex([1, 2, 3], (id) => (id === 1 ? 9 : 0)), 0);
  });

  test("a vote is won with a majority of grants, lost once a majority is out of reach, and votes of non-voters are ignored", () => {
    const votes = (entries: [number, boolean][]) => new Map(entries);
    assert.equal(voteOutcome([1, 2, 3], votes([[1, true], [2, true]])), "won");
    assert.equal(voteOutcome([1, 2, 3], votes([[1, true], [2, false]])), "pending");
    assert.equal(voteOutcome([1, 2, 3], votes([[2, false], [3, false]])), "lost");
    assert.equal(voteOutcome([1, 2, 3], votes([[1, true], [4, true], [5, true]])), "pending");
    assert.equal(voteOutcome([1, 2, 3, 4], votes([[1, true], [2, true]])), "pending");
    assert.equal(voteOutcome([], votes([[1, true]])), "lost");
  });

  test("vote outcomes agree with counting, whatever the order of answers", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 9 }), (answers) => {
        const voters = answers.map((_, i) => i + 1);
        const granted = answers.filter(Boolean).length;
        const outcome = voteOutcome(voters, new Map(answers.map((a, i) => [i + 1, a])));
        assert.equal(outcome, granted >= majority(voters.length) ? "won" : "lost");
      }),
    );
  });

  test("a quorum is active when a majority of voters is", () => {
    assert.equal(hasQuorum([1, 2, 3], (id) => id !== 3), true);
    assert.equal(hasQuorum([1, 2, 3], (id) => id === 1), false);
    assert.equal(hasQuorum([], () => true), false);
  });
});
