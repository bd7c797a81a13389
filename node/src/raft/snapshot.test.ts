// Snapshots: a follower behind the leader's first retained index gets the leader's snapshot
// (metadata here; the transport streams the files) and resumes replication from it.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RaftError } from "./errors.ts";
import {
  TestCluster, appendMsg, appendResp, bootstrapStorage, bytes, drain, heartbeatResp, makeLeader, messagesOfType, newNode,
  storageWithLog,
} from "./testing/harness.ts";
import type { Message } from "./messages.ts";

function ticks(cluster: TestCluster, n: number): void {
  for (let t = 0; t < n; t++) {
    cluster.tickAll();
    cluster.stabilize();
  }
}

/** Node 3 misses entries a, b, c, which the leader then compacts away. */
function followerBehindCompaction(): { cluster: TestCluster; compactedTo: number } {
  const cluster = new TestCluster([1, 2, 3]);
  cluster.elect(1);
  cluster.isolate(3);
  for (const data of ["a", "b", "c"]) cluster.propose(1, data);
  const applied = cluster.node(1).status().applied;
  cluster.storage(1).compact(applied);
  cluster.node(1).compacted(applied);
  cluster.heal();
  return { cluster, compactedTo: applied };
}

const snap = (from: number, to: number, term: number, index: number, snapTerm: number): Message => ({
  type: "MsgSnap", from, to, term, snapshot: { index, term: snapTerm, conf: { voters: [1, 2, 3], learners: [] } },
});

