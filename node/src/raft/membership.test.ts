// §6 of the Raft paper (and §4 of the dissertation): one-server membership changes, learners,
// removal of the leader.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfChangeType, decodeConfChange, encodeConfChange, type ConfChange } from "./conf-change.ts";
import { ConfChangeError, ProposalDroppedError } from "./errors.ts";
import { MemoryStorage } from "./memory-storage.ts";
import {
  PAPER, TestCluster, appendMsg, appendResp, bootstrapStorage, drain, entry, makeLeader, messagesOfType, newNode,
  voteResp,
} from "./testing/harness.ts";
import { EntryType, type Entry } from "./types.ts";

function change(cluster: TestCluster, leader: number, c: ConfChange): number {
  const node = cluster.node(leader);
  const { index } = node.proposeConfChange(c, { term: node.status().term });
  cluster.stabilize();
  return index;
}

function tickUntilQuiet(cluster: TestCluster, ticks: number): void {
  for (let t = 0; t < ticks; t++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

function confEntry(index: number, term: number, c: ConfChange, before = { voters: [1, 2, 3], learners: [] as number[] }): Entry {
  return { index, term, type: EntryType.ConfChange, data: encodeConfChange(c, before) };
}

describe("6 membership changes", () => {
  test("6: one membership change at a time", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    cluster.isolate(2);
    cluster.isolate(3);
    change(cluster, 1, { type: ConfChangeType.AddLearner, nodeId: 4 });
    assert.throws(
      () => cluster.node(1).proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 5 }, { term: 1 }),
      (err: unknown) => err instanceof ProposalDroppedError && err.code === "RAFT_CONF_CHANGE_PENDING",
    );
    cluster.heal();
    tickUntilQuiet(cluster, 2);
    assert.doesNotThrow(() => change(cluster, 1, { type: ConfChangeType.AddLearner, nodeId: 5 }), "the first one committed");
    assert.deepEqual(cluster.node(1).status().conf, { voters: [1, 2, 3], learners: [4, 5] });
  });

  test("6: a new leader cannot change membership before it commits an entry of its term", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = makeLeader(1, [1, 2, 3], storage);
    assert.throws(
      () => node.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 }, { term: 1 }),
      (err: unknown) => err instanceof ProposalDroppedError && err.code === "RAFT_CONF_CHANGE_PENDING",
    );
    node.step(appendResp(2, 1, 1, 1));
    drain(node, storage);
    assert.doesNotThrow(() => node.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 }, { term: 1 }));
  });

  test("6: a membership change takes effect as soon as it is in the log", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = makeLeader(1, [1, 2, 3], storage);
    node.step(appendResp(2, 1, 1, 1));
    drain(node, storage);
    const { index } = node.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 4 }, { term: 1 });
    const { messages } = drain(node, storage);
    assert.ok(node.status().commit < index, "not committed yet");
    assert.deepEqual(node.status().conf, { voters: [1, 2, 3], learners: [4] });
    assert.ok(node.progress()!.has(4), "the leader tracks the learner at once");
    assert.ok(messagesOfType(messages, "MsgApp").some((m) => m.to === 4), "and replicates to it");
    // A voter added this way counts toward committing its own change: promote 4, then 1+2 is not enough.
    node.step(appendResp(4, 1, 1, index));
    node.step(appendResp(2, 1, 1, index));
    drain(node, storage);
    const promoted = node.proposeConfChange({ type: ConfChangeType.PromoteLearner, nodeId: 4 }, { term: 1 });
    drain(node, storage);
    node.step(appendResp(2, 1, 1, promoted.index));
    drain(node, storage);
    assert.ok(node.status().commit < promoted.index, "voters {1,2,3,4} need three acknowledgements");
    node.step(appendResp(4, 1, 1, promoted.index));
    drain(node, storage);
    assert.equal(node.status().commit, promoted.index);
  });

  test("6: a joining node with an empty log learns the membership from the log", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    cluster.propose(1, "before");
    cluster.add(4, new MemoryStorage(), PAPER);
    change(cluster, 1, { type: ConfChangeType.AddLearner, nodeId: 4 });
    cluster.propose(1, "after");
    assert.deepEqual(cluster.node(4).status().conf, { voters: [1, 2, 3], learners: [4] });
    assert.deepEqual(cluster.appliedTexts(4), ["before", "after"]);
  });

  test("6: learners receive the log but never vote and are not counted in quorums", () => {
    const cluster = new TestCluster([1, 2, 3], { ...PAPER, learners: [4] });
    cluster.elect(1);
    cluster.propose(1, "a");
    assert.deepEqual(cluster.appliedTexts(4), ["a"]);
    cluster.isolate(2);
    cluster.isolate(3);
    cluster.propose(1, "b");
    assert.equal(cluster.node(4).status().lastIndex, 3, "the learner has entry b");
    assert.equal(cluster.node(1).status().commit, 2, "but leader + learner are no majority of three voters");
    assert.ok(!cluster.delivered.some((m) => m.to === 4 && m.type === "MsgVote"), "nobody asks a learner for its vote");
  });

  test("6: a learner never campaigns", () => {
    const storage = bootstrapStorage([1, 2, 3], [4]);
    const node = newNode(4, storage, PAPER);
    for (let t = 0; t < 200; t++) node.tick();
    assert.equal(node.status().role, "follower");
    assert.equal(node.status().term, 0);
  });

  test("6: a candidate does not count a learner's vote", () => {
    const storage = bootstrapStorage([1, 2, 3], [4]);
    const node = newNode(1, storage, PAPER);
    node.campaign();
    drain(node, storage);
    node.step(voteResp(4, 1, 1, true));
    drain(node, storage);
    assert.equal(node.status().role, "candidate");
    node.step(voteResp(2, 1, 1, true));
    drain(node, storage);
    assert.equal(node.status().role, "leader");
  });

  test("6: promoting a learner makes it a voter that counts toward the quorum", () => {
    const cluster = new TestCluster([1, 2, 3], { ...PAPER, learners: [4] });
    cluster.elect(1);
    change(cluster, 1, { type: ConfChangeType.PromoteLearner, nodeId: 4 });
    assert.deepEqual(cluster.node(4).status().conf, { voters: [1, 2, 3, 4], learners: [] });
    cluster.isolate(2);
    cluster.isolate(3);
    cluster.propose(1, "x");
    const lastIndex = cluster.node(1).status().lastIndex;
    assert.ok(cluster.node(1).status().commit < lastIndex, "two of four voters are not a majority");
    cluster.heal();
    cluster.isolate(3);
    tickUntilQuiet(cluster, 2);
    assert.equal(cluster.node(1).status().commit, lastIndex, "three of four are");
  });

  test("6: the leader stops replicating to a removed node", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    change(cluster, 1, { type: ConfChangeType.RemoveNode, nodeId: 3 });
    const before = cluster.delivered.length;
    cluster.propose(1, "x");
    tickUntilQuiet(cluster, 3);
    assert.ok(!cluster.delivered.slice(before).some((m) => m.to === 3), "nothing more is sent to node 3");
    assert.deepEqual(cluster.appliedTexts(2), ["x"], "two voters commit on their own now");
  });

  test("6: a node that knows its removal is committed never campaigns", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    storage.append([entry(1, 1), confEntry(2, 1, { type: ConfChangeType.RemoveNode, nodeId: 3 })]);
    storage.setHardState({ term: 1, vote: 0, commit: 2 });
    const node = newNode(3, storage, PAPER);
    for (let t = 0; t < 200; t++) node.tick();
    assert.equal(node.status().term, 1);
    assert.deepEqual(node.status().conf.voters, [1, 2]);
  });

  test("6: a removed leader steps down once its removal commits and stops sending appends", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    change(cluster, 1, { type: ConfChangeType.RemoveNode, nodeId: 1 });
    assert.equal(cluster.node(1).status().role, "follower");
    const before = cluster.delivered.length;
    for (let t = 0; t < 100; t++) {
      cluster.tick(1);
      cluster.stabilize();
    }
    assert.ok(!cluster.delivered.slice(before).some((m) => m.from === 1), "the old leader is silent");
    tickUntilQuiet(cluster, 50);
    const [leader] = cluster.leaders();
    assert.ok(leader === 2 || leader === 3, `the others elected ${leader}`);
    cluster.propose(leader, "after");
    assert.deepEqual(cluster.appliedTexts(leader === 2 ? 3 : 2).at(-1), "after");
  });

  test("6: until its removal commits, a removed leader still leads without counting itself", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    cluster.isolate(3);
    change(cluster, 1, { type: ConfChangeType.RemoveNode, nodeId: 1 });
    const s = cluster.node(1).status();
    assert.equal(s.role, "leader", "the new membership {2,3} needs node 3 to commit");
    assert.ok(s.commit < s.lastIndex, "1 and 2 hold the entry, but 1 no longer counts");
    cluster.heal();
    tickUntilQuiet(cluster, 2);
    assert.equal(cluster.node(1).status().role, "follower");
  });

  test("6: a leader whose removal only it holds may campaign again to commit it (dissertation 4.2.2)", () => {
    const cluster = new TestCluster([1, 2], PAPER);
    cluster.elect(1);
    cluster.isolate(2);
    change(cluster, 1, { type: ConfChangeType.RemoveNode, nodeId: 1 });
    cluster.crash(1);
    cluster.restart(1);
    cluster.heal();
    assert.deepEqual(cluster.node(1).status().conf.voters, [2]);
    tickUntilQuiet(cluster, 100);
    // Node 2 alone could not win: node 1's log is more up-to-date. Node 1 led again to commit its removal.
    assert.equal(cluster.node(2).status().role, "leader");
    assert.deepEqual(cluster.node(2).status().conf.voters, [2]);
    assert.equal(cluster.node(1).status().role, "follower");
  });

  test("6: an uncommitted membership change is undone when its entry is overwritten", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, [confEntry(1, 1, { type: ConfChangeType.AddLearner, nodeId: 4 })]));
    drain(node, storage);
    assert.deepEqual(node.status().conf, { voters: [1, 2, 3], learners: [4] });
    node.step(appendMsg(3, 2, 2, 0, 0, [entry(1, 2)]));
    const { readies } = drain(node, storage);
    assert.deepEqual(node.status().conf, { voters: [1, 2, 3], learners: [] });
    assert.ok(readies.some((r) => r.confState !== undefined), "the Ready reports the membership change");
    assert.equal(storage.lastConfChangeIndex(), 0);
  });

  test("6: a restarted node recovers the membership in force from its log", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, [entry(1, 1), confEntry(2, 1, { type: ConfChangeType.AddLearner, nodeId: 4 }), entry(3, 1)]));
    drain(node, storage);
    const restarted = newNode(2, storage, PAPER);
    assert.deepEqual(restarted.status().conf, { voters: [1, 2, 3], learners: [4] });
    // And it still knows the membership before, should that entry be overwritten.
    restarted.step(appendMsg(3, 2, 2, 1, 1, [entry(2, 2)]));
    assert.deepEqual(restarted.status().conf, { voters: [1, 2, 3], learners: [] });
  });

  test("6: invalid changes are refused with a typed error", () => {
    const cluster = new TestCluster([1, 2, 3], { ...PAPER, learners: [4] });
    cluster.elect(1);
    const invalid: ConfChange[] = [
      { type: ConfChangeType.AddLearner, nodeId: 2 },
      { type: ConfChangeType.AddLearner, nodeId: 4 },
      { type: ConfChangeType.PromoteLearner, nodeId: 3 },
      { type: ConfChangeType.PromoteLearner, nodeId: 9 },
      { type: ConfChangeType.RemoveNode, nodeId: 9 },
      { type: ConfChangeType.AddLearner, nodeId: 0 },
    ];
    for (const c of invalid) {
      assert.throws(() => cluster.node(1).proposeConfChange(c, { term: 1 }), (err: unknown) => err instanceof ConfChangeError && err.code === "RAFT_CONF_CHANGE_INVALID", `${c.type} ${c.nodeId}`);
    }
    const single = new TestCluster([1], PAPER);
    single.elect(1);
    assert.throws(() => single.node(1).proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 1 }, { term: 1 }), /no voter/);
  });

  test("6: conf change entries reach the application with the change and its context", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    const context = new TextEncoder().encode("kingbus-3.kingbus:9090");
    change(cluster, 1, { type: ConfChangeType.AddLearner, nodeId: 4, context });
    const applied = cluster.applied(2).filter((e) => e.type === EntryType.ConfChange);
    assert.equal(applied.length, 1);
    const record = decodeConfChange(applied[0]!.data);
    assert.deepEqual(record.change, { type: ConfChangeType.AddLearner, nodeId: 4, context });
    assert.deepEqual(record.before, { voters: [1, 2, 3], learners: [] });
    assert.deepEqual(record.after, { voters: [1, 2, 3], learners: [4] });
  });
});
