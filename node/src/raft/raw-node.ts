/**
 * The API a node loop drives: inputs (tick, step, propose...) go in at any time; output comes out
 * as Ready batches, one at a time, each acknowledged by advance() once handled:
 *
 *   const rd = node.ready();
 *   transport.send(rd.messages);                       // at once, even before persisting
 *   storage.save(rd.snapshot, rd.entries, rd.hardState); // durable (fsync) when rd.mustSync
 *   transport.send(rd.messagesAfterPersist);           // only now
 *   apply(rd.snapshot, rd.committedEntries);            // may overlap the next save: already durable
 *   node.advance();
 *
 * Between ready() and advance() the loop may keep calling step/tick/propose (while its disk works);
 * what they produce waits for the next Ready.
 */
import { confStatesEqual, type ConfChange } from "./conf-change.ts";
import { RaftError } from "./errors.ts";
import type { Message } from "./messages.ts";
import { Raft, Role, type Persisted, type RaftConfig } from "./raft.ts";
import type { ProgressState } from "./progress.ts";
import type { ConfState, Entry, HardState, SnapshotMetadata } from "./types.ts";

export interface SoftState {
  lead: number;
  role: Role;
}

export interface Ready {
  /** Present when the role or the known leader changed since the previous Ready. */
  softState?: SoftState;
  /** Present when term, vote or commit changed: persist it (after `entries`). */
  hardState?: HardState;
  /**
   * A snapshot received from the leader: persist it (replacing the whole log) and restore the
   * application from the files the transport streamed. Never comes with committedEntries.
   */
  snapshot?: SnapshotMetadata;
  /** Append to the log, first discarding any stored entry at or after entries[0].index. */
  entries: readonly Entry[];
  /** Committed, already durable entries to apply in order. ConfChange ones are in force already. */
  committedEntries: readonly Entry[];
  /** Send now: nothing in them depends on this Ready being durable. */
  messages: readonly Message[];
  /** Send only after hardState, entries and snapshot of this Ready are durable. */
  messagesAfterPersist: readonly Message[];
  /**
   * Present when the membership in force changed: the latest in the log, committed or not, so an
   * uncommitted change may still be undone by a later Ready. The transport may need new peers.
   */
  confState?: ConfState;
  /** Whether the persisted data must be synced to disk before messagesAfterPersist go out. */
  mustSync: boolean;
}

export interface ProposeOptions {
  /** The term in which the proposer saw this node lead: a node that no longer leads it refuses. */
  term: number;
}

export interface Proposed {
  index: number;
  term: number;
}

export interface ProgressStatus {
  match: number;
  next: number;
  state: ProgressState;
  paused: boolean;
  inflight: number;
  recentActive: boolean;
  learner: boolean;
}

export interface Status {
  id: number;
  term: number;
  vote: number;
  commit: number;
  applied: number;
  lead: number;
  role: Role;
  firstIndex: number;
  lastIndex: number;
  conf: ConfState;
  /** The node leadership is being transferred to, 0 for none. */
  leadTransferee: number;
}

interface InFlight extends Persisted {
  lastApplied: number | undefined;
}