describe("snapshots", () => {
  test("snapshot: a follower that lost its log (wiped data) answers heartbeats without committing and is caught up by snapshot", () => {
    const { cluster, compactedTo } = followerBehindCompaction();
    ticks(cluster, 3);
    // Node 3 had everything, then its data directory is wiped: it restarts from empty storage.
    cluster.add(3, bootstrapStorage([1, 2, 3]));
    cluster.propose(1, "after-wipe");
    ticks(cluster, 5);
    const follower = cluster.node(3).status();
    assert.ok(follower.commit <= cluster.storage(3).lastIndex(), "it never committed past its own log");
    assert.ok(messagesOfType(cluster.delivered, "MsgSnap").some((m) => m.to === 3), "the leader sent it a snapshot");
    assert.ok(cluster.storage(3).snapshot().index >= compactedTo);
    assert.ok(cluster.appliedTexts(3).includes("after-wipe"), "and it applies what follows");
  });

  test("snapshot: a follower behind the leader's first index receives the snapshot and resumes replication from it", () => {
    const { cluster, compactedTo } = followerBehindCompaction();
    ticks(cluster, 3);
    const snaps = messagesOfType(cluster.delivered, "MsgSnap");
    assert.equal(snaps.length, 1);
    assert.deepEqual([snaps[0]!.to, snaps[0]!.snapshot.index], [3, compactedTo]);
    assert.equal(cluster.storage(3).snapshot().index, compactedTo, "node 3 persisted the snapshot");
    cluster.propose(1, "d");
    assert.deepEqual(cluster.appliedTexts(3), ["d"], "and applies what follows it");
    assert.equal(cluster.node(1).progress()!.get(3)!.state, "replicate");
  });

  test("snapshot: the leader sends nothing else to a follower while its snapshot is in flight", () => {
    const storage = storageWithLog([1, 2, 3], [1, 1, 1, 1, 1], 1);
    storage.setHardState({ term: 1, vote: 0, commit: 5 });
    storage.compact(4);
    const leader = makeLeader(1, [1, 2, 3], storage);
    leader.step(appendResp(3, 1, 2, 5, true, 0, 0));
    const first = drain(leader, storage).messages.filter((m) => m.to === 3);
    assert.deepEqual(first.map((m) => m.type), ["MsgSnap"]);
    leader.propose(bytes("x"), { term: 2 });
    for (let t = 0; t < 3; t++) leader.tick();
    leader.step(heartbeatResp(3, 1, 2));
    const during = drain(leader, storage).messages.filter((m) => m.to === 3);
    assert.deepEqual([...new Set(during.map((m) => m.type))], ["MsgHeartbeat"], "only heartbeats while the snapshot streams");
    leader.reportSnapshot(3, true);
    leader.step(appendResp(3, 1, 2, 4));
    const after = messagesOfType(drain(leader, storage).messages, "MsgApp").filter((m) => m.to === 3);
    assert.deepEqual(after.map((m) => m.prevIndex), [4], "replication resumes after the snapshot");
  });

  test("snapshot: a lost snapshot is sent again after the transport reports the failure", () => {
    const { cluster, compactedTo } = followerBehindCompaction();
    let lost = 0;
    cluster.drop((m) => m.type === "MsgSnap" && lost++ === 0);
    ticks(cluster, 5);
    assert.equal(lost, 2, "one lost, one more sent");
    assert.equal(cluster.storage(3).snapshot().index, compactedTo);
  });

  test("snapshot: the follower's Ready carries the snapshot, and committed entries only once it is persisted", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage);
    node.step(snap(1, 2, 2, 5, 2));
    const rd = node.ready();
    assert.deepEqual(rd.snapshot, { index: 5, term: 2, conf: { voters: [1, 2, 3], learners: [] } });
    assert.deepEqual([rd.entries, rd.committedEntries], [[], []]);
    assert.equal(rd.hardState?.commit, 5);
    assert.deepEqual(rd.messages, []);
    assert.deepEqual(rd.messagesAfterPersist.map((m) => [m.type, m.type === "MsgAppResp" && m.index]), [["MsgAppResp", 5]]);
    storage.save(rd);
    node.advance();
    assert.deepEqual([node.status().applied, node.status().firstIndex, node.status().lastIndex], [5, 6, 5]);
    node.step(appendMsg(1, 2, 2, 5, 2, [{ index: 6, term: 2, type: 0, data: new Uint8Array([6]) }], 6));
    const { committed } = drain(node, storage);
    assert.deepEqual(committed.map((e) => e.index), [6]);
  });

  test("snapshot: a snapshot the follower's log already covers only advances its commit", () => {
    const storage = storageWithLog([1, 2, 3], [1, 1, 1]);
    const node = newNode(2, storage);
    node.step(snap(1, 2, 1, 2, 1));
    const { readies } = drain(node, storage);
    assert.ok(readies.every((r) => r.snapshot === undefined));
    assert.deepEqual([node.status().commit, node.status().lastIndex], [2, 3], "the log is kept");
  });

  test("snapshot: a snapshot at or below the commit index is ignored", () => {
    const storage = storageWithLog([1, 2, 3], [1, 1, 1]);
    storage.setHardState({ term: 1, vote: 0, commit: 3 });
    const node = newNode(2, storage);
    node.step(snap(1, 2, 1, 2, 1));
    const { readies, messages } = drain(node, storage);
    assert.ok(readies.every((r) => r.snapshot === undefined));
    assert.deepEqual(messagesOfType(messages, "MsgAppResp").map((m) => m.index), [3]);
  });

  test("snapshot: compacted() beyond the applied index, or beyond what the storage compacted, is refused", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.propose(1, "a");
    const { applied } = cluster.node(1).status();
    assert.throws(() => cluster.node(1).compacted(applied + 1), (err: unknown) => err instanceof RaftError && err.code === "RAFT_MISUSE");
    assert.throws(() => cluster.node(1).compacted(applied), /still starts at 1/);
  });

  test("snapshot: a node restarts from a compacted storage", () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    for (const data of ["a", "b", "c"]) cluster.propose(1, data);
    cluster.storage(2).compact(3);
    cluster.crash(2);
    const restarted = cluster.restart(2);
    const s = restarted.status();
    assert.deepEqual([s.firstIndex, s.applied, s.conf.voters], [4, 3, [1, 2, 3]]);
    cluster.stabilize();
    assert.deepEqual(cluster.appliedTexts(2), ["c"], "replays only what follows the snapshot");
  });
});
