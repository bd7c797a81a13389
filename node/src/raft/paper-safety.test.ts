// §5.4 and §5.5 of the Raft paper: the election restriction, committing entries of earlier terms,
// leader completeness, and crashes of followers and candidates.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { InvariantChecker } from "./sim/invariants.ts";
import {
  PAPER, TestCluster, appendMsg, appendResp, bytes, checkCluster, drain, entry, logTerms, makeLeader, messagesOfType,
  newNode, storageWithLog, voteMsg,
} from "./testing/harness.ts";

describe("5.4.1 election restriction", () => {
  test("5.4.1: a vote request carries the candidate's last log index and term", () => {
    const storage = storageWithLog([1, 2, 3], [1, 1, 2]);
    const node = newNode(1, storage, PAPER);
    node.campaign();
    const votes = messagesOfType(drain(node, storage).messages, "MsgVote");
    assert.deepEqual(votes.map((m) => [m.to, m.term, m.lastIndex, m.lastTerm]), [[2, 3, 3, 2], [3, 3, 3, 2]]);
  });

  test("5.4.1: voter denies its vote if its own log is more up-to-date", () => {
    // The voter's log ends at index 2, term 2. [candidate last index, last term, granted]
    const cases: [number, number, boolean][] = [
      [2, 1, false], // lower last term
      [3, 1, false], // longer, but lower last term
      [1, 2, false], // same term, shorter
      [2, 2, true], // identical
      [3, 2, true], // same term, longer
      [1, 3, true], // higher last term, even shorter
    ];
    for (const [lastIndex, lastTerm, granted] of cases) {
      const storage = storageWithLog([1, 2, 3], [1, 2], 2);
      const node = newNode(1, storage, PAPER);
      node.step(voteMsg(2, 1, 3, lastIndex, lastTerm));
      const [resp] = messagesOfType(drain(node, storage).messages, "MsgVoteResp");
      assert.equal(resp!.reject, !granted, `candidate at ${lastIndex}/t${lastTerm}`);
      assert.equal(node.status().vote, granted ? 2 : 0);
    }
  });

  test("5.4.1: a candidate whose log lacks a committed entry cannot win", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    cluster.isolate(3);
    cluster.propose(1, "committed");
    assert.deepEqual(cluster.appliedTexts(2), ["committed"]);
    cluster.heal();
    cluster.crash(1);
    cluster.elect(3);
    assert.notEqual(cluster.node(3).status().role, "leader", "node 2 refuses: its log is more up-to-date");
    cluster.elect(2);
    assert.equal(cluster.node(2).status().role, "leader");
  });
});

describe("5.4.2 committing entries from previous terms", () => {
  /** Leader of term 3 over a log [t1, t2]; its empty entry of term 3 is at index 3. */
  function leaderOverOldEntries(faults = {}) {
    const storage = storageWithLog([1, 2, 3], [1, 2], 2);
    const node = makeLeader(1, [1, 2, 3], storage, { ...PAPER, unsafeFaults: faults });
    assert.equal(node.status().term, 3);
    return { node, storage };
  }

  test("5.4.2: leader never commits entries from previous terms by counting replicas", () => {
    const { node, storage } = leaderOverOldEntries();
    node.step(appendResp(2, 1, 3, 2));
    drain(node, storage);
    assert.equal(node.status().commit, 0, "entry 2 (term 2) is on a majority, yet not committed");
  });

  test("5.4.2: entries of earlier terms commit once an entry of the leader's term is on a majority", () => {
    const { node, storage } = leaderOverOldEntries();
    node.step(appendResp(2, 1, 3, 2));
    node.step(appendResp(2, 1, 3, 3));
    const { committed } = drain(node, storage);
    assert.equal(node.status().commit, 3);
    assert.deepEqual(committed.map((e) => [e.index, e.term]), [[1, 1], [2, 2], [3, 3]]);
  });

  test("5.4.2: the commitEntriesOfEarlierTerms fault hook breaks exactly this rule", () => {
    const { node, storage } = leaderOverOldEntries({ commitEntriesOfEarlierTerms: true });
    node.step(appendResp(2, 1, 3, 2));
    drain(node, storage);
    assert.equal(node.status().commit, 2);
  });
});

