import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { MessageType, type Message } from "../raft/messages.ts";
import { EntryType } from "../raft/types.ts";
import { TransportError } from "./errors.ts";
import { kingbusProto } from "./proto.ts";
import { raftMessages } from "../../test-support/raft-arbitraries.ts";
import { decodeMessage, encodeMessage, messageWireBytes } from "./raft-codec.ts";
import type { WireRaftMessage } from "./wire-types.ts";

const MAX = Number.MAX_SAFE_INTEGER;
const MIB = new Uint8Array(randomBytes(1 << 20));

/** Through the real protobuf encoding, as a batch of one. */
function wireRoundTrip(w: WireRaftMessage): WireRaftMessage {
  const { send } = kingbusProto();
  return send.requestDeserialize(send.requestSerialize({ messages: [w] })).messages[0]!;
}

const roundTrip = (m: Message): Message => decodeMessage(wireRoundTrip(encodeMessage(m)));

const message = raftMessages({ smallDataMax: 64, large: MIB });

test("every message type survives encode, protobuf and decode exactly, values up to 2^53-1 and entries up to 1 MiB", () => {
  const seen = new Set<string>();
  fc.assert(fc.property(message, (m) => {
    seen.add(m.type);
    assert.deepStrictEqual(roundTrip(m), m);
  }), { numRuns: 1500 });
  assert.equal(seen.size, Object.keys(MessageType).length, "every message type was drawn");
});

test("the wire size estimate is never below the encoded size", () => {
  const { send } = kingbusProto();
  fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), (ms) => {
    const encoded = send.requestSerialize({ messages: ms.map(encodeMessage) }).length;
    assert.ok(ms.reduce((sum, m) => sum + messageWireBytes(m), 0) >= encoded, `estimate below ${encoded}`);
  }), { numRuns: 300 });
});

test("a decoded entry's data is a plain Uint8Array with the sent bytes, also when empty or 1 MiB", () => {
  const m: Message = {
    type: MessageType.App, from: 1, to: 2, term: 3, prevIndex: 4, prevTerm: 3, commit: 4,
    entries: [{ index: 5, term: 3, type: EntryType.Normal, data: MIB }, { index: 6, term: 3, type: EntryType.Empty, data: new Uint8Array(0) }],
  };
  const back = roundTrip(m);
  assert.equal(back.type, MessageType.App);
  if (back.type !== MessageType.App) return;
  assert.equal(Object.getPrototypeOf(back.entries[0]!.data), Uint8Array.prototype);
  assert.ok(Buffer.from(back.entries[0]!.data).equals(MIB));
  assert.equal(back.entries[1]!.data.length, 0);
});

const isBadMessage = (pattern: RegExp) => (e: unknown): boolean => e instanceof TransportError && e.code === "TRANSPORT_BAD_MESSAGE" && pattern.test(e.message);

test("values a number cannot hold exactly are refused on the way in, not rounded", () => {
  const { send } = kingbusProto();
  // The wire carries uint64 as text here so that 2^53 and 2^64-1 are exact on the sending side.
  const decodeRaw = (fields: Record<string, unknown>): Message => decodeMessage(send.requestDeserialize(send.requestSerialize({ messages: [fields as unknown as WireRaftMessage] })).messages[0]!);
  assert.throws(() => decodeRaw({ from: 1, to: 2, term: "9007199254740992", heartbeat: { commit: 1 } }), isBadMessage(/term/));
  assert.throws(() => decodeRaw({ from: 1, to: 2, term: 1, heartbeat: { commit: "18446744073709551615" } }), isBadMessage(/commit/));
  assert.throws(() => decodeRaw({ from: 1, to: 2, term: 1, app: { entries: [{ index: "9007199254740993", term: 1 }] } }), isBadMessage(/entry index/));
  assert.deepEqual(decodeRaw({ from: 1, to: 2, term: "9007199254740991", heartbeatResp: {} }), { type: MessageType.HeartbeatResp, from: 1, to: 2, term: MAX });
});

test("messages without a known body, with an unknown entry type or a zero node id are refused", () => {
  assert.throws(() => decodeMessage(wireRoundTrip({ from: 1, to: 2, term: 1 })), isBadMessage(/no body/));
  assert.throws(() => decodeMessage(wireRoundTrip({ from: 1, to: 2, term: 1, app: { prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ index: 1, term: 1, type: 7, data: new Uint8Array() }] } })),
    isBadMessage(/entry type 7/));
  assert.throws(() => decodeMessage(wireRoundTrip({ from: 0, to: 2, term: 1, heartbeatResp: {} })), isBadMessage(/from is 0/));
  assert.throws(() => decodeMessage(wireRoundTrip({ from: 1, to: 2, term: 1, snap: { metadata: null } })), isBadMessage(/snapshot metadata/));
});

test("values out of range are refused on the way out, naming the field", () => {
  const hb = (over: Partial<Record<"term" | "commit" | "from", number>>): Message => ({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, commit: 1, ...over });
  assert.throws(() => encodeMessage(hb({ term: -1 })), isBadMessage(/term is -1/));
  assert.throws(() => encodeMessage(hb({ commit: 1.5 })), isBadMessage(/commit is 1.5/));
  assert.throws(() => encodeMessage(hb({ commit: 2 ** 53 })), isBadMessage(/commit/));
  assert.throws(() => encodeMessage(hb({ from: 0 })), isBadMessage(/from is 0/));
  assert.throws(() => encodeMessage({ type: MessageType.App, from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ index: 1, term: 1, type: 9 as EntryType, data: new Uint8Array() }] }),
    isBadMessage(/entry type 9/));
});
