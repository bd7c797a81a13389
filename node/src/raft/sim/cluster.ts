/**
 * A simulated cluster: nodes whose "disk" is a MemoryStorage, each running the node loop of
 * raw-node.ts (send, persist, send the rest, apply, advance) with persistence that may lag, over a
 * SimNetwork. A crash drops the node's memory, including a Ready it had not finished persisting;
 * a restart rebuilds the node from its storage alone. Every event is reported to the invariant
 * checker and, when tracing, as a line.
 */
import { ConfChangeType, decodeConfChange, describeConfState } from "../conf-change.ts";
import { ProposalDroppedError } from "../errors.ts";
import { MemoryStorage } from "../memory-storage.ts";
import { describeMessage, MessageType, type Message } from "../messages.ts";
import type { UnsafeFaults } from "../raft.ts";
import type { SeededRandom } from "../random.ts";
import { RawNode, type Ready } from "../raw-node.ts";
import { EntryType, type ConfState } from "../types.ts";
import { InvariantChecker, InvariantViolation, entryKey } from "./invariants.ts";
import type { SimNetwork } from "./network.ts";

export const ELECTION_TICKS = 10;
/** Small, so a few sim payloads already fill an append and the byte limit is exercised. */
export const MAX_MESSAGE_BYTES = 2048;
export const MAX_INFLIGHT = 4;

export type NodeState = "up" | "down" | "removed";

export interface SimNode {
  id: number;
  storage: MemoryStorage;
  raw: RawNode | undefined;
  state: NodeState;
  /** A Ready handed out and not yet persisted, due at `dueAt`. */
  pending: { ready: Ready; dueAt: number } | undefined;
  /** The application's last applied index. */
  applied: number;
  /** Highest commit index already reported to the checker in this incarnation. */
  commitSeen: number;
  lastRole: string;
  lastTerm: number;
}

export interface ClusterStats {
  delivered: number;
  lost: number;
  duplicated: number;
  partitionDrops: number;
  downDrops: number;
  snapshotsSent: number;
  proposalsAccepted: number;
  proposalsRefused: number;
  crashes: number;
  restarts: number;
  confChanges: number;
  transfers: number;
  compactions: number;
}

export interface ClusterOptions {
  voters: number;
  random: SeededRandom;
  network: SimNetwork;
  /** Probability that a Ready's persistence lags behind its handing out. */
  persistLagRate: number;
  faults: UnsafeFaults | undefined;
  trace: ((line: string) => void) | undefined;
}

export class SimCluster {
  readonly nodes = new Map<number, SimNode>();
  readonly checker = new InvariantChecker();
  readonly network: SimNetwork;
  readonly stats: ClusterStats = {
    delivered: 0, lost: 0, duplicated: 0, partitionDrops: 0, downDrops: 0, snapshotsSent: 0, proposalsAccepted: 0,
    proposalsRefused: 0, crashes: 0, restarts: 0, confChanges: 0, transfers: 0, compactions: 0,
  };
  now = 0;
  persistLagRate: number;
  private readonly random: SeededRandom;
  private readonly faults: UnsafeFaults | undefined;
  private readonly trace: ((line: string) => void) | undefined;
  private nextProposalId = 1;
  private nextNodeId: number;

  constructor(options: ClusterOptions) {
    this.random = options.random;
    this.network = options.network;
    this.persistLagRate = options.persistLagRate;
    this.faults = options.faults;
    this.trace = options.trace;
    const voters = Array.from({ length: options.voters }, (_, i) => i + 1);
    for (const id of voters) this.addNode(id, { voters, learners: [] });
    this.nextNodeId = options.voters + 1;
  }

  /** Trace lines are built only when tracing: the thunk keeps untraced runs fast. */
  note(line: () => string): void {
    if (this.trace !== undefined) this.trace(line());
  }

  private addNode(id: number, conf: ConfState): SimNode {
    const node: SimNode = {
      id, storage: new MemoryStorage(conf), raw: undefined, state: "down", pending: undefined,
      applied: 0, commitSeen: 0, lastRole: "down", lastTerm: 0,
    };
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  private start(node: SimNode): void {
    node.raw = new RawNode({
      id: node.id,
      storage: node.storage,
      random: this.random.fork(),
      electionTicks: ELECTION_TICKS,
      heartbeatTicks: 1,
      maxInflightMessages: MAX_INFLIGHT,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      ...(this.faults ? { unsafeFaults: this.faults } : {}),
    });
    node.state = "up";
    node.pending = undefined;
    node.applied = node.storage.snapshot().index;
    node.commitSeen = node.applied;
    node.lastRole = "follower";
    node.lastTerm = node.storage.hardState().term;
  }

  up(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.state === "up");
  }