export class RawNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private prevConf: ConfState;
  private inFlight: InFlight | undefined;

  /** Starts (or restarts) a node from what its storage holds. */
  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.prevSoft = this.softState();
    this.prevHard = config.storage.hardState();
    this.prevConf = this.raft.conf;
  }

  get id(): number {
    return this.raft.id;
  }

  /** One unit of logical time: drives election timeouts, heartbeats and the leader's lease. */
  tick(): void {
    this.raft.tick();
  }

  /** A message from a peer. */
  step(message: Message): void {
    this.raft.step(message);
  }

  /**
   * Appends `data` as a Normal entry. Throws ProposalDroppedError (RAFT_NOT_LEADER,
   * RAFT_STALE_TERM, RAFT_TRANSFERRING) unless this node leads in `options.term` and is not handing
   * leadership over. The entry may still be lost if leadership changes before it commits: watch for
   * its index and term among committed entries.
   */
  propose(data: Uint8Array, options: ProposeOptions): Proposed {
    return this.raft.propose(data, options.term);
  }

  /**
   * Appends a membership change, in force as soon as it is in the log. Refused like propose(), and
   * with RAFT_CONF_CHANGE_PENDING while another change is uncommitted or this leader has not yet
   * committed an entry of its term; an invalid change throws ConfChangeError.
   */
  proposeConfChange(change: ConfChange, options: ProposeOptions): Proposed {
    return this.raft.proposeConfChange(change, options.term);
  }

  /**
   * Hands leadership to voter `to`: it is brought up to date, then told to campaign at once.
   * Proposals are refused meanwhile; the transfer is abandoned after an election timeout.
   */
  transferLeadership(to: number): void {
    this.raft.transferLeadership(to);
  }

  /** Starts an election now, pre-vote first when enabled. */
  campaign(): void {
    this.raft.campaign();
  }

  reportUnreachable(id: number): void {
    this.raft.reportUnreachable(id);
  }

  /** The transport finished streaming the snapshot to `id` (succeeded) or gave up. */
  reportSnapshot(id: number, succeeded: boolean): void {
    this.raft.reportSnapshot(id, succeeded);
  }

  /**
   * The storage compacted the log up to `index` (at most the applied index): entries there are
   * gone, and followers that still need them will get the snapshot.
   */
  compacted(index: number): void {
    const log = this.raft.log;
    if (index > log.applied) throw new RaftError("RAFT_MISUSE", `compacted up to ${index}, beyond the applied index ${log.applied}`);
    if (log.storage.firstIndex() <= index) {
      throw new RaftError("RAFT_MISUSE", `told the log is compacted up to ${index}, but the storage still starts at ${log.storage.firstIndex()}`);
    }
    this.raft.compacted(index);
  }

  hasReady(): boolean {
    if (this.inFlight !== undefined) return false;
    const raft = this.raft;
    raft.flushAppends();
    const log = raft.log;
    return (
      raft.msgs.length > 0 ||
      raft.msgsAfterPersist.length > 0 ||
      log.unstable.entriesToPersistCount() > 0 ||
      log.unstable.snapshotToPersist() !== undefined ||
      log.hasNextCommittedEntries() ||
      !softStatesEqual(this.softState(), this.prevSoft) ||
      !hardStatesEqual(this.hardState(), this.prevHard) ||
      (raft.conf !== this.prevConf && !confStatesEqual(raft.conf, this.prevConf))
    );
  }

  /** The next batch of work. Throws RAFT_MISUSE if the previous one was not advanced. */
  ready(): Ready {
    if (this.inFlight !== undefined) throw new RaftError("RAFT_MISUSE", "ready() called again before advance()");
    const raft = this.raft;
    const log = raft.log;
    raft.flushAppends();
    const entries = log.unstable.entriesToPersist();
    const committedEntries = log.nextCommittedEntries(raft.maxApplyBytes);
    const rd: Ready = {
      entries,
      committedEntries,
      messages: raft.msgs,
      messagesAfterPersist: raft.msgsAfterPersist,
      mustSync: entries.length > 0,
    };
    raft.msgs = [];
    raft.msgsAfterPersist = [];
    const soft = this.softState();
    if (!softStatesEqual(soft, this.prevSoft)) {
      rd.softState = soft;
      this.prevSoft = soft;
    }
    const hard = this.hardState();
    if (!hardStatesEqual(hard, this.prevHard)) {
      rd.hardState = hard;
      if (hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote) rd.mustSync = true;
      this.prevHard = hard;
    }
    const snapshot = log.unstable.snapshotToPersist();
    if (snapshot !== undefined) {
      rd.snapshot = snapshot;
      rd.mustSync = true;
    }
    if (raft.conf !== this.prevConf) {
      if (!confStatesEqual(raft.conf, this.prevConf)) rd.confState = raft.conf;
      this.prevConf = raft.conf;
    }
    log.unstable.acceptInProgress();
    const last = entries.at(-1);
    this.inFlight = {
      lastEntry: last === undefined ? undefined : { index: last.index, term: last.term },
      snapshotIndex: snapshot?.index,
      hardState: rd.hardState,
      lastApplied: committedEntries.at(-1)?.index,
    };
    return rd;
  }

  /** The previous Ready is handled: its state durable, its messages sent, its entries applied. */
  advance(): void {
    const done = this.inFlight;
    if (done === undefined) throw new RaftError("RAFT_MISUSE", "advance() without a Ready");
    this.inFlight = undefined;
    const log = this.raft.log;
    if (done.snapshotIndex !== undefined) log.appliedTo(Math.max(log.applied, Math.min(done.snapshotIndex, log.committed)));
    if (done.lastApplied !== undefined) log.appliedTo(done.lastApplied);
    this.raft.onPersisted(done);
  }

  status(): Status {
    const raft = this.raft;
    return {
      id: raft.id,
      term: raft.term,
      vote: raft.vote,
      commit: raft.log.committed,
      applied: raft.log.applied,
      lead: raft.lead,
      role: raft.role,
      firstIndex: raft.log.firstIndex(),
      lastIndex: raft.log.lastIndex(),
      conf: raft.conf,
      leadTransferee: raft.leadTransferee,
    };
  }

  /** On a leader, what it knows of each member's log (itself included when a member); undefined elsewhere. */
  progress(): ReadonlyMap<number, ProgressStatus> | undefined {
    if (this.raft.role !== Role.Leader) return undefined;
    const progress = new Map<number, ProgressStatus>();
    for (const [id, pr] of this.raft.tracker.progress) {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        paused: pr.isPaused(),
        inflight: pr.inflights.size,
        recentActive: pr.recentActive,
        learner: pr.isLearner,
      });
    }
    return progress;
  }

  /** The term of the entry at `index` in this node's log (durable or not), undefined if absent or compacted. */
  logTerm(index: number): number | undefined {
    return this.raft.log.maybeTerm(index);
  }

  /** Entries [lo, hi) of this node's log, durable or not. Throws LogCompactedError below the first index. */
  logEntries(lo: number, hi: number): Entry[] {
    return this.raft.log.entries(lo, hi, Number.MAX_SAFE_INTEGER);
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.role };
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }
}

function softStatesEqual(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.role === b.role;
}

function hardStatesEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
