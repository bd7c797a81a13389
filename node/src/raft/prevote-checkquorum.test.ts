// Pre-vote (dissertation §9.6) and check-quorum with leader stickiness (§4.2.3, §6.4): the
// protections against a partitioned or removed node disrupting a healthy leader.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  PAPER, TestCluster, appendMsg, bootstrapStorage, drain, heartbeat, messagesOfType, newNode, storageWithLog, voteMsg,
  voteResp,
} from "./testing/harness.ts";

function ticks(cluster: TestCluster, n: number): void {
  for (let t = 0; t < n; t++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

describe("pre-vote", () => {
  test("pre-vote: a partitioned node does not increase its term", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    ticks(cluster, 100);
    const s = cluster.node(3).status();
    assert.equal(s.term, 1);
    assert.equal(s.role, "pre-candidate");
  });

  test("pre-vote: a partitioned node rejoins without disrupting the leader", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    ticks(cluster, 100);
    cluster.heal();
    ticks(cluster, 5);
    assert.deepEqual(cluster.leaders(), [1]);
    assert.equal(cluster.node(1).status().term, 1);
    assert.equal(cluster.node(3).status().lead, 1);
  });

  test("pre-vote: without it, a rejoining partitioned node deposes the leader", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    cluster.isolate(3);
    ticks(cluster, 100);
    assert.ok(cluster.node(3).status().term > 3, "its term ran away");
    cluster.heal();
    ticks(cluster, 1);
    assert.notEqual(cluster.node(1).status().role, "leader", "the contrast that pre-vote exists for");
  });

  test("pre-vote: a pre-candidate asks for the next term without changing its own", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(1, storage);
    node.campaign();
    const rd = drain(node, storage);
    assert.equal(node.status().role, "pre-candidate");
    assert.equal(node.status().term, 0);
    assert.equal(node.status().vote, 0);
    assert.deepEqual(messagesOfType(rd.messages, "MsgPreVote").map((m) => [m.to, m.term]), [[2, 1], [3, 1]]);
    assert.equal(storage.hardState().term, 0, "nothing persisted");
  });

  test("pre-vote: a pre-candidate that wins the pre-vote runs a real election in the next term", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(1, storage);
    node.campaign();
    drain(node, storage);
    node.step(voteResp(2, 1, 1, true, true));
    const rd = drain(node, storage);
    assert.equal(node.status().role, "candidate");
    assert.equal(node.status().term, 1);
    assert.deepEqual(messagesOfType(rd.messages, "MsgVote").map((m) => [m.to, m.term]), [[2, 1], [3, 1]]);
  });

  test("pre-vote: a pre-candidate rejected by a majority returns to follower in its own term", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(1, storage);
    node.campaign();
    drain(node, storage);
    node.step(voteResp(2, 1, 0, false, true));
    node.step(voteResp(3, 1, 0, false, true));
    assert.equal(node.status().role, "follower");
    assert.equal(node.status().term, 0);
  });

  test("pre-vote: voters change neither term nor vote when answering a pre-vote", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage);
    node.step(voteMsg(1, 2, 5, 0, 0, { pre: true }));
    const [resp] = messagesOfType(drain(node, storage).messages, "MsgPreVoteResp");
    assert.equal(resp!.reject, false);
    assert.equal(resp!.term, 5, "the grant names the term asked about");
    assert.deepEqual([node.status().term, node.status().vote], [0, 0]);
    node.step(voteMsg(3, 2, 5, 0, 0, { pre: true }));
    assert.equal(messagesOfType(drain(node, storage).messages, "MsgPreVoteResp")[0]!.reject, false, "pre-votes are not exclusive");
  });

  test("pre-vote: a pre-vote is refused to a node whose log is behind", () => {
    const storage = storageWithLog([1, 2, 3], [1, 2]);
    const node = newNode(2, storage);
    node.step(voteMsg(1, 2, 3, 5, 1, { pre: true }));
    assert.equal(messagesOfType(drain(node, storage).messages, "MsgPreVoteResp")[0]!.reject, true);
  });
});

describe("check-quorum", () => {
  test("check-quorum: a leader that does not hear from a majority within an election timeout steps down", () => {
    const cluster = new TestCluster([1, 2, 3], { electionTicks: 10 });
    cluster.elect(1);
    cluster.isolate(1);
    for (let t = 1; t <= 20; t++) {
      cluster.tick(1);
      cluster.stabilize();
      if (cluster.node(1).status().role !== "leader") {
        // Answers during the election count for the first check; the second finds nobody.
        assert.ok(t > 10 && t <= 20, `stepped down after ${t} ticks`);
        assert.equal(cluster.node(1).status().term, 1, "stepping down does not change the term");
        return;
      }
    }
    assert.fail("the isolated leader kept leading");
  });

  test("check-quorum: a leader that hears from a majority keeps leading", () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5]);
    cluster.elect(1);
    cluster.isolate(4);
    cluster.isolate(5);
    ticks(cluster, 100);
    assert.equal(cluster.node(1).status().role, "leader");
    assert.equal(cluster.node(1).status().term, 1);
  });

  test("check-quorum: a follower that heard from the leader within the election timeout ignores (pre-)votes", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, { electionTicks: 10 });
    node.step(heartbeat(1, 2, 1));
    for (const pre of [false, true]) {
      node.step(voteMsg(3, 2, 2, 10, 1, { pre }));
      assert.deepEqual(drain(node, storage).messages.filter((m) => m.type !== "MsgHeartbeatResp"), [], `${pre ? "pre-" : ""}vote ignored`);
      assert.equal(node.status().term, 1);
    }
    for (let t = 0; t < 10; t++) node.tick();
    node.step(voteMsg(3, 2, 2, 10, 1));
    const [resp] = messagesOfType(drain(node, storage).messages, "MsgVoteResp");
    assert.equal(resp?.reject, false, "after an election timeout without the leader, it votes");
    assert.equal(node.status().vote, 3);
  });

  test("check-quorum: a TimeoutNow campaign is granted inside the leader's lease", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage);
    node.step(heartbeat(1, 2, 1));
    node.step(voteMsg(3, 2, 2, 0, 0, { transfer: true }));
    const [resp] = messagesOfType(drain(node, storage).messages, "MsgVoteResp");
    assert.equal(resp?.reject, false);
  });

  test("check-quorum: a deposed leader learns the new term from a follower's answer and steps down", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    storage.setHardState({ term: 3, vote: 0, commit: 0 });
    const follower = newNode(2, storage);
    follower.step(appendMsg(1, 2, 2, 0, 0, []));
    const [resp] = messagesOfType(drain(follower, storage).messages, "MsgAppResp");
    assert.equal(resp!.term, 3);
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.node(1).step({ ...resp!, from: 2, to: 1 });
    assert.equal(cluster.node(1).status().role, "follower");
    assert.equal(cluster.node(1).status().term, 3);
  });
});