  // ---- the node loop -------------------------------------------------------------------------

  /** Hands out and handles the node's Readys until it has none or one is left persisting. */
  pump(node: SimNode): void {
    while (node.state === "up" && node.pending === undefined && node.raw!.hasReady()) {
      const raw = node.raw!;
      const ready = raw.ready();
      if (ready.entries.length > 0) {
        this.checker.observeAppended(node.id, ready.entries, raw.logTerm(ready.entries[0]!.index - 1));
      }
      for (const m of ready.messages) this.send(m);
      if (this.persistLagRate > 0 && this.random.chance(this.persistLagRate)) {
        node.pending = { ready, dueAt: this.now + this.random.nextInt(3) };
        return;
      }
      this.persist(node, ready);
    }
  }

  /** The node's disk finished writing the pending Ready. */
  finishPersist(node: SimNode): void {
    const pending = node.pending!;
    node.pending = undefined;
    this.persist(node, pending.ready);
    this.pump(node);
  }

  private persist(node: SimNode, ready: Ready): void {
    const raw = node.raw!;
    node.storage.save(ready);
    this.note(() => {
      const parts = [
        ready.entries.length > 0 ? `entries ${ready.entries[0]!.index}..${ready.entries.at(-1)!.index}` : "",
        ready.hardState ? `hard state t${ready.hardState.term} vote ${ready.hardState.vote} commit ${ready.hardState.commit}` : "",
        ready.snapshot ? `snapshot ${ready.snapshot.index}` : "",
        ready.committedEntries.length > 0 ? `apply ${ready.committedEntries[0]!.index}..${ready.committedEntries.at(-1)!.index}` : "",
      ];
      return `  n${node.id} ${parts.some(Boolean) ? `persisted ${parts.filter(Boolean).join(", ")}` : "handled a Ready of messages only"}`;
    });
    for (const m of ready.messagesAfterPersist) this.send(m);
    const term = raw.status().term;
    const snapshot = ready.snapshot;
    if (snapshot) {
      this.checker.observeSnapshot(node.id, snapshot, node.applied);
      node.applied = snapshot.index;
      this.note(() => `  n${node.id} installed snapshot ${snapshot.index}/t${snapshot.term} ${describeConfState(snapshot.conf)}`);
    }
    for (const e of ready.committedEntries) {
      this.checker.observeApplied(node.id, e, node.applied, term);
      node.applied = e.index;
      if (e.type === EntryType.ConfChange) this.appliedConfChange(node, e.data);
    }
    raw.advance();
  }

  private appliedConfChange(node: SimNode, data: Uint8Array): void {
    const { change } = decodeConfChange(data);
    if (change.type !== ConfChangeType.RemoveNode) return;
    const removed = this.nodes.get(change.nodeId);
    if (removed === undefined || removed.state === "removed") return;
    // The removal is committed: the operator deletes the pod.
    removed.state = "removed";
    removed.raw = undefined;
    removed.pending = undefined;
    this.note(() => `  n${removed.id} removed from the cluster (applied on n${node.id})`);
  }

  private send(m: Message): void {
    const outcome = this.network.send(m, this.now);
    if (outcome === "lost") {
      this.stats.lost++;
      this.note(() => `  lost ${describeMessage(m)}`);
      if (m.type === MessageType.Snap) this.snapshotReport(m, false);
    } else if (outcome === "duplicated") {
      this.stats.duplicated++;
    }
  }

  private snapshotReport(m: Message, succeeded: boolean): void {
    const sender = this.nodes.get(m.from);
    if (sender?.state === "up") sender.raw!.reportSnapshot(m.to, succeeded);
  }

  // ---- events --------------------------------------------------------------------------------

  deliver(position: number): void {
    const m = this.network.take(position);
    const to = this.nodes.get(m.to);
    if (this.network.isBlocked(m.from, m.to)) {
      this.stats.partitionDrops++;
      this.note(() => `drop ${describeMessage(m)} (partition)`);
      if (m.type === MessageType.Snap) this.snapshotReport(m, false);
      return;
    }
    if (to?.state !== "up") {
      this.stats.downDrops++;
      this.note(() => `drop ${describeMessage(m)} (n${m.to} ${to?.state ?? "unknown"})`);
      if (m.type === MessageType.Snap) this.snapshotReport(m, false);
      return;
    }
    this.stats.delivered++;
    this.note(() => `deliver ${describeMessage(m)}`);
    to.raw!.step(m);
    if (m.type === MessageType.Snap) {
      this.stats.snapshotsSent++;
      this.snapshotReport(m, true);
      const sender = this.nodes.get(m.from);
      if (sender?.state === "up") this.pump(sender);
    }
    this.pump(to);
  }

