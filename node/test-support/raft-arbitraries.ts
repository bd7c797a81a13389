/**
 * fast-check arbitraries of Raft messages, for the transport's codec tests: every message type,
 * ids and u64 fields at their edges (0, 2^32, 2^53-1) as well as uniform draws, and entries whose
 * data is small, empty, or one given large payload.
 */
import fc from "fast-check";
import { MessageType, type Message } from "../src/raft/messages.ts";
import { EntryType, type Entry } from "../src/raft/types.ts";

const MAX = Number.MAX_SAFE_INTEGER;

/** Plain objects, like the codec's output (fast-check's records have a null prototype by default). */
const rec = <T,>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> => fc.record(model, { noNullPrototype: true });

export function raftMessages(options: { smallDataMax: number; large: Uint8Array }): fc.Arbitrary<Message> {
  // Small values and the edges, not just uniform draws that almost never hit 0 or 2^53-1.
  const u64 = fc.oneof(fc.constantFrom(0, 1, 127, 128, 2 ** 32 - 1, 2 ** 32, MAX - 1, MAX), fc.nat(), fc.integer({ min: 0, max: MAX }));
  const id = fc.oneof(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: MAX }));
  const data = fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: options.smallDataMax }), weight: 8 },
    { arbitrary: fc.constant(new Uint8Array(0)), weight: 2 },
    { arbitrary: fc.constant(options.large), weight: 1 },
  );
  const entry: fc.Arbitrary<Entry> = rec({ index: u64, term: u64, type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange, EntryType.Empty), data });
  const envelope = { from: id, to: id, term: u64 };
  return fc.oneof(
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
}
