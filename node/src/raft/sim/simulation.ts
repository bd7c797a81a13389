/**
 * One simulated run, entirely determined by its seed: the cluster size (odd seeds 3 voters, even
 * seeds 5), the network's faults, and every event. A chaos phase of random steps (message
 * delivery, ticks, client proposals, partitions, crashes and restarts, membership changes,
 * leadership transfers, compactions) is followed by a healed phase that must commit a new proposal
 * on every voter within a bounded number of ticks. Invariants are checked after every step; the
 * first violation ends the run with a SimulationFailure naming the seed and step.
 */
import { KingbusError } from "../../errors.ts";
import { ConfChangeType, type ConfChange, describeConfChange, describeConfState } from "../conf-change.ts";
import { ConfChangeError, ProposalDroppedError, RaftError } from "../errors.ts";
import type { UnsafeFaults } from "../raft.ts";
import { SeededRandom } from "../random.ts";
import { ELECTION_TICKS, SimCluster, type ClusterStats, type SimNode } from "./cluster.ts";
import { InvariantViolation } from "./invariants.ts";
import { SimNetwork } from "./network.ts";

/** Random steps before the network heals. */
export const CHAOS_STEPS = 4000;
/** Ticks the healed cluster gets to commit a new proposal on every voter. */
export const HEAL_TICK_LIMIT = 20 * ELECTION_TICKS;
/** Events handled between two ticks of the healed phase, at most. */
const HEAL_EVENTS_PER_TICK = 10_000;
const MIN_VOTERS = 3;

export function clusterSizeFor(seed: number): 3 | 5 {
  return seed % 2 === 1 ? 3 : 5;
}

export function replayCommand(seed: number): string {
  return `make sim SEED=${seed} STEPS=1`;
}

export class SimulationFailure extends KingbusError {
  readonly seed: number;
  readonly step: number;
  readonly description: string;

  constructor(seed: number, step: number, description: string, cause: unknown) {
    super("SIM_FAILURE", `seed ${seed}, step ${step}: ${description}\nreplay: ${replayCommand(seed)}`, { cause });
    this.seed = seed;
    this.step = step;
    this.description = description;
  }
}

export interface SimulationOptions {
  seed: number;
  /** Receives one line per event, prefixed with the step and the time. */
  trace?: (line: string) => void;
  /** Broken rules for every node, to show the checker catches them. */
  faults?: UnsafeFaults;
}

export interface SimulationReport {
  seed: number;
  voters: number;
  steps: number;
  ticks: number;
  /** Ticks the healed cluster needed to commit the new proposal on every voter. */
  healTicks: number;
  committed: number;
  termsWithLeader: number;
  checks: number;
  stats: ClusterStats;
}

interface Knobs {
  faultRate: number;
  proposeRate: number;
  tickRate: number;
  maxDown: number;
  maxVoters: number;
  maxMembers: number;
}

export function runSimulation(options: SimulationOptions): SimulationReport {
  const { seed } = options;
  const random = new SeededRandom(seed);
  const voters = clusterSizeFor(seed);
  let step = 0;
  let cluster: SimCluster | undefined;
  const trace = options.trace === undefined ? undefined : (line: string): void => options.trace!(`#${step} t=${cluster?.now ?? 0} ${line}`);
  const knobs: Knobs = {
    faultRate: random.pick([0.005, 0.01, 0.02, 0.04]),
    proposeRate: random.pick([0.03, 0.08, 0.15]),
    tickRate: random.pick([0.03, 0.08]),
    maxDown: Math.floor((voters - 1) / 2),
    maxVoters: voters + 2,
    maxMembers: voters + 3,
  };
  const network = new SimNetwork(random.fork(), {
    lossRate: random.pick([0, 0.02, 0.05, 0.1]),
    duplicateRate: random.pick([0, 0.02, 0.05]),
    maxDelay: random.pick([0, 1, 2, 3]),
  });
  const persistLagRate = random.pick([0, 0.2, 0.5]);
  try {
    cluster = new SimCluster({ voters, random: random.fork(), network, persistLagRate, faults: options.faults, trace });
    const c = cluster;
    c.note(() => `seed ${seed}: ${voters} voters, loss ${network.faults.lossRate}, dup ${network.faults.duplicateRate}, delay <= ${network.faults.maxDelay}, persist lag ${persistLagRate}, faults ${knobs.faultRate}/step, proposals ${knobs.proposeRate}/step`);
    for (step = 1; step <= CHAOS_STEPS; step++) {
      chaosStep(c, random, knobs);
      c.observe();
      c.note(() => `  invariants hold: ${c.checker.termsWithLeader} terms with a leader, ${c.checker.committedCount} entries committed`);
    }
    const healTicks = heal(c, random, () => step++);
    return {
      seed, voters, steps: step, ticks: c.now, healTicks, committed: c.checker.committedCount,
      termsWithLeader: c.checker.termsWithLeader, checks: c.checker.checks, stats: c.stats,
    };
  } catch (err) {
    if (err instanceof SimulationFailure) throw err;
    const description = err instanceof KingbusError ? `${err.code}: ${err.message}` : String(err);
    throw new SimulationFailure(seed, step, description, err);
  }
}

