/**
 * The Raft state machine: terms, roles, elections, replication, membership and leadership transfer.
 * It reads its log through RaftLog, queues the messages it wants sent, and learns what became
 * durable through onPersisted(); RawNode turns that into the Ready/advance API. Nothing here reads a
 * clock, a socket, a file or a random source other than the injected one.
 *
 * Membership follows the Raft dissertation (§4.1, §4.2.2) rather than etcd's apply-time rule: a node
 * uses the latest membership in its log, committed or not, for elections and commitment. With one
 * change at a time, only adjacent memberships (whose majorities overlap) can be in use at once; with
 * apply-time membership a lagging node may still use one two changes old (etcd-io/etcd#7625).
 */
import {
  applyConfChange,
  decodeConfChange,
  encodeConfChange,
  isVoter,
  type ConfChange,
} from "./conf-change.ts";
import { LogCompactedError, LogUnavailableError, ProposalDroppedError, RaftError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { MessageType, mustFollowPersistence, type AppendMessage, type Message, type VoteRequest } from "./messages.ts";
import { ProgressState, type Progress } from "./progress.ts";
import type { RandomSource } from "./random.ts";
import type { Storage } from "./storage.ts";
import { ProgressTracker } from "./tracker.ts";
import { EntryType, type ConfState, type Entry, type HardState, type SnapshotMetadata } from "./types.ts";

export const Role = {
  Follower: "follower",
  PreCandidate: "pre-candidate",
  Candidate: "candidate",
  Leader: "leader",
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/**
 * Deliberately broken rules, so tests can show the simulator catches them. Never set outside tests.
 */
export interface UnsafeFaults {
  /** Grant (pre-)votes without §5.4.1's up-to-date check. */
  grantVotesWithoutLogCheck?: boolean;
  /** Commit any entry a majority holds, whatever its term, against §5.4.2. */
  commitEntriesOfEarlierTerms?: boolean;
}

export interface RaftConfig {
  /** This node's id, a positive integer unique in the cluster. */
  id: number;
  storage: Storage;
  /** The only source of randomness: election timeouts are drawn from it. */
  random: RandomSource;
  /** A follower that hears nothing for a random count of ticks in [electionTicks, 2*electionTicks) campaigns. Default 10. */
  electionTicks?: number;
  /** The leader sends heartbeats every heartbeatTicks ticks; must be below electionTicks. Default 1. */
  heartbeatTicks?: number;
  /** Campaign only after a pre-vote round shows a majority would vote (no term inflation from partitioned nodes). Default true. */
  preVote?: boolean;
  /** A leader steps down when it has not heard from a majority for electionTicks; followers then honour its lease. Default true. */
  checkQuorum?: boolean;
  /** Append messages in flight per follower before the leader waits for acknowledgements. Default 256. */
  maxInflightMessages?: number;
  /**
   * Entry bytes in flight per follower before the leader waits for acknowledgements, whatever the
   * message count: what a follower behind costs the leader in memory (each message's entries are
   * held until the transport sent them). 0, the default, for no byte limit.
   */
  maxInflightBytes?: number;
  /** Payload bytes per append message (a single larger entry still goes alone). Default 1 MiB. */
  maxMessageBytes?: number;
  /** Payload bytes of committed entries per Ready. Default 64 MiB. */
  maxApplyBytes?: number;
  /** The last index the application applied before a restart; defaults to the snapshot's index. */
  applied?: number;
  unsafeFaults?: UnsafeFaults;
}

/** What the node loop reports durable when it advances past a Ready. */
export interface Persisted {
  lastEntry?: { index: number; term: number } | undefined;
  snapshotIndex?: number | undefined;
  hardState?: HardState | undefined;
}

const NO_DATA = new Uint8Array(0);

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RaftError("RAFT_INVALID_CONFIG", `${name} must be a positive integer, got ${value}`);
  return value;
}

export class Raft {
  readonly id: number;
  term = 0;
  /** Who this node voted for in `term`, 0 for nobody. */
  vote = 0;
  /** The leader of `term` as far as this node knows, 0 for none. */
  lead = 0;
  role: Role = Role.Follower;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  /** The membership in force: the latest in the log, committed or not. */
  conf: ConfState;
  /** The index of the entry that set `conf`; the snapshot's index, or 0 once it is known to be committed. */
  confIndex: number;
  /** The membership before the entry at confIndex, while that entry may still be overwritten. */
  private confBefore: ConfState | undefined;

  /** Ticks since the last contact with a leader (follower), or since the last quorum check (leader). */
  electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** The node leadership is being handed to, 0 when no transfer is under way. */
  leadTransferee = 0;
  /** Index of the empty entry this leader appended on election. */
  private termStartIndex = 0;

  readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly maxMessageBytes: number;
  readonly maxApplyBytes: number;
  private readonly random: RandomSource;
  private readonly faults: UnsafeFaults;

  /** Messages that may leave before the pending state is durable. */
  msgs: Message[] = [];
  /** Messages that vouch for pending state: they leave only after it is durable. */
  msgsAfterPersist: Message[] = [];
  /**
   * Followers owed an append, computed when the Ready is built so that everything proposed in the
   * meantime leaves in as few messages as the limits allow. The flag forces a message even when it
   * carries no entries (a probe).
   */
  private readonly pendingAppends = new Map<number, boolean>();

  constructor(config: RaftConfig) {
    this.id = positiveInteger(config.id, "id");
    this.electionTicks = positiveInteger(config.electionTicks ?? 10, "electionTicks");
    this.heartbeatTicks = positiveInteger(config.heartbeatTicks ?? 1, "heartbeatTicks");
    if (this.heartbeatTicks >= this.electionTicks) {
      throw new RaftError("RAFT_INVALID_CONFIG", `heartbeatTicks (${this.heartbeatTicks}) must be below electionTicks (${this.electionTicks})`);
    }
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.maxMessageBytes = positiveInteger(config.maxMessageBytes ?? 1 << 20, "maxMessageBytes");
    this.maxApplyBytes = positiveInteger(config.maxApplyBytes ?? 64 << 20, "maxApplyBytes");
    this.random = config.random;
    this.faults = config.unsafeFaults ?? {};
    const maxInflightBytes = config.maxInflightBytes ?? 0;
    if (maxInflightBytes !== 0) positiveInteger(maxInflightBytes, "maxInflightBytes");
    this.tracker = new ProgressTracker(positiveInteger(config.maxInflightMessages ?? 256, "maxInflightMessages"), maxInflightBytes);

    const storage = config.storage;
    const hs = storage.hardState();
    const snapshot = storage.snapshot();
    const lastIndex = storage.lastIndex();
    if (hs.commit > lastIndex) throw new RaftError("RAFT_CORRUPT_STATE", `persisted commit ${hs.commit} beyond the last stored index ${lastIndex}`);
    const committed = Math.max(hs.commit, snapshot.index);
    const applied = config.applied ?? snapshot.index;
    if (applied < snapshot.index || applied > committed) {
      throw new RaftError("RAFT_INVALID_CONFIG", `applied ${applied} outside [snapshot ${snapshot.index}, commit ${committed}]`);
    }
    this.log = new RaftLog(storage, committed, applied);

    const confEntryIndex = storage.lastConfChangeIndex();
    if (confEntryIndex > 0) {
      const entry = storage.entries(confEntryIndex, confEntryIndex + 1, Number.MAX_SAFE_INTEGER)[0];
      if (entry?.type !== EntryType.ConfChange) throw new RaftError("RAFT_CORRUPT_STATE", `storage names ${confEntryIndex} as a ConfChange entry but it is not one`);
      const record = decodeConfChange(entry.data);
      this.conf = record.after;
      this.confIndex = confEntryIndex;
      this.confBefore = record.before;
    } else {
      this.conf = snapshot.conf;
      this.confIndex = snapshot.index;
    }
    this.tracker.setConf(this.conf, lastIndex + 1);
    this.becomeFollower(hs.term, 0);
    this.vote = hs.vote;
  }

  // ---- inputs ------------------------------------------------------------------------------

  tick(): void {
    if (this.role === Role.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  step(m: Message): void {
    if (m.to !== this.id) throw new RaftError("RAFT_MISUSE", `node ${this.id} was handed a message for node ${m.to}`);
    if (m.from === this.id) throw new RaftError("RAFT_MISUSE", `node ${this.id} was handed a message from itself`);

    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        // Leader stickiness: while a leader is known to be alive, a (pre-)candidate is either
        // partitioned or impatient, and must not depose it. A transfer is the leader's own wish.
        const inLease = this.checkQuorum && this.lead !== 0 && this.electionElapsed < this.electionTicks;
        if (inLease && !m.transfer) return;
      }
      if (m.type === MessageType.PreVote) {
        // A pre-vote asks a hypothetical question; answering it commits us to nothing.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A grant is sent in the term we would campaign in; it is not a term we have reached.
      } else if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, 0);
      }
    } else if (m.term < this.term) {
      if (m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap) {
        // A deposed leader that missed the new term learns it from our answer and steps down.
        this.send({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === MessageType.PreVote) {
        this.send({ type: MessageType.PreVoteResp, from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        return;
      case Role.Follower:
        this.stepFollower(m);
        return;
      case Role.PreCandidate:
      case Role.Candidate:
        this.stepCandidate(m);
        return;
    }
  }

  /** Appends a Normal entry if this node leads in `term` and no transfer is under way. */
  propose(data: Uint8Array, term: number): { index: number; term: number } {
    this.checkProposable(term);
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type: EntryType.Normal, data };
    this.appendLeaderEntries([entry]);
    return { index: entry.index, term: entry.term };
  }

  proposeConfChange(change: ConfChange, term: number): { index: number; term: number } {
    this.checkProposable(term);
    if (this.confIndex > this.log.committed) {
      throw this.dropped("RAFT_CONF_CHANGE_PENDING", `membership change at ${this.confIndex} is not committed yet (commit ${this.log.committed})`);
    }
    // A new leader may hold an uncommitted change of an earlier term it cannot see as such; committing
    // its own first entry settles it (Ongaro's 2015 fix to single-server changes, raft-dev).
    if (this.log.committed < this.termStartIndex) {
      throw this.dropped("RAFT_CONF_CHANGE_PENDING", `leader has not committed an entry of term ${this.term} yet`);
    }
    applyConfChange(this.conf, change);
    const entry: Entry = { index: this.log.lastIndex() + 1, term: this.term, type: EntryType.ConfChange, data: encodeConfChange(change, this.conf) };
    this.appendLeaderEntries([entry]);
    return { index: entry.index, term: entry.term };
  }

  transferLeadership(to: number): void {
    if (this.role !== Role.Leader) throw new RaftError("RAFT_NOT_LEADER", `node ${this.id} is not the leader`);
    if (to === this.id) return;
    if (!isVoter(this.conf, to)) throw new RaftError("RAFT_TRANSFER_INVALID", `node ${to} is not a voter`);
    if (this.leadTransferee === to) return;
    // The transfer gets one election timeout to complete before tickHeartbeat abandons it.
    this.electionElapsed = 0;
    this.leadTransferee = to;
    const pr = this.tracker.progress.get(to);
    if (pr !== undefined && pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.scheduleAppend(to, true);
  }

  /** Starts an election now (tests, operators): a pre-vote first when enabled. */
  campaign(): void {
    this.hup(false);
  }

  /** The transport could not reach `id`: what was streamed optimistically is probably lost. */
  reportUnreachable(id: number): void {
    const pr = this.role === Role.Leader ? this.tracker.progress.get(id) : undefined;
    if (pr?.state === ProgressState.Replicate) pr.becomeProbe();
  }

  /** The transport finished streaming the snapshot sent to `id`, or gave up. */
  reportSnapshot(id: number, succeeded: boolean): void {
    const pr = this.role === Role.Leader ? this.tracker.progress.get(id) : undefined;
    if (pr?.state !== ProgressState.Snapshot) return;
    if (!succeeded) pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Success: the follower's append response tells where to resume. Failure: retry after a heartbeat.
    pr.paused = true;
  }

  /** The storage dropped entries up to `index`: followers that still need them get the snapshot. */
  compacted(index: number): void {
    if (this.role !== Role.Leader) return;
    for (const [id, pr] of this.tracker.progress) if (id !== this.id && pr.next <= index) this.scheduleAppend(id, false);
  }

  /** The node loop made a Ready durable. */
  onPersisted(p: Persisted): void {
    if (p.snapshotIndex !== undefined) this.log.unstable.stableSnapTo(p.snapshotIndex);
    if (p.lastEntry !== undefined && this.log.unstable.stableTo(p.lastEntry.index, p.lastEntry.term) && this.role === Role.Leader) {
      // The leader's own copy counts toward commitment only once it is on its disk.
      const self = this.tracker.progress.get(this.id);
      if (self?.maybeUpdate(p.lastEntry.index) && this.maybeCommit()) this.scheduleBroadcast();
    }
    if (p.hardState !== undefined && this.role === Role.Candidate && p.hardState.term === this.term && p.hardState.vote === this.id) {
      // Our own vote counts once it is durable: a crash before that leaves us free to vote again.
      this.tracker.recordVote(this.id, true);
      this.decideElection();
    }
  }

  /** Computes the appends owed to followers; called when a Ready is built. */
  flushAppends(): void {
    if (this.role !== Role.Leader) {
      this.pendingAppends.clear();
      return;
    }
    for (const [to, force] of this.pendingAppends) {
      const pr = this.tracker.progress.get(to);
      if (pr === undefined || to === this.id) continue;
      if (this.maybeSendAppend(to, pr, force || pr.canBumpCommit(this.log.committed))) {
        while (this.role === Role.Leader && this.maybeSendAppend(to, pr, false)) {
          // Pipelining: keep filling the inflight window while there is something to send.
        }
      }
    }
    this.pendingAppends.clear();
  }

  // ---- roles -------------------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + this.random.nextInt(this.electionTicks);
    this.leadTransferee = 0;
    this.tracker.resetVotes();
    this.pendingAppends.clear();
  }

  private becomeFollower(term: number, lead: number): void {
    this.reset(term);
    this.lead = lead;
    this.role = Role.Follower;
  }

  private becomePreCandidate(): void {
    if (this.role === Role.Leader) throw new RaftError("RAFT_INVARIANT", "a leader cannot become a pre-candidate");
    // Term and vote stay: a pre-campaign must leave no trace if it fails.
    this.role = Role.PreCandidate;
    this.lead = 0;
    this.tracker.resetVotes();
  }

  private becomeCandidate(): void {
    if (this.role === Role.Leader) throw new RaftError("RAFT_INVARIANT", "a leader cannot become a candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    if (this.role === Role.Follower) throw new RaftError("RAFT_INVARIANT", "a follower cannot become leader without an election");
    this.reset(this.term);
    this.lead = this.id;
    this.role = Role.Leader;
    this.tracker.resetProgress(this.log.lastIndex() + 1);
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined) {
      self.match = this.log.persistedLastIndex();
      self.becomeReplicate();
      self.recentActive = true;
    }
    // Entries of earlier terms commit only under an entry of this term (§5.4.2); this is that entry.
    const empty: Entry = { index: this.log.lastIndex() + 1, term: this.term, type: EntryType.Empty, data: NO_DATA };
    this.termStartIndex = empty.index;
    this.appendLeaderEntries([empty]);
  }

  /**
   * Whether this node may campaign. A voter may; so may a node that the latest change in its log
   * removed while that change is not known to be committed, since the remaining voters may need it
   * to commit the change (dissertation §4.2.2); its own vote does not count.
   */
  private promotable(): boolean {
    if (this.log.unstable.snapshot !== undefined) return false;
    if (isVoter(this.conf, this.id)) return true;
    return this.confBefore !== undefined && this.confIndex > this.log.committed && isVoter(this.confBefore, this.id);
  }

  // ---- elections ---------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private hup(transfer: boolean): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    if (this.preVote && !transfer) this.runCampaign(true, false);
    else this.runCampaign(false, transfer);
  }

  private runCampaign(pre: boolean, transfer: boolean): void {
    if (pre) this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = pre ? this.term + 1 : this.term;
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of this.conf.voters) {
      if (id === this.id) continue;
      this.send({ type: pre ? MessageType.PreVote : MessageType.Vote, from: this.id, to: id, term: voteTerm, lastIndex, lastTerm, transfer });
    }
    if (pre) {
      // Nothing to persist for a pre-vote, so our own counts at once.
      this.tracker.recordVote(this.id, true);
      this.decideElection();
    }
  }

  private decideElection(): void {
    const outcome = this.tracker.voteOutcome();
    if (outcome === "won") {
      if (this.role === Role.PreCandidate) this.runCampaign(false, false);
      else this.becomeLeader();
    } else if (outcome === "lost") {
      this.becomeFollower(this.term, 0);
    }
  }

  private handleVoteRequest(m: VoteRequest): void {
    const pre = m.type === MessageType.PreVote;
    const canVote = this.vote === m.from || (this.vote === 0 && this.lead === 0) || (pre && m.term > this.term);
    const upToDate = this.faults.grantVotesWithoutLogCheck === true || this.log.isUpToDate(m.lastIndex, m.lastTerm);
    const type = pre ? MessageType.PreVoteResp : MessageType.VoteResp;
    if (canVote && upToDate) {
      // A grant answers in the candidate's term: for a pre-vote that is a term we have not reached.
      this.send({ type, from: this.id, to: m.from, term: m.term, reject: false });
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.App:
      case MessageType.Heartbeat:
      case MessageType.Snap:
        // Someone won this term.
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case MessageType.PreVoteResp:
      case MessageType.VoteResp: {
        const expected = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
        if (m.type !== expected) return;
        this.tracker.recordVote(m.from, !m.reject);
        this.decideElection();
        return;
      }
      default:
        return;
    }
  }

  // ---- follower ----------------------------------------------------------------------------

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        // The leader never sends a commit past what it knows we hold, unless we lost our log (a
        // wiped data directory). Then we answer without committing: the leader's next append
        // finds the gap and catches us up, by snapshot if it must.
        if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
        this.send({ type: MessageType.HeartbeatResp, from: this.id, to: m.from, term: this.term });
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.send(this.appendResponse(m.from, this.restore(m.snapshot) ? this.log.lastIndex() : this.log.committed));
        return;
      case MessageType.TimeoutNow:
        this.hup(true);
        return;
      default:
        return;
    }
  }

  private handleAppend(m: AppendMessage): void {
    if (m.prevIndex < this.log.committed) {
      this.send(this.appendResponse(m.from, this.log.committed));
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastNew = m.prevIndex + m.entries.length;
      const conflict = this.log.findConflict(m.entries);
      if (conflict !== 0) {
        if (conflict <= this.log.committed) {
          throw new RaftError("RAFT_INVARIANT", `entry ${conflict} from leader ${m.from} conflicts with committed entries up to ${this.log.committed}`);
        }
        this.appendToLog(m.entries.slice(conflict - m.prevIndex - 1));
      }
      this.log.commitTo(Math.min(m.commit, lastNew));
      this.send(this.appendResponse(m.from, lastNew));
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send({ type: MessageType.AppResp, from: this.id, to: m.from, term: this.term, index: m.prevIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term });
  }

  /** Installs a leader's snapshot unless the log already covers it; true when installed. */
  private restore(snapshot: SnapshotMetadata): boolean {
    if (snapshot.index <= this.log.committed) return false;
    if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      // Our log already holds what the snapshot covers; it only tells us that much is committed.
      this.log.commitTo(snapshot.index);
      return false;
    }
    this.log.restore(snapshot);
    this.adoptConf(snapshot.conf, snapshot.index, undefined);
    return true;
  }

  // ---- leader ------------------------------------------------------------------------------

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        // The lease: without a majority heard from in an election timeout, others may have elected
        // someone else, and followers that still honour us keep that new leader from being elected.
        if (!this.tracker.quorumActive(this.id)) {
          this.becomeFollower(this.term, 0);
          return;
        }
        this.tracker.resetRecentActive(this.id);
      }
      this.leadTransferee = 0;
    }
    if (this.role !== Role.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      for (const id of this.tracker.members()) {
        if (id === this.id) continue;
        const match = this.tracker.progress.get(id)?.match ?? 0;
        this.send({ type: MessageType.Heartbeat, from: this.id, to: id, term: this.term, commit: Math.min(match, this.log.committed) });
      }
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return;
    if (m.type === MessageType.AppResp) {
      pr.recentActive = true;
      if (m.reject) {
        const next = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
        if (pr.maybeDecrTo(m.index, next)) {
          if (pr.state === ProgressState.Replicate) pr.becomeProbe();
          this.scheduleAppend(m.from, true);
        }
        return;
      }
      if (pr.maybeUpdate(m.index) || (pr.match === m.index && pr.state === ProgressState.Probe)) {
        if (pr.state === ProgressState.Probe) {
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Snapshot && pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        } else if (pr.state === ProgressState.Replicate) {
          pr.inflights.freeLE(m.index);
        }
        if (this.maybeCommit()) this.scheduleBroadcast();
        else this.scheduleAppend(m.from, false);
        if (this.role === Role.Leader && m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
      }
    } else if (m.type === MessageType.HeartbeatResp) {
      pr.recentActive = true;
      // Lets one append through a full window, so a window of lost messages cannot stall replication.
      pr.paused = false;
      if (pr.match < this.log.lastIndex() || pr.state === ProgressState.Probe) this.scheduleAppend(m.from, true);
    }
  }

  private maybeCommit(): boolean {
    const index = this.tracker.committedIndex();
    if (index <= this.log.committed) return false;
    // §5.4.2: counting replicas proves commitment only for an entry of the leader's own term.
    if (this.faults.commitEntriesOfEarlierTerms !== true && this.log.maybeTerm(index) !== this.term) return false;
    this.log.commitTo(index);
    if (this.role === Role.Leader && !isVoter(this.conf, this.id) && this.log.committed >= this.confIndex) {
      // Our removal is committed: the others no longer need us to lead them (dissertation §4.2.2).
      this.becomeFollower(this.term, 0);
    }
    return true;
  }

  private checkProposable(term: number): void {
    if (this.role !== Role.Leader) throw this.dropped("RAFT_NOT_LEADER", `node ${this.id} is not the leader`);
    if (term !== this.term) throw this.dropped("RAFT_STALE_TERM", `node ${this.id} leads term ${this.term}, not term ${term}`);
    if (this.leadTransferee !== 0) throw this.dropped("RAFT_TRANSFERRING", `leadership is being transferred to node ${this.leadTransferee}`);
  }

  private dropped(code: "RAFT_NOT_LEADER" | "RAFT_STALE_TERM" | "RAFT_TRANSFERRING" | "RAFT_CONF_CHANGE_PENDING", why: string): ProposalDroppedError {
    return new ProposalDroppedError(code, `proposal dropped: ${why}`, { term: this.term, lead: this.lead });
  }

  private appendLeaderEntries(entries: Entry[]): void {
    this.appendToLog(entries);
    this.scheduleBroadcast();
  }

  private scheduleAppend(to: number, force: boolean): void {
    if (this.role !== Role.Leader) return;
    this.pendingAppends.set(to, force || this.pendingAppends.get(to) === true);
  }

  private scheduleBroadcast(): void {
    for (const id of this.tracker.members()) if (id !== this.id) this.scheduleAppend(id, false);
  }

  private maybeSendAppend(to: number, pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.maybeTerm(prevIndex);
    if (prevTerm === undefined) return this.maybeSendSnapshot(to, pr);
    let entries: Entry[] = [];
    // A full window in replicate sends only empty appends: one of them eventually gets an answer.
    if ((pr.state !== ProgressState.Replicate || !pr.inflights.full()) && pr.next <= this.log.lastIndex()) {
      try {
        entries = this.log.entries(pr.next, this.log.lastIndex() + 1, this.maxMessageBytes);
      } catch (err) {
        if (err instanceof LogCompactedError) return this.maybeSendSnapshot(to, pr);
        if (err instanceof LogUnavailableError) return false;
        throw err;
      }
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: MessageType.App, from: this.id, to, term: this.term, prevIndex, prevTerm, entries, commit: this.log.committed });
    let bytes = 0;
    for (const e of entries) bytes += e.data.byteLength;
    pr.sentEntries(entries.length, bytes);
    pr.sentCommit = this.log.committed;
    return true;
  }

  private maybeSendSnapshot(to: number, pr: Progress): boolean {
    // A follower not heard from lately may be down: do not start streaming a snapshot into the void.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    pr.becomeSnapshot(snapshot.index);
    this.send({ type: MessageType.Snap, from: this.id, to, term: this.term, snapshot });
    return true;
  }

  private sendTimeoutNow(to: number): void {
    this.send({ type: MessageType.TimeoutNow, from: this.id, to, term: this.term });
  }

  // ---- log and membership --------------------------------------------------------------------

  private appendToLog(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    if (this.confBefore !== undefined && this.confIndex >= entries[0]!.index) {
      // The membership came from an entry being overwritten, so it never committed, and at most one
      // uncommitted change exists: the one before it is committed, and back in force.
      this.adoptConf(this.confBefore, 0, undefined);
    }
    this.log.append(entries);
    for (const e of entries) {
      if (e.type !== EntryType.ConfChange) continue;
      const record = decodeConfChange(e.data);
      this.adoptConf(record.after, e.index, record.before);
    }
  }

  private adoptConf(conf: ConfState, index: number, before: ConfState | undefined): void {
    this.conf = conf;
    this.confIndex = index;
    this.confBefore = before;
    this.tracker.setConf(conf, this.log.lastIndex() + 1);
    if (this.leadTransferee !== 0 && !isVoter(conf, this.leadTransferee)) this.leadTransferee = 0;
  }

  private appendResponse(to: number, index: number): Message {
    return { type: MessageType.AppResp, from: this.id, to, term: this.term, index, reject: false, hintIndex: 0, hintTerm: 0 };
  }

  private send(m: Message): void {
    if (mustFollowPersistence(m)) this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }
}
