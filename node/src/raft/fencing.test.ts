// Fencing: a proposal carries the term in which the proposer saw this node lead. A node that no
// longer leads that term refuses it, so a deposed leader's syncer can never append.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProposalDroppedError, type ProposalDroppedCode } from "./errors.ts";
import { TestCluster, bytes, logTerms } from "./testing/harness.ts";

function refusedWith(code: ProposalDroppedCode, lead?: number) {
  return (err: unknown): boolean => err instanceof ProposalDroppedError && err.code === code && (lead === undefined || err.lead === lead);
}

function ticks(cluster: TestCluster, n: number): void {
  for (let t = 0; t < n; t++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

describe("fencing", () => {
  test("fencing: the leader accepts a proposal carrying its term", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const { index, term } = cluster.node(1).propose(bytes("x"), { term: 1 });
    assert.deepEqual([index, term], [2, 1]);
  });

  test("fencing: followers refuse proposals with RAFT_NOT_LEADER, naming the leader", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    assert.throws(() => cluster.node(2).propose(bytes("x"), { term: 1 }), refusedWith("RAFT_NOT_LEADER", 1));
  });

  test("fencing: a deposed leader refuses a proposal for its old term, and its log does not grow", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(1);
    ticks(cluster, 40);
    const [newLeader] = cluster.leaders().filter((id) => id !== 1);
    assert.ok(newLeader !== undefined, "the others elected a new leader");
    assert.notEqual(cluster.node(1).status().role, "leader", "check-quorum deposed the isolated leader");
    const before = cluster.node(1).status().lastIndex;
    assert.throws(() => cluster.node(1).propose(bytes("late"), { term: 1 }), refusedWith("RAFT_NOT_LEADER"));
    assert.equal(cluster.node(1).status().lastIndex, before);
  });

  test("fencing: a node leading again in a later term refuses a proposal carrying its earlier term", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.node(1).transferLeadership(2);
    cluster.stabilize();
    cluster.node(2).transferLeadership(1);
    cluster.stabilize();
    assert.deepEqual([cluster.leaders(), cluster.node(1).status().term], [[1], 3]);
    assert.throws(() => cluster.node(1).propose(bytes("stale"), { term: 1 }), refusedWith("RAFT_STALE_TERM", 1));
    assert.doesNotThrow(() => cluster.node(1).propose(bytes("fresh"), { term: 3 }));
  });

  test("fencing: entries a partitioned leader appended before it learned of its deposition never commit", () => {
    const cluster = new TestCluster([1, 2, 3], { checkQuorum: false });
    cluster.elect(1);
    cluster.isolate(1);
    cluster.node(1).propose(bytes("doomed"), { term: 1 });
    cluster.stabilize();
    cluster.elect(2);
    cluster.propose(2, "kept");
    cluster.heal();
    ticks(cluster, 3);
    assert.deepEqual(cluster.appliedTexts(1), ["kept"]);
    assert.deepEqual(logTerms(cluster.node(1)), logTerms(cluster.node(2)), "the doomed entry was overwritten");
  });
});
