/**
 * Raft messages to and from their protobuf form. Exact both ways: decode(encode(m)) equals m for
 * every valid message. Both directions check their numbers: a negative, fractional or too large
 * value on the way out is a bug in the caller, on the way in a peer that is broken or not kingbus;
 * either is refused rather than rounded.
 */
import { MessageType, type Message } from "../raft/messages.ts";
import { EntryType, type Entry, type SnapshotMetadata } from "../raft/types.ts";
import { TransportError } from "./errors.ts";
import type { U64, WireEntry, WireRaftMessage, WireSnapshotMetadata, WireVoteRequest, WireVoteResponse } from "./wire-types.ts";

const ENTRY_TYPES: ReadonlySet<number> = new Set(Object.values(EntryType));

function u64(value: number, field: string): U64 {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TransportError("TRANSPORT_BAD_MESSAGE", `${field} is ${value}: not an integer in [0, 2^53)`);
  }
  return value;
}

function nodeId(value: number, field: string): U64 {
  if (u64(value, field) === 0) throw new TransportError("TRANSPORT_BAD_MESSAGE", `${field} is 0: node ids are positive`);
  return value;
}

function entryType(value: number): EntryType {
  if (!ENTRY_TYPES.has(value)) throw new TransportError("TRANSPORT_BAD_MESSAGE", `entry type ${value} is not one this kingbus knows`);
  return value as EntryType;
}

