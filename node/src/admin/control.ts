/**
 * What the admin gRPC service (grpc-admin.ts) needs from the node beyond AdminBackend: the Raft
 * view of the cluster (roles, indexes, per-member progress), one-at-a-time membership changes by
 * node id, leadership transfer and purge. The node implements it over its Raft loop; tests use a
 * fake.
 *
 * Node ids, indexes and terms are JavaScript numbers here, as in the Raft core (they never reach
 * 2^53; the gRPC layer refuses larger ones before calling).
 *
 * Failures are KingbusErrors whose code says why, and the code reaches the caller unchanged:
 * AdminError (MEMBER_NOT_FOUND, NOT_LEADER, UNAVAILABLE...), the Raft core's ProposalDroppedError
 * (RAFT_NOT_LEADER, RAFT_CONF_CHANGE_PENDING, RAFT_TRANSFERRING...), ConfChangeError
 * (RAFT_CONF_CHANGE_INVALID), RaftError RAFT_TRANSFER_INVALID. Any other error is answered as an
 * internal error. Every method may answer directly or with a promise.
 *
 * Which calls need the leader: addLearner, promote, remove, transferLeadership, purge (the gRPC
 * service forwards them to the leader when forwarding is configured, and calls them here only on
 * the node that believes it leads). status, members and syncerPasswordSet are answered by any
 * member from its own state.
 */
import type { MaybePromise } from "./backend.ts";

export type MemberRole = "voter" | "learner";

/** The Raft role of a node as the Status RPC reports it; a learner reports "learner". */
export type NodeRole = "leader" | "follower" | "candidate" | "pre-candidate" | "learner";

/** How far the leader has replicated to one member (the Raft core's ProgressStatus). */
export interface MemberProgress {
  /** The highest index known to be in the member's log. */
  readonly matchIndex: number;
  /** The next index the leader sends it. */
  readonly nextIndex: number;
  readonly state: "probe" | "replicate" | "snapshot";
  /** The peer transport currently reaches it. */
  readonly reachable: boolean;
  /** Messages to it the transport dropped (full queue, too large) since the node started. */
  readonly messagesDropped: number;
}

export interface ControlMember {
  readonly id: number;
  readonly name: string;
  readonly peerUrls: readonly string[];
  /** Base URLs of the member's HTTP admin API (empty until known). */
  readonly adminUrls: readonly string[];
  readonly role: MemberRole;
  readonly isLeader: boolean;
  /** Set on the leader only, for every member but itself. */
  readonly progress?: MemberProgress;
}

export interface NodeStatus {
  /** This node. */
  readonly id: number;
  readonly name: string;
  /** Empty when no cluster id is configured. */
  readonly clusterId: string;
  readonly role: NodeRole;
  readonly term: number;
  /** 0 when no leader is known. */
  readonly leaderId: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The first and last index of the retained Raft log. */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** The membership in force, voters and learners, with progress on the leader. */
  readonly members: readonly ControlMember[];
  readonly executedGtidSet: string;
  readonly purgedGtidSet: string;
  /** The kingbus version the node runs. */
  readonly version: string;
}

/** A new learner. Its id is the one its pod is configured with (`id` in its node configuration). */
export interface NewLearner {
  readonly id: number;
  readonly name: string;
  readonly peerUrl: string;
  /** Base URL of its HTTP admin API, when known. */
  readonly adminUrl?: string;
}

/** What to purge: whole segments holding only transactions strictly before this point. */
export type PurgeTarget =
  /** A primary binlog file name, as PURGE BINARY LOGS TO. */
  | { readonly kind: "binlogFile"; readonly binlogFile: string }
  /** Milliseconds since the epoch, as PURGE BINARY LOGS BEFORE. */
  | { readonly kind: "before"; readonly beforeUnixMs: number }
  /** Apply the configured retention now. */
  | { readonly kind: "retention" };

export interface PurgeResult {
  /** The last Raft index purged, 0 when nothing was. */
  readonly purgedThroughIndex: number;
  readonly purgedGtidSet: string;
  readonly segmentsRemoved: number;
}

export interface TransferResult {
  /** The leader after the transfer (the target when it succeeded). */
  readonly leaderId: number;
  readonly term: number;
}

export interface NodeControl {
  status(): MaybePromise<NodeStatus>;
  /** The membership in force with roles: what ListMembers answers. */
  members(): MaybePromise<readonly ControlMember[]>;
  /** Leader only. Resolves with the membership once the change is committed and applied. */
  addLearner(learner: NewLearner): MaybePromise<readonly ControlMember[]>;
  /** Leader only. Learner to voter, once the learner has caught up. */
  promote(id: number): MaybePromise<readonly ControlMember[]>;
  /** Leader only. A voter or a learner; its id cannot come back. */
  remove(id: number): MaybePromise<readonly ControlMember[]>;
  /** Leader only. Resolves once `toId` leads, or fails (RAFT_TRANSFER_INVALID, UNAVAILABLE on timeout). */
  transferLeadership(toId: number): MaybePromise<TransferResult>;
  /** Leader only: the purge mark goes through the Raft log so every member purges the same segments. */
  purge(target: PurgeTarget): MaybePromise<PurgeResult>;
  /**
   * Whether the syncer configuration in force holds a non-empty MySQL password. SyncerStatus
   * deliberately carries no password, so this is how the API says "set" without showing it.
   */
  syncerPasswordSet(): MaybePromise<boolean>;
}
