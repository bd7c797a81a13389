/**
 * Helpers for the core's unit tests: single nodes driven message by message, and a small cluster
 * that persists every Ready at once and delivers messages until nothing moves, with filters to
 * drop what a test wants lost.
 */
import { MemoryStorage } from "../memory-storage.ts";
import type { InvariantChecker } from "../sim/invariants.ts";
import type { Message } from "../messages.ts";
import type { RaftConfig } from "../raft.ts";
import { SeededRandom } from "../random.ts";
import { RawNode, type Ready } from "../raw-node.ts";
import { EntryType, type ConfState, type Entry } from "../types.ts";

export type NodeOptions = Partial<Omit<RaftConfig, "id" | "storage" | "random">> & { seed?: number };

/** The settings of the paper's sections: no pre-vote, no check-quorum. */
export const PAPER: NodeOptions = { preVote: false, checkQuorum: false };

export function bootstrapStorage(voters: number[], learners: number[] = []): MemoryStorage {
  const conf: ConfState = { voters, learners };
  return new MemoryStorage(conf);
}

/** A storage that already holds `terms.length` entries, entry i+1 having term terms[i]. */
export function storageWithLog(voters: number[], terms: number[], hardTerm = terms.at(-1) ?? 0): MemoryStorage {
  const storage = bootstrapStorage(voters);
  storage.append(terms.map((term, i) => entry(i + 1, term)));
  storage.setHardState({ term: hardTerm, vote: 0, commit: 0 });
  return storage;
}

export function entry(index: number, term: number, data: Uint8Array = new Uint8Array([index & 0xff])): Entry {
  return { index, term, type: EntryType.Normal, data };
}

export function newNode(id: number, storage: MemoryStorage, options: NodeOptions = {}): RawNode {
  const { seed, ...config } = options;
  return new RawNode({ id, storage, random: new SeededRandom(seed ?? id), ...config });
}

export interface Drained {
  messages: Message[];
  committed: Entry[];
  readies: Ready[];
}

