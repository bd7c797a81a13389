import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { MessageType, type Message } from "../raft/messages.ts";
import { EntryType, type Entry } from "../raft/types.ts";
import { BatchEncoder } from "./batch-encoder.ts";
import { kingbusProto } from "./proto.ts";
import { decodeMessage, encodeMessage, messageWireBytes } from "./raft-codec.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const BIG = new Uint8Array(randomBytes(300_000));

const u64 = fc.oneof(fc.constantFrom(0, 1, 127, 128, 2 ** 32 - 1, 2 ** 32, MAX - 1, MAX), fc.nat(), fc.integer({ min: 0, max: MAX }));
const id = fc.oneof(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: MAX }));
const data = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 200 }), weight: 8 },
  { arbitrary: fc.constant(new Uint8Array(0)), weight: 2 },
  { arbitrary: fc.constant(BIG), weight: 1 },
);
const rec = <T,>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true });
const entry: fc.Arbitrary<Entry> = rec({ index: u64, term: u64, type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange, EntryType.Empty), data });
const envelope = { from: id, to: id, term: u64 };
const message: fc.Arbitrary<Message> = fc.oneof(
  rec({ type: fc.constant(MessageType.App), ...envelope, prevIndex: u64, prevTerm: u64, entries: fc.array(entry, { maxLength: 6 }), commit: u64 }),
  rec({ type: fc.constant(MessageType.AppResp), ...envelope, index: u64, reject: fc.boolean(), hintIndex: u64, hintTerm: u64 }),
  rec({ type: fc.constantFrom(MessageType.Vote, MessageType.PreVote), ...envelope, lastIndex: u64, lastTerm: u64, transfer: fc.boolean() }),
  rec({ type: fc.constantFrom(MessageType.VoteResp, MessageType.PreVoteResp), ...envelope, reject: fc.boolean() }),
  rec({ type: fc.constant(MessageType.Heartbeat), ...envelope, commit: u64 }),
  rec({ type: fc.constantFrom(MessageType.HeartbeatResp, MessageType.TimeoutNow), ...envelope }),
  rec({
    type: fc.constant(MessageType.Snap), ...envelope,
    snapshot: rec({ index: u64, term: u64, conf: rec({ voters: fc.array(id, { maxLength: 7 }), learners: fc.array(id, { maxLength: 3 }) }) }),
  }),
);

test("a batch encoded by hand decodes, with the receivers' protobuf decoder, to the messages sent", () => {
  const { send } = kingbusProto();
  const encoder = new BatchEncoder({ keepBytes: 1 << 20 });
  fc.assert(fc.property(fc.array(message, { maxLength: 8 }), (ms) => {
    const bytes = encoder.encode({ messages: ms.map(encodeMessage) });
    const decoded = send.requestDeserialize(bytes).messages.map(decodeMessage);
    assert.deepStrictEqual(decoded, ms);
    // proto-loader's own encoding differs only in writing default values: never smaller.
    assert.ok(bytes.length <= send.requestSerialize({ messages: ms.map(encodeMessage) }).length);
    // The queue's size estimate bounds what goes on the wire.
    assert.ok(bytes.length <= ms.reduce((n, m) => n + messageWireBytes(m), 0));
  }), { numRuns: 1000 });
});

test("the buffer is reused from one batch to the next while small enough; a larger batch gets its own", () => {
  const encoder = new BatchEncoder({ keepBytes: 1000 });
  const app = (size: number): Message => ({ type: MessageType.App, from: 1, to: 2, term: 3, prevIndex: 4, prevTerm: 3, commit: 4, entries: [{ index: 5, term: 3, type: EntryType.Normal, data: new Uint8Array(size).fill(7) }] });
  const a = encoder.encode({ messages: [encodeMessage(app(500))] });
  const b = encoder.encode({ messages: [encodeMessage(app(400))] });
  assert.ok(a.buffer === b.buffer, "the same memory, written over");
  const c = encoder.encode({ messages: [encodeMessage(app(5000))] });
  assert.ok(c.buffer !== b.buffer);
  const d = encoder.encode({ messages: [encodeMessage(app(10))] });
  assert.ok(d.buffer === b.buffer, "the large batch's buffer was not kept");
  const { send } = kingbusProto();
  assert.equal(send.requestDeserialize(c).messages[0]!.app!.entries[0]!.data.length, 5000);
  assert.equal(encoder.encode({ messages: [] }).length, 0);
});