function bytes(value: Uint8Array, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TransportError("TRANSPORT_BAD_MESSAGE", `${field} is not bytes`);
  // A Buffer decoded from a batch becomes a plain view on the same memory: no copy, and callers
  // (and deepEqual in tests) see exactly the type they sent.
  return Object.getPrototypeOf(value) === Uint8Array.prototype ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function encodeEntry(e: Entry): WireEntry {
  return { index: u64(e.index, "entry index"), term: u64(e.term, "entry term"), type: entryType(e.type), data: bytes(e.data, "entry data") };
}

function decodeEntry(e: WireEntry): Entry {
  return { index: u64(e.index, "entry index"), term: u64(e.term, "entry term"), type: entryType(e.type), data: bytes(e.data, "entry data") };
}

function ids(values: readonly number[], field: string): number[] {
  return values.map((v) => nodeId(v, field));
}

export function encodeSnapshotMetadata(s: SnapshotMetadata): WireSnapshotMetadata {
  return {
    index: u64(s.index, "snapshot index"),
    term: u64(s.term, "snapshot term"),
    conf: { voters: ids(s.conf.voters, "voter id"), learners: ids(s.conf.learners, "learner id") },
  };
}

export function decodeSnapshotMetadata(s: WireSnapshotMetadata | null | undefined): SnapshotMetadata {
  if (s === null || s === undefined || s.conf === null) throw new TransportError("TRANSPORT_BAD_MESSAGE", "snapshot metadata or its conf state is missing");
  return {
    index: u64(s.index, "snapshot index"),
    term: u64(s.term, "snapshot term"),
    conf: { voters: ids(s.conf.voters, "voter id"), learners: ids(s.conf.learners, "learner id") },
  };
}

export function encodeMessage(m: Message): WireRaftMessage {
  const head = { from: nodeId(m.from, "from"), to: nodeId(m.to, "to"), term: u64(m.term, "term") };
  switch (m.type) {
    case MessageType.App:
      return {
        ...head,
        app: { prevIndex: u64(m.prevIndex, "prevIndex"), prevTerm: u64(m.prevTerm, "prevTerm"), entries: m.entries.map(encodeEntry), commit: u64(m.commit, "commit") },
      };
    case MessageType.AppResp:
      return {
        ...head,
        appResp: { index: u64(m.index, "index"), reject: m.reject, hintIndex: u64(m.hintIndex, "hintIndex"), hintTerm: u64(m.hintTerm, "hintTerm") },
      };
    case MessageType.Vote:
    case MessageType.PreVote: {
      const body: WireVoteRequest = { lastIndex: u64(m.lastIndex, "lastIndex"), lastTerm: u64(m.lastTerm, "lastTerm"), transfer: m.transfer };
      return m.type === MessageType.Vote ? { ...head, vote: body } : { ...head, preVote: body };
    }
    case MessageType.VoteResp:
    case MessageType.PreVoteResp: {
      const body: WireVoteResponse = { reject: m.reject };
      return m.type === MessageType.VoteResp ? { ...head, voteResp: body } : { ...head, preVoteResp: body };
    }
    case MessageType.Heartbeat:
      return { ...head, heartbeat: { commit: u64(m.commit, "commit") } };
    case MessageType.HeartbeatResp:
      return { ...head, heartbeatResp: {} };
    case MessageType.Snap:
      return { ...head, snap: { metadata: encodeSnapshotMetadata(m.snapshot) } };
    case MessageType.TimeoutNow:
      return { ...head, timeoutNow: {} };
    default:
      throw new TransportError("TRANSPORT_BAD_MESSAGE", `message type ${String((m as { type: unknown }).type)} has no wire form`);
  }
}

export function decodeMessage(w: WireRaftMessage): Message {
  const from = nodeId(w.from, "from");
  const to = nodeId(w.to, "to");
  const term = u64(w.term, "term");
  switch (w.body) {
    case "app": {
      const b = w.app!;
      return {
        type: MessageType.App, from, to, term,
        prevIndex: u64(b.prevIndex, "prevIndex"), prevTerm: u64(b.prevTerm, "prevTerm"), entries: b.entries.map(decodeEntry), commit: u64(b.commit, "commit"),
      };
    }
    case "appResp": {
      const b = w.appResp!;
      return {
        type: MessageType.AppResp, from, to, term,
        index: u64(b.index, "index"), reject: b.reject, hintIndex: u64(b.hintIndex, "hintIndex"), hintTerm: u64(b.hintTerm, "hintTerm"),
      };
    }
    case "vote":
    case "preVote": {
      const b = (w.body === "vote" ? w.vote : w.preVote)!;
      return {
        type: w.body === "vote" ? MessageType.Vote : MessageType.PreVote, from, to, term,
        lastIndex: u64(b.lastIndex, "lastIndex"), lastTerm: u64(b.lastTerm, "lastTerm"), transfer: b.transfer,
      };
    }
    case "voteResp":
    case "preVoteResp": {
      const b = (w.body === "voteResp" ? w.voteResp : w.preVoteResp)!;
      return { type: w.body === "voteResp" ? MessageType.VoteResp : MessageType.PreVoteResp, from, to, term, reject: b.reject };
    }
    case "heartbeat":
      return { type: MessageType.Heartbeat, from, to, term, commit: u64(w.heartbeat!.commit, "commit") };
    case "heartbeatResp":
      return { type: MessageType.HeartbeatResp, from, to, term };
    case "snap":
      return { type: MessageType.Snap, from, to, term, snapshot: decodeSnapshotMetadata(w.snap!.metadata) };
    case "timeoutNow":
      return { type: MessageType.TimeoutNow, from, to, term };
    default:
      throw new TransportError("TRANSPORT_BAD_MESSAGE", `message ${from}->${to} has no body this kingbus knows (a newer peer?)`);
  }
}

// Upper bounds of the encoded sizes: a tag and a length prefix are at most 6 bytes, a varint 10.
const MESSAGE_OVERHEAD = 6 + 3 * 11 + 6 + 3 * 11;
const ENTRY_OVERHEAD = 6 + 2 * 11 + 2 + 6;
const SNAPSHOT_OVERHEAD = 6 + 2 * 11 + 6 + 2 * 6;

/**
 * At least the size of the message inside a MessageBatch, computed without encoding: what the
 * per-peer queue and the batches are bounded by.
 */
export function messageWireBytes(m: Message): number {
  if (m.type === MessageType.App) {
    let size = MESSAGE_OVERHEAD;
    for (const e of m.entries) size += ENTRY_OVERHEAD + e.data.byteLength;
    return size;
  }
  if (m.type === MessageType.Snap) return MESSAGE_OVERHEAD + SNAPSHOT_OVERHEAD + 10 * (m.snapshot.conf.voters.length + m.snapshot.conf.learners.length);
  return MESSAGE_OVERHEAD;
}
