import { KingbusError } from "../errors.ts";

/** Why the core refused a proposal; the caller decides whether to retry elsewhere. */
export type ProposalDroppedCode =
  /** This node is not the leader (any more). `lead` names the leader it knows of, 0 for none. */
  | "RAFT_NOT_LEADER"
  /** This node leads, but not in the term the proposer saw: the proposer's view is stale (fencing). */
  | "RAFT_STALE_TERM"
  /** A leadership transfer is under way; proposals wait for the new leader. */
  | "RAFT_TRANSFERRING"
  /** A membership change is still uncommitted, or the leader has not committed an entry of its term yet. */
  | "RAFT_CONF_CHANGE_PENDING";

export type RaftErrorCode =
  | ProposalDroppedCode
  /** The membership change makes no sense against the membership in force (adding a member, removing a stranger...). */
  | "RAFT_CONF_CHANGE_INVALID"
  /** A ConfChange entry whose payload cannot be decoded. */
  | "RAFT_CONF_CHANGE_CORRUPT"
  /** The entries asked for were compacted into a snapshot. */
  | "RAFT_LOG_COMPACTED"
  /** The entries asked for are beyond the log, or cannot be read right now. */
  | "RAFT_LOG_UNAVAILABLE"
  /** A leadership transfer to a node that cannot take it (unknown, learner). */
  | "RAFT_TRANSFER_INVALID"
  /** The configuration of a node is unusable (missing id, bad tick counts...). */
  | "RAFT_INVALID_CONFIG"
  /** The caller broke the API's contract (ready() twice without advance(), a message for another node...). */
  | "RAFT_MISUSE"
  /** Persisted state contradicts itself (commit index beyond the log...). */
  | "RAFT_CORRUPT_STATE"
  /** A rule of the protocol would be broken (truncating committed entries...): a bug, never retried. */
  | "RAFT_INVARIANT";

export class RaftError extends KingbusError {
  declare readonly code: RaftErrorCode;

  // eslint-disable-next-line @typescript-eslint/no-useless-constructor -- narrows `code` to the Raft codes
  constructor(code: RaftErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * A proposal the core did not append. Nothing of it reached the log, so the proposer may retry
 * (on `lead` when known) without risking a duplicate.
 */
export class ProposalDroppedError extends RaftError {
  declare readonly code: ProposalDroppedCode;
  /** The current term of the refusing node. */
  readonly term: number;
  /** The leader the refusing node knows of, 0 for none. */
  readonly lead: number;

  constructor(code: ProposalDroppedCode, message: string, details: { term: number; lead: number }) {
    super(code, message);
    this.term = details.term;
    this.lead = details.lead;
  }
}

export class ConfChangeError extends RaftError {
  declare readonly code: "RAFT_CONF_CHANGE_INVALID" | "RAFT_CONF_CHANGE_CORRUPT";

  // eslint-disable-next-line @typescript-eslint/no-useless-constructor -- narrows `code` to the two conf change codes
  constructor(code: "RAFT_CONF_CHANGE_INVALID" | "RAFT_CONF_CHANGE_CORRUPT", message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Thrown by a Storage for indexes below its first index (they live only in the snapshot now). */
export class LogCompactedError extends RaftError {
  declare readonly code: "RAFT_LOG_COMPACTED";

  constructor(message: string) {
    super("RAFT_LOG_COMPACTED", message);
  }
}

/** Thrown by a Storage for indexes beyond its last one, or entries it cannot read right now. */
export class LogUnavailableError extends RaftError {
  declare readonly code: "RAFT_LOG_UNAVAILABLE";

  constructor(message: string, options?: { cause?: unknown }) {
    super("RAFT_LOG_UNAVAILABLE", message, options);
  }
}