function chaosStep(c: SimCluster, random: SeededRandom, knobs: Knobs): void {
  const r = random.nextFloat();
  if (r < knobs.faultRate) fault(c, random, knobs);
  else if (r < knobs.faultRate + knobs.proposeRate) clientProposal(c, random);
  else if (r < knobs.faultRate + knobs.proposeRate + knobs.tickRate) c.tick();
  else if (!nextEvent(c, random)) c.tick();
}

/** Delivers one due message or finishes one due write, chosen at random; false when none is due. */
function nextEvent(c: SimCluster, random: SeededRandom): boolean {
  const due = c.network.due(c.now);
  const persists = c.up().filter((n) => n.pending !== undefined && n.pending.dueAt <= c.now);
  const total = due.length + persists.length;
  if (total === 0) return false;
  const k = random.nextInt(total);
  if (k < due.length) c.deliver(due[k]!);
  else c.finishPersist(persists[k - due.length]!);
  return true;
}

/** Mostly through the leader in its term; sometimes through any node, in a possibly stale term, which must be refused unless it leads that term. */
function clientProposal(c: SimCluster, random: SeededRandom): void {
  const extra = random.pick([0, 16, 200, 900]);
  if (random.chance(0.8)) {
    const leader = c.leader();
    if (leader !== undefined) c.propose(leader, leader.raw!.status().term, extra);
    else c.note(() => "no leader to propose to");
    return;
  }
  const up = c.up();
  if (up.length === 0) return;
  // Whatever node, in its own term or the one before: only a leader of that very term may accept.
  const node = random.pick(up);
  c.propose(node, Math.max(1, node.raw!.status().term - (random.chance(0.3) ? 1 : 0)), extra);
}

function fault(c: SimCluster, random: SeededRandom, knobs: Knobs): void {
  const live = [...c.nodes.values()].filter((n) => n.state !== "removed");
  const down = live.filter((n) => n.state === "down");
  const up = live.filter((n) => n.state === "up");
  const leader = c.leader();
  const choices: [number, () => void][] = [];
  if (!c.network.partitioned && live.length > 1) choices.push([3, () => partition(c, random, live)]);
  if (!c.network.partitioned && leader !== undefined && live.length > 2) choices.push([3, () => isolateLeader(c, random, leader, live)]);
  if (live.length > 1) choices.push([2, () => oneWay(c, random, live)]);
  if (c.network.partitioned) choices.push([4, () => { c.network.heal(); c.note(() => "heal all partitions"); }]);
  if (down.length < knobs.maxDown && up.length > 0) {
    choices.push([3, () => c.crash(random.pick(up))]);
    // Power loss in the middle of a write: the window where acknowledging too early loses data.
    const writing = up.filter((n) => n.pending !== undefined);
    if (writing.length > 0) choices.push([4, () => c.crash(random.pick(writing))]);
  }
  if (down.length > 0) choices.push([5, () => c.restart(random.pick(down))]);
  if (leader !== undefined) {
    choices.push([2, () => changeMembership(c, random, leader, knobs)]);
    choices.push([2, () => transfer(c, random, leader)]);
  }
  if (up.length > 0) choices.push([2, () => compact(c, random, random.pick(up))]);
  const total = choices.reduce((sum, [w]) => sum + w, 0);
  let r = random.nextInt(total);
  for (const [weight, act] of choices) {
    if (r < weight) {
      act();
      return;
    }
    r -= weight;
  }
}