/** Handles every Ready the node has: persists it, applies it, collects its messages. */
export function drain(node: RawNode, storage: MemoryStorage): Drained {
  const out: Drained = { messages: [], committed: [], readies: [] };
  for (let guard = 0; node.hasReady(); guard++) {
    if (guard > 10_000) throw new Error("node never ran out of Readys");
    const rd = node.ready();
    out.readies.push(rd);
    out.messages.push(...rd.messages);
    storage.save(rd);
    out.messages.push(...rd.messagesAfterPersist);
    out.committed.push(...rd.committedEntries);
    node.advance();
  }
  return out;
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

interface Member {
  node: RawNode;
  storage: MemoryStorage;
  applied: Entry[];
  options: NodeOptions;
}

/** Drop a message when the filter returns true. */
export type MessageFilter = (m: Message) => boolean;

export class TestCluster {
  readonly members = new Map<number, Member>();
  /** Every message delivered, in order, for assertions on traffic. */
  readonly delivered: Message[] = [];
  private filters: MessageFilter[] = [];
  private queue: Message[] = [];
  private readonly down = new Set<number>();

  constructor(voters: number[], options: NodeOptions & { learners?: number[] } = {}) {
    const { learners = [], seed, ...nodeOptions } = options;
    for (const id of [...voters, ...learners]) {
      // Each node gets its own random sequence, or they would all time out together.
      this.add(id, bootstrapStorage(voters, learners), { ...nodeOptions, seed: (seed ?? 0) * 1000 + id });
    }
  }

  add(id: number, storage: MemoryStorage, options: NodeOptions = {}): RawNode {
    const node = newNode(id, storage, options);
    this.members.set(id, { node, storage, applied: [], options });
    return node;
  }

  node(id: number): RawNode {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no node ${id}`);
    return member.node;
  }

  storage(id: number): MemoryStorage {
    return this.members.get(id)!.storage;
  }

  /** Payloads of the Normal entries node `id` applied, as text. */
  appliedTexts(id: number): string[] {
    return this.members.get(id)!.applied.filter((e) => e.type === EntryType.Normal).map((e) => text(e.data));
  }

  applied(id: number): Entry[] {
    return this.members.get(id)!.applied;
  }

  drop(filter: MessageFilter): void {
    this.filters.push(filter);
  }

  isolate(id: number): void {
    this.drop((m) => m.from === id || m.to === id);
  }

  cut(a: number, b: number): void {
    this.drop((m) => (m.from === a && m.to === b) || (m.from === b && m.to === a));
  }

  heal(): void {
    this.filters = [];
  }

  /** Loses the node's unpersisted state; it stays down until restart(). */
  crash(id: number): void {
    this.down.add(id);
  }

  restart(id: number): RawNode {
    const member = this.members.get(id)!;
    this.down.delete(id);
    // A restarted node may report a lower commit than before: it reloads what it persisted.
    member.node = newNode(id, member.storage, member.options);
    member.applied = [];
    return member.node;
  }

  tick(id: number, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const [id, member] of this.members) if (!this.down.has(id)) member.node.tick();
    }
  }

  /** Processes Readys and delivers messages until nothing is left to do. */
  stabilize(): void {
    for (let round = 0; ; round++) {
      if (round > 100_000) throw new Error("cluster never stabilised");
      let busy = false;
      for (const [id, member] of this.members) {
        if (this.down.has(id)) continue;
        while (member.node.hasReady()) {
          busy = true;
          const rd = member.node.ready();
          this.queue.push(...rd.messages);
          member.storage.save(rd);
          this.queue.push(...rd.messagesAfterPersist);
          member.applied.push(...rd.committedEntries);
          member.node.advance();
        }
      }
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        busy = true;
        const lost = this.down.has(m.to) || !this.members.has(m.to) || this.filters.some((f) => f(m));
        if (!lost) {
          this.delivered.push(m);
          this.members.get(m.to)!.node.step(m);
        }
        // The transport streams a snapshot and reports the outcome to the sender.
        if (m.type === "MsgSnap" && !this.down.has(m.from)) this.members.get(m.from)?.node.reportSnapshot(m.to, !lost);
      }
      if (!busy) return;
    }
  }

  /** Makes `id` campaign and runs the election to its end. */
  elect(id: number): void {
    this.node(id).campaign();
    this.stabilize();
  }

  propose(id: number, data: string): { index: number; term: number } {
    const node = this.node(id);
    const proposed = node.propose(bytes(data), { term: node.status().term });
    this.stabilize();
    return proposed;
  }

  isDown(id: number): boolean {
    return this.down.has(id);
  }

  leaders(): number[] {
    return [...this.members.keys()].filter((id) => !this.down.has(id) && this.node(id).status().role === "leader");
  }
}

// ---- hand-made messages ----------------------------------------------------------------------

export function appendMsg(from: number, to: number, term: number, prevIndex: number, prevTerm: number, entries: Entry[], commit = 0): Message {
  return { type: "MsgApp", from, to, term, prevIndex, prevTerm, entries, commit };
}

export function appendResp(from: number, to: number, term: number, index: number, reject = false, hintIndex = 0, hintTerm = 0): Message {
  return { type: "MsgAppResp", from, to, term, index, reject, hintIndex, hintTerm };
}

export function voteMsg(from: number, to: number, term: number, lastIndex: number, lastTerm: number, options: { pre?: boolean; transfer?: boolean } = {}): Message {
  return { type: options.pre ? "MsgPreVote" : "MsgVote", from, to, term, lastIndex, lastTerm, transfer: options.transfer ?? false };
}

export function voteResp(from: number, to: number, term: number, granted: boolean, pre = false): Message {
  return { type: pre ? "MsgPreVoteResp" : "MsgVoteResp", from, to, term, reject: !granted };
}

export function heartbeat(from: number, to: number, term: number, commit = 0): Message {
  return { type: "MsgHeartbeat", from, to, term, commit };
}

export function heartbeatResp(from: number, to: number, term: number): Message {
  return { type: "MsgHeartbeatResp", from, to, term };
}

/** Ticks `node` until it leaves the follower role; returns the ticks it took. */
export function ticksUntilCampaign(node: RawNode, limit = 1000): number {
  for (let t = 1; t <= limit; t++) {
    node.tick();
    if (node.status().role !== "follower") return t;
  }
  throw new Error(`node ${node.id} did not campaign within ${limit} ticks`);
}

/** A node of a cluster of `voters` that is leader of `term` (won with the votes of the others). */
export function makeLeader(id: number, voters: number[], storage: MemoryStorage = bootstrapStorage(voters), options: NodeOptions = PAPER): RawNode {
  const node = newNode(id, storage, options);
  node.campaign();
  drain(node, storage);
  for (let round = 0; round < 2 && node.status().role !== "leader"; round++) {
    const pre = node.status().role === "pre-candidate";
    const term = node.status().term + (pre ? 1 : 0);
    for (const v of voters) if (v !== id) node.step(voteResp(v, id, term, true, pre));
    drain(node, storage);
  }
  if (node.status().role !== "leader") throw new Error(`node ${id} did not become leader`);
  return node;
}

/** The terms of a node's log from its first index, durable or not. */
export function logTerms(node: RawNode): number[] {
  const { firstIndex, lastIndex } = node.status();
  return node.logEntries(firstIndex, lastIndex + 1).map((e) => e.term);
}

/** Intersection rather than Extract: vote messages share one interface for two types. */
export function messagesOfType<T extends Message["type"]>(messages: readonly Message[], type: T): (Message & { type: T })[] {
  return messages.filter((m): m is Message & { type: T } => m.type === type);
}

/**
 * Feeds the simulator's invariant checker from a test cluster: leaders (election safety, leader
 * completeness) and newly committed entries. `seen` keeps each node's last reported commit index.
 */
export function checkCluster(cluster: TestCluster, checker: InvariantChecker, seen: Map<number, number>): void {
  for (const id of cluster.members.keys()) {
    if (cluster.isDown(id)) continue;
    const node = cluster.node(id);
    const s = node.status();
    if (s.role === "leader" && checker.observeLeader(id, s.term)) checker.checkLeaderLog(id, s.term, node);
    const from = Math.max((seen.get(id) ?? 0) + 1, s.firstIndex);
    if (from <= s.commit) for (const e of node.logEntries(from, s.commit + 1)) checker.observeCommitted(id, e, s.term);
    seen.set(id, Math.max(seen.get(id) ?? 0, s.commit));
  }
}
