// §5.3 of the Raft paper: log replication.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { RawNode } from "./raw-node.ts";
import {
  PAPER, TestCluster, appendMsg, appendResp, bootstrapStorage, bytes, drain, entry, heartbeat, logTerms, makeLeader,
  messagesOfType, newNode, storageWithLog, text,
} from "./testing/harness.ts";
import type { MemoryStorage } from "./memory-storage.ts";

/** A leader of term 1 whose followers acknowledged its first entry, so they are in replicate state. */
function steadyLeader(voters: number[]): { node: RawNode; storage: MemoryStorage } {
  const storage = bootstrapStorage(voters);
  const node = makeLeader(1, voters, storage);
  for (const v of voters) if (v !== 1) node.step(appendResp(v, 1, 1, 1));
  drain(node, storage);
  return { node, storage };
}

describe("5.3 log replication", () => {
  test("5.3: the leader appends a proposal to its log and sends it to every follower", () => {
    const { node, storage } = steadyLeader([1, 2, 3]);
    const { index } = node.propose(bytes("x"), { term: 1 });
    assert.equal(index, 2, "after the leader's empty entry at 1");
    const rd = drain(node, storage);
    assert.deepEqual(rd.readies[0]!.entries.map((e) => text(e.data)), ["x"], "handed out to persist");
    const apps = messagesOfType(rd.messages, "MsgApp");
    assert.deepEqual(apps.map((m) => [m.to, m.prevIndex, m.prevTerm, m.entries.map((e) => text(e.data))]), [[2, 1, 1, ["x"]], [3, 1, 1, ["x"]]]);
    assert.equal(node.status().commit, 1, "not committed before any follower has it");
  });

  test("5.3: leader commits an entry once replicated on a majority", () => {
    const { node, storage } = steadyLeader([1, 2, 3, 4, 5]);
    node.propose(bytes("x"), { term: 1 });
    drain(node, storage);
    node.step(appendResp(2, 1, 1, 2));
    drain(node, storage);
    assert.equal(node.status().commit, 1, "leader and one follower are a minority of five");
    node.step(appendResp(3, 1, 1, 2));
    const { committed, messages } = drain(node, storage);
    assert.equal(node.status().commit, 2);
    assert.deepEqual(committed.map((e) => text(e.data)), ["x"], "handed to the application");
    const commits = messagesOfType(messages, "MsgApp").map((m) => [m.to, m.commit]);
    assert.ok(commits.some(([to, commit]) => to === 4 && commit === 2), "followers learn the new commit index");
  });

  test("5.3: committing an entry commits all preceding entries", () => {
    const { node, storage } = steadyLeader([1, 2, 3]);
    for (const data of ["a", "b", "c"]) node.propose(bytes(data), { term: 1 });
    drain(node, storage);
    node.step(appendResp(2, 1, 1, 4));
    const { committed } = drain(node, storage);
    assert.deepEqual(committed.map((e) => text(e.data)), ["a", "b", "c"]);
  });

  test("5.3: followers apply an entry once they learn it is committed", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, [entry(1, 1), entry(2, 1)], 0));
    assert.deepEqual(drain(node, storage).committed, []);
    node.step(appendMsg(1, 2, 1, 2, 1, [], 1));
    assert.deepEqual(drain(node, storage).committed.map((e) => e.index), [1]);
    node.step(heartbeat(1, 2, 1, 2));
    assert.deepEqual(drain(node, storage).committed.map((e) => e.index), [2]);
  });

  test("5.3: a follower never commits beyond what it holds from the leader", () => {
    const storage = storageWithLog([1, 2, 3], [1, 1, 1]);
    const node = newNode(2, storage, PAPER);
    // The leader's commit is 5, but this append vouches only for entries up to 1.
    node.step(appendMsg(1, 2, 2, 0, 0, [entry(1, 1)], 5));
    assert.equal(node.status().commit, 1);
  });

  test("5.3: a follower rejects an append whose previous entry does not match", () => {
    const storage = storageWithLog([1, 2, 3], [1, 2]);
    const node = newNode(2, storage, PAPER);
    const cases: [number, number, boolean][] = [
      [2, 3, true], // same index, other term
      [3, 2, true], // beyond its log
      [2, 2, false],
      [1, 1, false],
      [0, 0, false],
    ];
    for (const [prevIndex, prevTerm, reject] of cases) {
      node.step(appendMsg(1, 2, 3, prevIndex, prevTerm, []));
      const [resp] = messagesOfType(drain(node, storage).messages, "MsgAppResp");
      assert.equal(resp!.reject, reject, `prev ${prevIndex}/${prevTerm}`);
    }
  });

  test("5.3: a follower deletes conflicting entries and appends new ones", () => {
    const storage = storageWithLog([1, 2, 3], [1, 2, 2]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 3, 1, 1, [entry(2, 3), entry(3, 3)]));
    drain(node, storage);
    assert.deepEqual(logTerms(node), [1, 3, 3]);
    assert.deepEqual([1, 2, 3].map((i) => storage.term(i)), [1, 3, 3], "the storage overwrote the stored suffix");
  });

  test("5.3: an old, shorter append does not truncate entries that match", () => {
    const storage = storageWithLog([1, 2, 3], [1, 2, 2]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 2, 1, 1, [entry(2, 2)]));
    const [resp] = messagesOfType(drain(node, storage).messages, "MsgAppResp");
    assert.deepEqual(logTerms(node), [1, 2, 2]);
    assert.equal(resp!.index, 2, "it vouches only for what the append covered");
  });

  // Figure 7: the leader of term 8 and followers (a)-(f).
  const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
  const followers: Record<string, number[]> = {
    a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
    b: [1, 1, 1, 4],
    c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
    d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
    e: [1, 1, 1, 4, 4, 4, 4],
    f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
  };
  for (const [name, log] of Object.entries(followers)) {
    test(`5.3: the leader brings a divergent follower's log in line with its own (Figure 7 ${name})`, () => {
      const cluster = new TestCluster([1, 2, 3], PAPER);
      cluster.add(1, storageWithLog([1, 2, 3], leaderLog, 7), PAPER);
      cluster.add(2, storageWithLog([1, 2, 3], log, 7), PAPER);
      cluster.add(3, storageWithLog([1, 2, 3], leaderLog, 7), PAPER);
      cluster.elect(1);
      assert.equal(cluster.node(1).status().role, "leader");
      assert.equal(cluster.node(1).status().term, 8);
      cluster.isolate(3);
      cluster.propose(1, "new");
      assert.deepEqual(logTerms(cluster.node(2)), [...leaderLog, 8, 8]);
      assert.deepEqual(logTerms(cluster.node(1)), [...leaderLog, 8, 8], "the leader's log only grew");
      assert.equal(cluster.node(2).status().commit, 12);
    });
  }

  test("5.3: the leader retries appends until the follower has them, whatever is lost", () => {
    const cluster = new TestCluster([1, 2, 3], PAPER);
    cluster.elect(1);
    cluster.isolate(3);
    let dropped = 0;
    cluster.drop((m) => m.to === 2 && m.type === "MsgApp" && dropped++ < 5);
    cluster.propose(1, "x");
    assert.equal(cluster.node(1).status().commit, 1, "nothing reached a majority yet");
    for (let t = 0; t < 10; t++) {
      cluster.tickAll();
      cluster.stabilize();
    }
    assert.ok(dropped > 5, "five appends were lost before one got through");
    assert.deepEqual(cluster.appliedTexts(1), ["x"]);
    assert.deepEqual(cluster.appliedTexts(2), ["x"]);
  });
});