  tick(): void {
    this.now++;
    this.note(() => `tick -> t=${this.now}`);
    for (const node of this.up()) node.raw!.tick();
    for (const node of this.up()) this.pump(node);
  }

  crash(node: SimNode): void {
    this.stats.crashes++;
    this.note(() => `crash n${node.id}${node.pending ? " (losing an unpersisted Ready)" : ""}`);
    node.state = "down";
    node.raw = undefined;
    node.pending = undefined;
    node.lastRole = "down";
  }

  restart(node: SimNode): void {
    this.stats.restarts++;
    this.start(node);
    const hs = node.storage.hardState();
    this.note(() => `restart n${node.id} from storage: term ${hs.term} vote ${hs.vote} commit ${hs.commit} log ${node.storage.firstIndex()}..${node.storage.lastIndex()}`);
    this.pump(node);
  }

  /** Proposes a fresh payload through `node` in `term`; returns the index, or undefined when refused. */
  propose(node: SimNode, term: number, extraBytes: number): number | undefined {
    const id = this.nextProposalId++;
    const data = new Uint8Array(8 + extraBytes);
    new DataView(data.buffer).setUint32(0, id);
    try {
      const { index } = node.raw!.propose(data, { term });
      const s = node.raw!.status();
      if (s.role !== "leader" || s.term !== term) {
        throw new InvariantViolation(`fencing: n${node.id} (${s.role}, term ${s.term}) accepted a proposal for term ${term}`);
      }
      this.stats.proposalsAccepted++;
      this.note(() => `propose #${id} (${data.length} B) on n${node.id} in term ${term} -> index ${index}`);
      this.pump(node);
      return index;
    } catch (err) {
      if (!(err instanceof ProposalDroppedError)) throw err;
      this.stats.proposalsRefused++;
      this.note(() => `propose #${id} on n${node.id} in term ${term} refused: ${err.code}`);
      return undefined;
    }
  }

  newNodeId(): number {
    return this.nextNodeId++;
  }

  /** Starts a node that will join through an AddLearner change: empty log, no membership. */
  startJoiner(id: number): SimNode {
    return this.addNode(id, { voters: [], learners: [] });
  }

  leaders(): SimNode[] {
    return this.up().filter((n) => n.raw!.status().role === "leader");
  }

  /** The leader with the highest term, if any node believes it leads. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.leaders()) if (best === undefined || n.raw!.status().term > best.raw!.status().term) best = n;
    return best;
  }

  // ---- invariants ----------------------------------------------------------------------------

  /** Runs after every step: role changes, election safety, leader completeness, new commitments. */
  observe(): void {
    for (const node of this.up()) {
      const raw = node.raw!;
      const s = raw.status();
      if (s.role !== node.lastRole || s.term !== node.lastTerm) {
        const before = `${node.lastRole} t${node.lastTerm}`;
        this.note(() => `  n${node.id}: ${before} -> ${s.role} t${s.term}${s.lead ? ` (lead ${s.lead})` : ""}`);
        node.lastRole = s.role;
        node.lastTerm = s.term;
      }
      if (s.role === "leader" && this.checker.observeLeader(node.id, s.term)) this.checker.checkLeaderLog(node.id, s.term, raw);
      if (s.commit > node.commitSeen) {
        const from = Math.max(node.commitSeen + 1, s.firstIndex);
        if (from <= s.commit) for (const e of raw.logEntries(from, s.commit + 1)) this.checker.observeCommitted(node.id, e, s.term);
        node.commitSeen = s.commit;
      }
    }
  }

  /** Whether every up voter of `conf` applied the entry at `index`, and it is `key`. */
  appliedEverywhere(conf: ConfState, index: number, key: string): boolean {
    if (this.checker.committedKey(index) !== key) return false;
    return conf.voters.every((id) => {
      const n = this.nodes.get(id);
      return n !== undefined && n.state === "up" && n.applied >= index;
    });
  }

  entryKeyAt(node: SimNode, index: number): string | undefined {
    if (node.raw!.logTerm(index) === undefined) return undefined;
    return entryKey(node.raw!.logEntries(index, index + 1)[0]!);
  }
}
