// Flow control of replication: the inflight window per follower, the byte limit per append,
// probing one message at a time, and coalescing proposals that arrive while a Ready is persisted.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { MemoryStorage } from "./memory-storage.ts";
import type { RawNode } from "./raw-node.ts";
import { appendResp, bootstrapStorage, bytes, drain, heartbeatResp, makeLeader, messagesOfType, PAPER, type NodeOptions } from "./testing/harness.ts";

/** Leader 1 of [1,2,3] whose followers are in replicate state. */
function replicatingLeader(options: NodeOptions): { node: RawNode; storage: MemoryStorage } {
  const storage = bootstrapStorage([1, 2, 3]);
  const node = makeLeader(1, [1, 2, 3], storage, { ...PAPER, ...options });
  node.step(appendResp(2, 1, 1, 1));
  node.step(appendResp(3, 1, 1, 1));
  drain(node, storage);
  return { node, storage };
}

const appsTo = (messages: Parameters<typeof messagesOfType>[0], to: number) => messagesOfType(messages, "MsgApp").filter((m) => m.to === to);

describe("flow control", () => {
  test("flow control: at most maxInflightMessages appends are in flight per follower", () => {
    const { node, storage } = replicatingLeader({ maxInflightMessages: 3, maxMessageBytes: 10 });
    for (let i = 0; i < 10; i++) node.propose(new Uint8Array(10), { term: 1 });
    const sent = appsTo(drain(node, storage).messages, 2);
    assert.deepEqual(sent.map((m) => m.entries.map((e) => e.index)), [[2], [3], [4]]);
    assert.equal(node.progress()!.get(2)!.inflight, 3);
    assert.equal(node.progress()!.get(2)!.paused, true);
  });

  test("flow control: maxInflightBytes bounds the entry bytes in flight per follower; a larger message still goes alone", () => {
    const { node, storage } = replicatingLeader({ maxInflightMessages: 100, maxMessageBytes: 10, maxInflightBytes: 25 });
    for (let i = 0; i < 10; i++) node.propose(new Uint8Array(10), { term: 1 });
    const sent = appsTo(drain(node, storage).messages, 2);
    assert.deepEqual(sent.map((m) => m.entries.map((e) => e.index)), [[2], [3], [4]], "30 bytes in flight fill a 25-byte window");
    assert.equal(node.progress()!.get(2)!.paused, true);
    node.step(appendResp(2, 1, 1, 3));
    assert.deepEqual(appsTo(drain(node, storage).messages, 2).map((m) => m.entries.map((e) => e.index)), [[5], [6]], "acknowledged bytes free the window");
    const big = replicatingLeader({ maxInflightMessages: 100, maxMessageBytes: 1000, maxInflightBytes: 25 });
    big.node.propose(new Uint8Array(100), { term: 1 });
    big.node.propose(new Uint8Array(5), { term: 1 });
    assert.deepEqual(appsTo(drain(big.node, big.storage).messages, 2).map((m) => m.entries.map((e) => e.data.length)), [[100, 5]], "one message over the limit goes, then the window is full");
    assert.equal(big.node.progress()!.get(2)!.paused, true);
  });

  test("flow control: acknowledgements free the window and replication resumes", () => {
    const { node, storage } = replicatingLeader({ maxInflightMessages: 3, maxMessageBytes: 10 });
    for (let i = 0; i < 10; i++) node.propose(new Uint8Array(10), { term: 1 });
    drain(node, storage);
    node.step(appendResp(2, 1, 1, 3));
    const sent = appsTo(drain(node, storage).messages, 2);
    assert.deepEqual(sent.map((m) => m.entries.map((e) => e.index)), [[5], [6]], "two acknowledged, two more sent");
  });

  test("flow control: an append carries at most maxMessageBytes of payload; a larger entry goes alone", () => {
    const { node, storage } = replicatingLeader({ maxInflightMessages: 100, maxMessageBytes: 100 });
    for (const size of [40, 40, 40, 300, 10]) node.propose(new Uint8Array(size), { term: 1 });
    const sent = appsTo(drain(node, storage).messages, 2);
    assert.deepEqual(sent.map((m) => m.entries.map((e) => e.data.length)), [[40, 40], [40], [300], [10]]);
  });

  test("flow control: a probing follower gets one append per round trip", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = makeLeader(1, [1, 2, 3], storage);
    for (let i = 0; i < 5; i++) node.propose(bytes(`p${i}`), { term: 1 });
    const sent = appsTo(drain(node, storage).messages, 2);
    assert.equal(sent.length, 0, "the election's probe is still unanswered");
    assert.equal(node.progress()!.get(2)!.state, "probe");
    node.step(appendResp(2, 1, 1, 1));
    const next = appsTo(drain(node, storage).messages, 2);
    assert.equal(node.progress()!.get(2)!.state, "replicate", "an answer switches to streaming");
    assert.deepEqual(next.map((m) => m.entries.length), [5]);
  });

  test("flow control: a heartbeat response lets one append through a full window, so lost appends cannot stall it", () => {
    const { node, storage } = replicatingLeader({ maxInflightMessages: 2, maxMessageBytes: 10 });
    for (let i = 0; i < 4; i++) node.propose(new Uint8Array(10), { term: 1 });
    assert.equal(appsTo(drain(node, storage).messages, 2).length, 2);
    node.tick();
    node.step(heartbeatResp(2, 1, 1));
    const probe = appsTo(drain(node, storage).messages, 2);
    assert.equal(probe.length, 1);
    assert.deepEqual(probe[0]!.entries, [], "an empty append: its answer (ack or reject) clears the window");
  });

  test("flow control: proposals made while a Ready is being persisted leave in one append per follower", () => {
    const { node, storage } = replicatingLeader({ maxInflightMessages: 8 });
    node.propose(bytes("first"), { term: 1 });
    const inFlight = node.ready();
    for (let i = 0; i < 20; i++) node.propose(bytes(`p${i}`), { term: 1 });
    storage.save(inFlight);
    node.advance();
    const rd = node.ready();
    assert.deepEqual(appsTo(rd.messages, 2).map((m) => m.entries.length), [20]);
    assert.equal(rd.entries.length, 20);
  });

  test("flow control: an unreachable follower falls back to probing", () => {
    const { node } = replicatingLeader({});
    node.reportUnreachable(2);
    assert.equal(node.progress()!.get(2)!.state, "probe");
  });
});
