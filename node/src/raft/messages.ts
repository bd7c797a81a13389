/**
 * What Raft nodes say to each other. The core produces and consumes these values; the transport
 * serialises them. Every message carries the sender's term: a receiver first reconciles terms, then
 * acts on the type.
 */
import type { Entry, SnapshotMetadata } from "./types.ts";

export const MessageType = {
  /** Leader to follower: entries after (prevIndex, prevTerm), and the leader's commit index. */
  App: "MsgApp",
  /** Follower to leader: appended up to `index`, or rejected `index` with a hint where to retry. */
  AppResp: "MsgAppResp",
  /** Candidate to voter: vote for me in `term`. */
  Vote: "MsgVote",
  VoteResp: "MsgVoteResp",
  /** Would-be candidate to voter: would you vote for me in `term`? Changes nobody's term. */
  PreVote: "MsgPreVote",
  PreVoteResp: "MsgPreVoteResp",
  /** Leader to follower: I am alive; entries up to `commit` are committed. */
  Heartbeat: "MsgHeartbeat",
  HeartbeatResp: "MsgHeartbeatResp",
  /** Leader to follower: install this snapshot (the transport streams its files alongside). */
  Snap: "MsgSnap",
  /** Leader to transfer target: campaign now, ignoring the election timeout and leader leases. */
  TimeoutNow: "MsgTimeoutNow",
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

interface Envelope {
  from: number;
  to: number;
  term: number;
}

export interface AppendMessage extends Envelope {
  type: typeof MessageType.App;
  prevIndex: number;
  prevTerm: number;
  entries: readonly Entry[];
  commit: number;
}

export interface AppendResponse extends Envelope {
  type: typeof MessageType.AppResp;
  /** Accepted: the last index now known to match the leader. Rejected: the prevIndex refused. */
  index: number;
  reject: boolean;
  /**
   * On rejection: the follower's best guess of the last index that can match, with its term. It is
   * the follower's last index when its log is short, otherwise the last index whose term is at most
   * the refused prevTerm, so a whole conflicting term is skipped in one round trip.
   */
  hintIndex: number;
  hintTerm: number;
}

export interface VoteRequest extends Envelope {
  type: typeof MessageType.Vote | typeof MessageType.PreVote;
  lastIndex: number;
  lastTerm: number;
  /** Set when the campaign follows MsgTimeoutNow: voters grant it even inside a leader's lease. */
  transfer: boolean;
}

export interface VoteResponse extends Envelope {
  type: typeof MessageType.VoteResp | typeof MessageType.PreVoteResp;
  reject: boolean;
}

export interface HeartbeatMessage extends Envelope {
  type: typeof MessageType.Heartbeat;
  /** At most what the follower is known to hold, so it never commits past its own log. */
  commit: number;
}

export interface HeartbeatResponse extends Envelope {
  type: typeof MessageType.HeartbeatResp;
}

export interface SnapshotMessage extends Envelope {
  type: typeof MessageType.Snap;
  snapshot: SnapshotMetadata;
}

export interface TimeoutNowMessage extends Envelope {
  type: typeof MessageType.TimeoutNow;
}

export type Message =
  | AppendMessage
  | AppendResponse
  | VoteRequest
  | VoteResponse
  | HeartbeatMessage
  | HeartbeatResponse
  | SnapshotMessage
  | TimeoutNowMessage;

/** One line for traces and test failures. */
export function describeMessage(m: Message): string {
  const head = `${m.type} ${m.from}->${m.to} t${m.term}`;
  switch (m.type) {
    case MessageType.App: {
      const last = m.entries.length === 0 ? "" : ` ents=${m.entries[0]!.index}..${m.entries[m.entries.length - 1]!.index}`;
      return `${head} prev=${m.prevIndex}/t${m.prevTerm}${last} commit=${m.commit}`;
    }
    case MessageType.AppResp:
      return m.reject ? `${head} reject=${m.index} hint=${m.hintIndex}/t${m.hintTerm}` : `${head} index=${m.index}`;
    case MessageType.Vote:
    case MessageType.PreVote:
      return `${head} last=${m.lastIndex}/t${m.lastTerm}${m.transfer ? " transfer" : ""}`;
    case MessageType.VoteResp:
    case MessageType.PreVoteResp:
      return `${head} ${m.reject ? "reject" : "grant"}`;
    case MessageType.Heartbeat:
      return `${head} commit=${m.commit}`;
    case MessageType.Snap:
      return `${head} snap=${m.snapshot.index}/t${m.snapshot.term}`;
    case MessageType.HeartbeatResp:
    case MessageType.TimeoutNow:
      return head;
  }
}

/**
 * Responses that vouch for persisted state (entries appended, a vote cast, a term adopted): the
 * node loop sends them only once the Ready that produced them is durable.
 */
export function mustFollowPersistence(m: Message): boolean {
  return m.type === MessageType.AppResp || m.type === MessageType.VoteResp || m.type === MessageType.PreVoteResp;
}
