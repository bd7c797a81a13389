import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { MessageType, type Message } from "../raft/messages.ts";
import { EntryType } from "../raft/types.ts";
import { BatchEncoder } from "./batch-encoder.ts";
import { kingbusProto } from "./proto.ts";
import { raftMessages } from "../../test-support/raft-arbitraries.ts";
import { decodeMessage, encodeMessage, messageWireBytes } from "./raft-codec.ts";

const BIG = new Uint8Array(randomBytes(300_000));

const message = raftMessages({ smallDataMax: 200, large: BIG });

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
