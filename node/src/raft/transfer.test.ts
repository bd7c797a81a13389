// Leadership transfer (dissertation §3.10): catch the target up, then MsgTimeoutNow.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProposalDroppedError, RaftError } from "./errors.ts";
import { TestCluster, bootstrapStorage, bytes, drain, messagesOfType, newNode } from "./testing/harness.ts";

describe("leadership transfer", () => {
  test("transfer: the leader brings the target up to date, then sends TimeoutNow, and the target wins", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    cluster.propose(1, "x");
    cluster.heal();
    const lastIndex = cluster.node(1).status().lastIndex;
    cluster.node(1).transferLeadership(3);
    cluster.stabilize();
    assert.deepEqual(cluster.leaders(), [3]);
    assert.equal(cluster.node(3).status().term, 2);
    const timeoutAt = cluster.delivered.findIndex((m) => m.type === "MsgTimeoutNow");
    const caughtUpAt = cluster.delivered.findIndex((m) => m.type === "MsgAppResp" && m.from === 3 && !m.reject && m.index === lastIndex);
    assert.ok(caughtUpAt >= 0 && caughtUpAt < timeoutAt, "TimeoutNow only after the target holds the whole log");
    cluster.propose(3, "y");
    assert.deepEqual(cluster.appliedTexts(1), ["x", "y"]);
  });

  test("transfer: a target already up to date gets TimeoutNow at once", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.propose(1, "x");
    cluster.node(1).transferLeadership(2);
    const storage = cluster.storage(1);
    const { messages } = drain(cluster.node(1), storage);
    assert.deepEqual(messages.map((m) => [m.type, m.to]), [["MsgTimeoutNow", 2]]);
  });

  test("transfer: proposals are refused while transferring", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    cluster.node(1).transferLeadership(3);
    assert.throws(() => cluster.node(1).propose(bytes("x"), { term: 1 }), (err: unknown) => err instanceof ProposalDroppedError && err.code === "RAFT_TRANSFERRING");
    assert.equal(cluster.node(1).status().leadTransferee, 3);
  });

  test("transfer: an unfinished transfer is abandoned after an election timeout", () => {
    const cluster = new TestCluster([1, 2, 3], { electionTicks: 10 });
    cluster.elect(1);
    cluster.isolate(3);
    cluster.node(1).transferLeadership(3);
    for (let t = 0; t < 9; t++) cluster.tick(1);
    assert.equal(cluster.node(1).status().leadTransferee, 3);
    cluster.tick(1);
    cluster.stabilize();
    assert.equal(cluster.node(1).status().leadTransferee, 0);
    assert.equal(cluster.node(1).status().role, "leader");
    assert.doesNotThrow(() => cluster.propose(1, "accepted again"));
  });

  test("transfer: a transfer to a learner or a stranger is refused, and so is one asked of a follower", () => {
    const cluster = new TestCluster([1, 2, 3], { learners: [4] });
    cluster.elect(1);
    for (const to of [4, 9]) {
      assert.throws(() => cluster.node(1).transferLeadership(to), (err: unknown) => err instanceof RaftError && err.code === "RAFT_TRANSFER_INVALID");
    }
    assert.throws(() => cluster.node(2).transferLeadership(3), (err: unknown) => err instanceof RaftError && err.code === "RAFT_NOT_LEADER");
  });

  test("transfer: a learner that receives TimeoutNow does not campaign", () => {
    const storage = bootstrapStorage([1, 2, 3], [4]);
    const node = newNode(4, storage);
    node.step({ type: "MsgTimeoutNow", from: 1, to: 4, term: 1 });
    assert.equal(node.status().role, "follower");
    assert.deepEqual(messagesOfType(drain(node, storage).messages, "MsgVote"), []);
  });

  test("transfer: the target campaigns without pre-vote and its votes bypass leases", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage);
    node.step({ type: "MsgTimeoutNow", from: 1, to: 2, term: 1 });
    const votes = messagesOfType(drain(node, storage).messages, "MsgVote");
    assert.equal(node.status().role, "candidate");
    assert.deepEqual(votes.map((m) => [m.to, m.term, m.transfer]), [[1, 2, true], [3, 2, true]]);
  });
});
