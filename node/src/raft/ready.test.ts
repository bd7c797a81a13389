// The Ready/advance contract the node loop relies on: what may be sent before persisting, what only
// after, and what counts only once durable.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RaftError } from "./errors.ts";
import {
  PAPER, appendMsg, appendResp, bootstrapStorage, bytes, drain, entry, makeLeader, messagesOfType, newNode, storageWithLog,
  text,
} from "./testing/harness.ts";

describe("Ready and advance", () => {
  test("ready: a leader's appends may leave before its own entries are persisted", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = makeLeader(1, [1, 2, 3], storage);
    node.step(appendResp(2, 1, 1, 1));
    drain(node, storage);
    node.propose(bytes("x"), { term: 1 });
    const rd = node.ready();
    assert.deepEqual(rd.entries.map((e) => text(e.data)), ["x"]);
    assert.ok(messagesOfType(rd.messages, "MsgApp").some((m) => m.entries.length === 1), "in messages, not messagesAfterPersist");
    assert.deepEqual(rd.messagesAfterPersist, []);
  });

  test("ready: a leader's own entry counts toward commit only once advance() reports it persisted", () => {
    const storage = bootstrapStorage([1, 2, 3, 4, 5]);
    const node = makeLeader(1, [1, 2, 3, 4, 5], storage);
    for (const id of [2, 3]) node.step(appendResp(id, 1, 1, 1));
    drain(node, storage);
    const { index } = node.propose(bytes("x"), { term: 1 });
    const rd = node.ready();
    node.step(appendResp(2, 1, 1, index));
    node.step(appendResp(3, 1, 1, index));
    assert.equal(node.status().commit, 1, "followers 2 and 3 alone are no majority of five");
    storage.save(rd);
    node.advance();
    assert.equal(node.status().commit, index, "with the leader's durable copy they are");
  });

  test("ready: a follower's acknowledgement waits until its entries are persisted", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, [entry(1, 1)]));
    const rd = node.ready();
    assert.deepEqual(rd.messages, []);
    assert.deepEqual(rd.messagesAfterPersist.map((m) => m.type), ["MsgAppResp"]);
    assert.equal(rd.mustSync, true);
  });

  test("ready: a candidate counts its own vote only once it is persisted", () => {
    const storage = bootstrapStorage([1]);
    const node = newNode(1, storage, PAPER);
    node.campaign();
    const rd = node.ready();
    assert.deepEqual(rd.hardState, { term: 1, vote: 1, commit: 0 });
    assert.equal(node.status().role, "candidate", "a single voter still waits for its own durable vote");
    storage.save(rd);
    node.advance();
    assert.equal(node.status().role, "leader");
  });

  test("ready: a vote is answered only after it is persisted", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step({ type: "MsgVote", from: 1, to: 2, term: 1, lastIndex: 0, lastTerm: 0, transfer: false });
    const rd = node.ready();
    assert.deepEqual(rd.hardState, { term: 1, vote: 1, commit: 0 });
    assert.deepEqual(rd.messages, []);
    assert.deepEqual(rd.messagesAfterPersist.map((m) => m.type), ["MsgVoteResp"]);
  });

  test("ready: committed entries are only ones already persisted", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, [entry(1, 1), entry(2, 1)], 2));
    const first = node.ready();
    assert.equal(first.entries.length, 2);
    assert.deepEqual(first.committedEntries, [], "committed, but not yet durable here");
    storage.save(first);
    node.advance();
    assert.deepEqual(node.ready().committedEntries.map((e) => e.index), [1, 2]);
  });

  test("ready: input between ready() and advance() waits for the next Ready", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, [entry(1, 1)]));
    const first = node.ready();
    node.step(appendMsg(1, 2, 1, 1, 1, [entry(2, 1)]));
    assert.equal(node.hasReady(), false, "one Ready at a time");
    storage.save(first);
    node.advance();
    const second = node.ready();
    assert.deepEqual(second.entries.map((e) => e.index), [2]);
  });

  test("ready: ready() twice, or advance() without a Ready, is refused", () => {
    const node = newNode(1, bootstrapStorage([1, 2, 3]), PAPER);
    assert.throws(() => node.advance(), (err: unknown) => err instanceof RaftError && err.code === "RAFT_MISUSE");
    node.campaign();
    node.ready();
    assert.throws(() => node.ready(), (err: unknown) => err instanceof RaftError && err.code === "RAFT_MISUSE");
  });

  test("ready: entries overwritten between ready() and advance() are handed out again", () => {
    const storage = storageWithLog([1, 2, 3], [1], 1);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 1, 1, [entry(2, 1), entry(3, 1)]));
    const first = node.ready();
    node.step(appendMsg(3, 2, 2, 1, 1, [entry(2, 2)]));
    storage.save(first);
    node.advance();
    assert.equal(node.status().lastIndex, 2);
    const second = node.ready();
    assert.deepEqual(second.entries.map((e) => [e.index, e.term]), [[2, 2]], "the overwriting entry is persisted in turn");
    storage.save(second);
    node.advance();
    assert.deepEqual([storage.lastIndex(), storage.term(2)], [2, 2]);
  });

  test("ready: a crash before persisting loses the unpersisted entries, which were never acknowledged", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, [entry(1, 1)]));
    drain(node, storage);
    node.step(appendMsg(1, 2, 1, 1, 1, [entry(2, 1)]));
    const lost = node.ready();
    assert.equal(lost.messagesAfterPersist.length, 1, "the acknowledgement of entry 2 is held back");
    const restarted = newNode(2, storage, PAPER);
    assert.equal(restarted.status().lastIndex, 1);
  });

  test("ready: hard state appears only when it changed, and must be synced only for term, vote or entries", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, [entry(1, 1)]));
    const first = node.ready();
    assert.deepEqual([first.hardState, first.mustSync], [{ term: 1, vote: 0, commit: 0 }, true]);
    storage.save(first);
    node.advance();
    node.step({ type: "MsgHeartbeat", from: 1, to: 2, term: 1, commit: 1 });
    const second = node.ready();
    assert.deepEqual([second.hardState, second.mustSync], [{ term: 1, vote: 0, commit: 1 }, false]);
    storage.save(second);
    node.advance();
    node.step({ type: "MsgHeartbeat", from: 1, to: 2, term: 1, commit: 1 });
    const third = node.ready();
    assert.equal(third.hardState, undefined);
  });

  test("ready: soft state reports role and leader changes", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(2, storage, PAPER);
    node.step(appendMsg(1, 2, 1, 0, 0, []));
    const rd = node.ready();
    assert.deepEqual(rd.softState, { lead: 1, role: "follower" });
    storage.save(rd);
    node.advance();
    node.step(appendMsg(1, 2, 1, 0, 0, []));
    assert.equal(node.ready().softState, undefined);
  });

  test("ready: a restarted node hands the application the committed entries after its snapshot again", () => {
    const storage = storageWithLog([1, 2, 3], [1, 1, 1]);
    storage.setHardState({ term: 1, vote: 0, commit: 3 });
    storage.compact(1);
    const node = newNode(2, storage, PAPER);
    assert.deepEqual(drain(node, storage).committed.map((e) => e.index), [2, 3]);
    const resumed = newNode(2, storage, { ...PAPER, applied: 2 });
    assert.deepEqual(drain(resumed, storage).committed.map((e) => e.index), [3], "or from the applied index it is given");
  });
});