function shuffled<T>(random: SeededRandom, items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function partition(c: SimCluster, random: SeededRandom, live: SimNode[]): void {
  const order = shuffled(random, live.map((n) => n.id));
  const cut = 1 + random.nextInt(order.length - 1);
  const left = order.slice(0, cut);
  const right = order.slice(cut);
  for (const a of left) {
    for (const b of right) {
      c.network.block(a, b);
      c.network.block(b, a);
    }
  }
  c.note(() => `partition {${left.join(",")}} | {${right.join(",")}}`);
}

/** The leader alone, or with one follower, on the minority side: it keeps leading until check-quorum. */
function isolateLeader(c: SimCluster, random: SeededRandom, leader: SimNode, live: SimNode[]): void {
  const others = shuffled(random, live.filter((n) => n.id !== leader.id).map((n) => n.id));
  const minority = [leader.id, ...others.slice(0, random.nextInt(Math.floor((live.length - 1) / 2)))];
  const majority = others.filter((id) => !minority.includes(id));
  for (const a of minority) {
    for (const b of majority) {
      c.network.block(a, b);
      c.network.block(b, a);
    }
  }
  c.note(() => `isolate the leader: {${minority.join(",")}} | {${majority.join(",")}}`);
}

function oneWay(c: SimCluster, random: SeededRandom, live: SimNode[]): void {
  const [a, b] = shuffled(random, live.map((n) => n.id));
  c.network.block(a!, b!);
  c.note(() => `block ${a} -> ${b} (one way)`);
}

/** Keeps the cluster able to make progress: at least MIN_VOTERS voters, a bounded size. */
function changeMembership(c: SimCluster, random: SeededRandom, leader: SimNode, knobs: Knobs): void {
  const { conf, term } = leader.raw!.status();
  const members = [...conf.voters, ...conf.learners];
  const options: ConfChange[] = [];
  if (members.length < knobs.maxMembers) options.push({ type: ConfChangeType.AddLearner, nodeId: 0 });
  if (conf.learners.length > 0 && conf.voters.length < knobs.maxVoters) {
    options.push({ type: ConfChangeType.PromoteLearner, nodeId: random.pick(conf.learners) });
  }
  const removable = members.filter((id) => conf.learners.includes(id) || conf.voters.length > MIN_VOTERS);
  if (removable.length > 0) options.push({ type: ConfChangeType.RemoveNode, nodeId: random.pick(removable) });
  if (options.length === 0) return;
  const chosen = random.pick(options);
  const change = chosen.nodeId === 0 ? { ...chosen, nodeId: c.newNodeId() } : chosen;
  try {
    const { index } = leader.raw!.proposeConfChange(change, { term });
    c.stats.confChanges++;
    c.note(() => `conf change ${describeConfChange(change)} on n${leader.id} (${describeConfState(conf)}) -> index ${index}`);
    if (change.type === ConfChangeType.AddLearner) c.startJoiner(change.nodeId);
    c.pump(leader);
  } catch (err) {
    if (!(err instanceof ProposalDroppedError) && !(err instanceof ConfChangeError)) throw err;
    c.note(() => `conf change ${describeConfChange(change)} on n${leader.id} refused: ${err.code}`);
  }
}

function transfer(c: SimCluster, random: SeededRandom, leader: SimNode): void {
  const { conf } = leader.raw!.status();
  const targets = conf.voters.filter((id) => id !== leader.id);
  if (targets.length === 0) return;
  const to = random.pick(targets);
  try {
    leader.raw!.transferLeadership(to);
    c.stats.transfers++;
    c.note(() => `transfer leadership n${leader.id} -> n${to}`);
    c.pump(leader);
  } catch (err) {
    if (!(err instanceof RaftError)) throw err;
    c.note(() => `transfer leadership n${leader.id} -> n${to} refused: ${err.code}`);
  }
}

/** The application compacts the log up to some applied index, as retention would. */
function compact(c: SimCluster, random: SeededRandom, node: SimNode): void {
  const first = node.storage.snapshot().index;
  const applied = Math.min(node.applied, node.raw!.status().applied);
  if (applied <= first) return;
  const index = first + 1 + random.nextInt(applied - first);
  node.storage.compact(index);
  node.raw!.compacted(index);
  c.stats.compactions++;
  c.note(() => `compact n${node.id} up to ${index}`);
  c.pump(node);
}

/**
 * Removes every fault, restarts every node, then requires a new proposal to be applied by every
 * voter within HEAL_TICK_LIMIT ticks. Returns the ticks it took.
 */
function heal(c: SimCluster, random: SeededRandom, nextStep: () => void): number {
  c.network.heal();
  c.network.faults = { lossRate: 0, duplicateRate: 0, maxDelay: 0 };
  c.persistLagRate = 0;
  c.note(() => "heal: partitions removed, no more loss, every node restarted");
  for (const node of c.nodes.values()) if (node.state === "down") c.restart(node);
  c.observe();
  const markers: { index: number; key: string; at: number }[] = [];
  for (let ticks = 0; ; ticks++) {
    for (let events = 0; nextEvent(c, random); events++) {
      if (events > HEAL_EVENTS_PER_TICK) throw new InvariantViolation("liveness: the healed cluster never goes quiet between ticks");
      nextStep();
      c.observe();
    }
    const leader = c.leader();
    if (leader !== undefined) {
      const { conf, term } = leader.raw!.status();
      if (markers.some((m) => c.appliedEverywhere(conf, m.index, m.key))) {
        c.note(() => `healed: a new proposal is applied on every voter (${describeConfState(conf)}) after ${ticks} ticks`);
        return ticks;
      }
      const last = markers.at(-1);
      if (last === undefined || ticks - last.at >= 3 * ELECTION_TICKS) {
        const index = c.propose(leader, term, 8);
        if (index !== undefined) markers.push({ index, key: c.entryKeyAt(leader, index)!, at: ticks });
      }
    }
    if (ticks >= HEAL_TICK_LIMIT) {
      const states = [...c.nodes.values()].map((n) => {
        if (n.state !== "up") return `n${n.id} ${n.state}`;
        const s = n.raw!.status();
        return `n${n.id} ${s.role} t${s.term} commit ${s.commit}/${s.lastIndex} applied ${n.applied} ${describeConfState(s.conf)}`;
      });
      throw new InvariantViolation(`liveness: the healed cluster did not commit a new proposal on every voter within ${HEAL_TICK_LIMIT} ticks; ${states.join("; ")}`);
    }
    nextStep();
    c.tick();
    c.observe();
  }
}