describe("5.4.3 leader completeness", () => {
  type Command = { op: "propose" } | { op: "isolate"; id: number } | { op: "heal" } | { op: "tick"; times: number } | { op: "crash"; id: number } | { op: "restart"; id: number };
  const command: fc.Arbitrary<Command> = fc.oneof(
    { weight: 4, arbitrary: fc.constant<Command>({ op: "propose" }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((id): Command => ({ op: "isolate", id })) },
    { weight: 1, arbitrary: fc.constant<Command>({ op: "heal" }) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 25 }).map((times): Command => ({ op: "tick", times })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((id): Command => ({ op: "crash", id })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((id): Command => ({ op: "restart", id })) },
  );

  test("5.4.3: every leader holds every entry committed before its term, and applied logs agree", () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 1000 }), (commands, seed) => {
        const cluster = new TestCluster([1, 2, 3], { seed });
        const checker = new InvariantChecker();
        const seen = new Map<number, number>();
        const applied = new Map<number, number>();
        let n = 0;
        for (const c of commands) {
          if (c.op === "propose") {
            const [leader] = cluster.leaders();
            if (leader !== undefined) cluster.propose(leader, `p${n++}`);
          } else if (c.op === "isolate") cluster.isolate(c.id);
          else if (c.op === "heal") cluster.heal();
          else if (c.op === "crash") cluster.crash(c.id);
          else if (c.op === "restart" && cluster.isDown(c.id)) {
            cluster.restart(c.id);
            seen.delete(c.id);
            applied.delete(c.id);
          } else if (c.op === "tick") {
            for (let t = 0; t < c.times; t++) {
              for (const id of [1, 2, 3]) if (!cluster.isDown(id)) cluster.tick(id);
              cluster.stabilize();
              checkCluster(cluster, checker, seen);
            }
          }
          checkCluster(cluster, checker, seen);
          for (const id of [1, 2, 3]) {
            for (const e of cluster.applied(id).slice(applied.get(id) ?? 0)) checker.observeCommitted(id, e, cluster.node(id).status().term);
            applied.set(id, cluster.applied(id).length);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("5.5 follower and candidate crashes", () => {
  test("5.5: a restarted node keeps its term, vote and persisted log", () => {
    const storage = storageWithLog([1, 2, 3], [1, 1]);
    const node = newNode(2, storage, PAPER);
    node.step(voteMsg(3, 2, 4, 2, 1));
    node.step(appendMsg(3, 2, 4, 2, 1, [entry(3, 4)]));
    drain(node, storage);
    const restarted = newNode(2, storage, PAPER);
    const s = restarted.status();
    assert.deepEqual([s.term, s.vote, s.lastIndex], [4, 3, 3]);
    assert.deepEqual(logTerms(restarted), [1, 1, 4]);
    restarted.step(voteMsg(1, 2, 4, 10, 4));
    assert.equal(messagesOfType(drain(restarted, storage).messages, "MsgVoteResp")[0]!.reject, true, "it does not vote twice in term 4");
  });

  test("5.5: appends are idempotent: a repeated append changes nothing", () => {
    const storage = storageWithLog([1, 2, 3], [1]);
    const node = newNode(2, storage, PAPER);
    const m = appendMsg(1, 2, 1, 1, 1, [entry(2, 1, bytes("a")), entry(3, 1, bytes("b"))], 2);
    node.step(m);
    const first = drain(node, storage);
    node.step(m);
    const second = drain(node, storage);
    assert.deepEqual(logTerms(node), [1, 1, 1]);
    assert.deepEqual(second.readies.flatMap((r) => r.entries), [], "nothing new to persist");
    assert.deepEqual(messagesOfType(first.messages, "MsgAppResp").map((r) => [r.reject, r.index]), [[false, 3]]);
    // The repeat starts below the commit index: the answer vouches for what is committed.
    assert.deepEqual(messagesOfType(second.messages, "MsgAppResp").map((r) => [r.reject, r.index]), [[false, 2]]);
  });
});
