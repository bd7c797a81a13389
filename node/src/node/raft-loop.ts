/**
 * The node loop: drives the pure Raft core with a clock, a disk and a network.
 *
 *   tick timer ─┐                       ┌─> transport.send(messages)            (at once)
 *   transport ──┼─> RawNode ─ Ready ────┼─> storage.persist(entries, hard state) (fsync)
 *   propose() ──┘                       ├─> transport.send(messagesAfterPersist) (only then)
 *                                       └─> apply(committed entries) -> resolve proposals
 *
 * One Ready is handled at a time; inputs that arrive meanwhile are stepped into the core and come
 * out in the next Ready. The leader's messages to followers leave before its own fsync, so the
 * followers write while the leader writes; a follower's acknowledgements leave after its fsync.
 */
import { EventEmitter } from "node:events";
import { ProposalDroppedError, RaftError, Role, type ConfChange, type Message, type RawNode, type Ready } from "../raft/index.ts";
import type { ConfState, Entry, SnapshotMetadata } from "../raft/types.ts";
import type { RaftLogStorage } from "./raft-storage.ts";
import { KingbusError } from "../errors.ts";

export interface LoopTransport {
  send(messages: readonly Message[]): void;
}

/** Applies committed entries in order; the loop waits for it before the next Ready. */
export type Applier = (entries: readonly Entry[]) => void | Promise<void>;

export interface RaftLoopOptions {
  node: RawNode;
  storage: RaftLogStorage;
  transport: LoopTransport;
  apply: Applier;
  /**
   * A leader's snapshot replaced the log (files already installed): the application rebuilds its
   * state from the storage through `index` before anything after it applies.
   */
  restore?: (snapshot: SnapshotMetadata) => void | Promise<void>;
  tickMs: number;
}

export interface Committed {
  index: number;
  term: number;
}

/** Why a proposal did not commit: the leader changed, or the loop stopped, before it applied. */
export class ProposalLostError extends KingbusError {
  constructor(message: string) {
    super("PROPOSAL_LOST", message);
  }
}

interface Waiter {
  term: number;
  resolve: (c: Committed) => void;
  reject: (e: unknown) => void;
}

export interface RaftLoopEvents {
  /** Role or leader changed. */
  soft: [{ lead: number; role: Role }];
  /** Membership in force changed. */
  conf: [ConfState];
  /** The loop stopped on an error it cannot recover from (a storage failure). */
  fatal: [unknown];
  applied: [number];
  /** A message the core refused (from a removed member, or inconsistent with this node's log). */
  refused: [Message, RaftError];
}

export class RaftLoop extends EventEmitter<RaftLoopEvents> {
  readonly node: RawNode;
  private readonly storage: RaftLogStorage;
  private readonly transport: LoopTransport;
  private readonly apply: Applier;
  private readonly restore: ((snapshot: SnapshotMetadata) => void | Promise<void>) | undefined;
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly waiters = new Map<number, Waiter>();
  private appliedIndex = 0;
  private failure: unknown;

  constructor(options: RaftLoopOptions) {
    super();
    this.node = options.node;
    this.storage = options.storage;
    this.transport = options.transport;
    this.apply = options.apply;
    this.restore = options.restore;
    this.tickMs = options.tickMs;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.node.tick();
      this.kick();
    }, this.tickMs);
    this.kick();
  }

  /** Messages from peers. */
  receive(messages: readonly Message[]): void {
    if (this.stopped) return;
    for (const m of messages) {
      try {
        this.node.step(m);
      } catch (e) {
        // A message the core refuses (e.g. from a removed member) must not stop the loop.
        if (!(e instanceof RaftError)) throw e;
        this.emit("refused", m, e);
      }
    }
    this.kick();
  }

  /**
   * Proposes data in the term the caller saw this node lead: a node that no longer leads that term
   * refuses (fencing, so a deposed leader's syncer can never append). There is no default: taking
   * the current term would defeat the fence. Resolves once the entry committed and applied here.
   */
  propose(data: Uint8Array, term: number): Promise<Committed> {
    this.check();
    const { index, term: entryTerm } = this.node.propose(data, { term });
    return this.wait(index, entryTerm);
  }

  private wait(index: number, term: number): Promise<Committed> {
    const done = new Promise<Committed>((resolve, reject) => this.waiters.set(index, { term, resolve, reject }));
    this.kick();
    return done;
  }

  /** A membership change, fenced by term like propose(); resolves once applied here. */
  proposeConfChange(change: ConfChange, term: number): Promise<Committed> {
    this.check();
    const { index, term: entryTerm } = this.node.proposeConfChange(change, { term });
    return this.wait(index, entryTerm);
  }

  isLeader(): boolean {
    return this.node.status().role === Role.Leader;
  }

  get applied(): number {
    return this.appliedIndex;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    const hs = this.storage.store.hardState();
    const status = this.node.status();
    if (this.failure === undefined) await this.storage.saveHardState({ term: status.term, vote: status.vote, commit: Math.max(hs.commit, status.commit) });
    this.failAll(new ProposalLostError("the node stopped before the proposal applied"));
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.stopped) throw new ProposalLostError("the node is stopping");
  }

  /** Starts handling Readys unless that is already under way. */
  private kick(): void {
    if (this.running || this.stopped || this.failure !== undefined) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (!this.stopped && this.failure === undefined && this.node.hasReady()) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && this.failure === undefined && this.node.hasReady()) {
      const rd = this.node.ready();
      try {
        await this.handle(rd);
      } catch (e) {
        this.failure = e;
        clearInterval(this.timer);
        this.failAll(e);
        this.emit("fatal", e);
        return;
      }
      this.node.advance();
    }
  }

  private async handle(rd: Ready): Promise<void> {
    if (rd.softState) this.emit("soft", { lead: rd.softState.lead, role: rd.softState.role });
    if (rd.messages.length > 0) this.transport.send(rd.messages);
    await this.storage.persist(rd);
    if (rd.messagesAfterPersist.length > 0) this.transport.send(rd.messagesAfterPersist);
    if (rd.confState) this.emit("conf", rd.confState);
    // A snapshot stands for every entry up to its index: the application restored from its files.
    if (rd.snapshot && rd.snapshot.index > this.appliedIndex) {
      await this.restore?.(rd.snapshot);
      this.appliedIndex = rd.snapshot.index;
      this.storage.releaseThrough(this.appliedIndex);
    }
    if (rd.committedEntries.length > 0) {
      await this.apply(rd.committedEntries);
      for (const e of rd.committedEntries) this.settle(e);
      this.appliedIndex = rd.committedEntries.at(-1)!.index;
      this.storage.releaseThrough(this.appliedIndex);
      this.emit("applied", this.appliedIndex);
    }
  }

  /**
   * A proposal's index eventually applies on this node: with its term it committed; with another
   * term a newer leader overwrote it. (A node cut off for good never gets there: callers time out.)
   */
  private settle(e: Entry): void {
    const w = this.waiters.get(e.index);
    if (!w) return;
    this.waiters.delete(e.index);
    // Another leader's entry at this index means ours was overwritten: it never committed.
    if (e.term === w.term) w.resolve({ index: e.index, term: e.term });
    else w.reject(new ProposalLostError(`entry ${e.index} was replaced by a newer leader's (term ${e.term}, proposed in ${w.term})`));
  }

  private failAll(e: unknown): void {
    for (const w of this.waiters.values()) w.reject(e instanceof ProposalDroppedError || e instanceof KingbusError ? e : new ProposalLostError(String(e)));
    this.waiters.clear();
  }
}
