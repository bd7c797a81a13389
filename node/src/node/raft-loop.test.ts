/**
 * The node loop with real storage and an asynchronous in-memory transport: proposals resolve once
 * applied everywhere, a proposal in a term the node no longer leads is refused (fencing), and
 * stopping the loop rejects what is still waiting.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { RawNode, SeededRandom, ProposalDroppedError, type Message, type Entry } from "../raft/index.ts";
import { EntryType } from "../raft/types.ts";
import { LogStore } from "../storage/log-store.ts";
import { RaftLogStorage } from "./raft-storage.ts";
import { RaftLoop, ProposalLostError } from "./raft-loop.ts";
import { removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";

after(removeTempStoreDirs);

interface Started {
  loops: Map<number, RaftLoop>;
  applied: Map<number, string[]>;
  cut: Set<number>;
  stop: () => Promise<void>;
}

async function startCluster(ids: number[]): Promise<Started> {
  const loops = new Map<number, RaftLoop>();
  const applied = new Map<number, string[]>();
  const stores: LogStore[] = [];
  const cut = new Set<number>();
  const deliver = (messages: readonly Message[]): void => {
    for (const m of messages) {
      if (cut.has(m.from) || cut.has(m.to)) continue;
      setImmediate(() => loops.get(m.to)?.receive([m]));
    }
  };
  for (const id of ids) {
    const store = await LogStore.open(tempStoreDir(`kingbus-loop-${id}-`));
    stores.push(store);
    const storage = new RaftLogStorage(store, { voters: ids, learners: [] });
    const node = new RawNode({ id, storage, random: new SeededRandom(id * 7), electionTicks: 10, heartbeatTicks: 1 });
    applied.set(id, []);
    const loop = new RaftLoop({
      node,
      storage,
      transport: { send: deliver },
      tickMs: 10,
      apply: (entries: readonly Entry[]) => {
        for (const e of entries) if (e.type === EntryType.Normal && e.data.length > 0) applied.get(id)!.push(Buffer.from(e.data).toString());
      },
    });
    loops.set(id, loop);
  }
  for (const loop of loops.values()) loop.start();
  return {
    loops,
    applied,
    cut,
    stop: async () => {
      for (const loop of loops.values()) await loop.stop();
      for (const s of stores) await s.close();
    },
  };
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("proposals resolve once applied; every node applies the same sequence", { timeout: 30_000 }, async () => {
  const c = await startCluster([1, 2, 3]);
  try {
    const leader = await waitFor("a leader", () => [...c.loops.values()].find((l) => l.isLeader()));
    const term = leader.node.status().term;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => leader.propose(Buffer.from(`w${i}`), term)));
    assert.deepEqual(results.map((r) => r.term), Array(200).fill(term));
    assert.ok(results.every((r, i) => i === 0 || r.index === results[i - 1]!.index + 1), "consecutive indexes");
    await waitFor("every node applied 200", () => [...c.applied.values()].every((a) => a.length === 200));
    const first = c.applied.get(1)!.join();
    for (const a of c.applied.values()) assert.equal(a.join(), first);
  } finally {
    await c.stop();
  }
});

test("fencing: a proposal in a term this node no longer leads is refused", { timeout: 30_000 }, async () => {
  const c = await startCluster([1, 2, 3]);
  try {
    const leader = await waitFor("a leader", () => [...c.loops.values()].find((l) => l.isLeader()));
    const oldTerm = leader.node.status().term;
    const id = leader.node.id;
    c.cut.add(id);
    const next = await waitFor("a new leader", () => [...c.loops.values()].find((l) => l.isLeader() && l.node.id !== id && l.node.status().term > oldTerm), 10_000);
    c.cut.delete(id);
    await waitFor("the old leader steps down", () => !leader.isLeader(), 10_000);
    assert.throws(() => leader.propose(Buffer.from("from a deposed syncer"), oldTerm), (e: unknown) => e instanceof ProposalDroppedError);
    assert.throws(() => next.propose(Buffer.from("stale term on the new leader"), oldTerm), (e: unknown) => e instanceof ProposalDroppedError && e.code === "RAFT_STALE_TERM");
    const ok = await next.propose(Buffer.from("fresh"), next.node.status().term);
    assert.ok(ok.index > 0);
  } finally {
    await c.stop();
  }
});

test("stopping the loop rejects proposals still waiting", { timeout: 30_000 }, async () => {
  const c = await startCluster([1, 2, 3]);
  const leader = await waitFor("a leader", () => [...c.loops.values()].find((l) => l.isLeader()));
  for (const l of c.loops.values()) if (l !== leader) c.cut.add(l.node.id);
  const pending = leader.propose(Buffer.from("never committed"), leader.node.status().term);
  const refused = assert.rejects(pending, (e: unknown) => e instanceof ProposalLostError);
  await c.stop();
  await refused;
});
