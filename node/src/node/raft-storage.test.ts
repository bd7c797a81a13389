/**
 * The Raft core over the real segment-file log: three nodes in one process, messages passed in
 * memory, every Ready persisted with fsync before its dependent messages go out. Entries commit
 * identically everywhere, survive restarts of every node, and a restarted follower catches up.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { RawNode, SeededRandom, Role, type Message, type Entry } from "../raft/index.ts";
import { EntryType } from "../raft/types.ts";
import { LogStore } from "../storage/log-store.ts";
import { RaftLogStorage } from "./raft-storage.ts";
import { removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";

after(removeTempStoreDirs);

const VOTERS = [1, 2, 3];

class Member {
  readonly id: number;
  readonly dir: string;
  store!: LogStore;
  storage!: RaftLogStorage;
  node!: RawNode;
  applied: Entry[] = [];

  constructor(id: number, dir: string) {
    this.id = id;
    this.dir = dir;
  }

  async start(seed: number): Promise<void> {
    this.store = await LogStore.open(this.dir, { segmentBytes: 16 * 1024 });
    this.storage = new RaftLogStorage(this.store, { voters: VOTERS, learners: [] });
    this.node = new RawNode({ id: this.id, storage: this.storage, random: new SeededRandom(seed), electionTicks: 10, heartbeatTicks: 1, applied: 0 });
    // Entries applied before a restart are applied again from index 1: this test's state machine is the list.
    this.applied = [];
  }

  async stop(): Promise<void> {
    await this.storage.saveHardState(this.store.hardState());
    await this.store.close();
  }
}

async function pump(members: Member[], down: Set<number>, rounds: number, onRound?: (r: number) => void): Promise<void> {
  const inbox: Message[] = [];
  for (let r = 0; r < rounds; r++) {
    onRound?.(r);
    for (const m of members) if (!down.has(m.id)) m.node.tick();
    for (let settle = 0; settle < 20; settle++) {
      let busy = false;
      for (const m of members) {
        if (down.has(m.id)) continue;
        for (const msg of inbox.splice(0).filter((x) => x.to === m.id || (inbox.push(x), false))) m.node.step(msg);
        if (!m.node.hasReady()) continue;
        busy = true;
        const rd = m.node.ready();
        inbox.push(...rd.messages);
        await m.storage.persist(rd);
        inbox.push(...rd.messagesAfterPersist);
        m.applied.push(...rd.committedEntries.filter((e) => e.type === EntryType.Normal && e.data.length > 0));
        m.node.advance();
      }
      for (let i = inbox.length - 1; i >= 0; i--) if (down.has(inbox[i]!.to)) inbox.splice(i, 1);
      if (!busy && inbox.length === 0) break;
    }
  }
}

function leaderOf(members: Member[], down: Set<number>): Member | undefined {
  return members.find((m) => !down.has(m.id) && m.node.status().role === Role.Leader);
}

const payload = (i: number): Uint8Array => Buffer.from(`write-${i}-`.repeat(20));

test("three nodes over real segment files: commit, restart everything, restart and catch up a follower", { timeout: 120_000 }, async () => {
  const members = VOTERS.map((id) => new Member(id, tempStoreDir(`kingbus-raft-${id}-`)));
  for (const m of members) await m.start(100 + m.id);
  const down = new Set<number>();
  await pump(members, down, 60);
  let leader = leaderOf(members, down);
  assert.ok(leader, "a leader was elected");

  let written = 0;
  const propose = (n: number): void => {
    const l = leaderOf(members, down)!;
    for (let k = 0; k < n; k++) l.node.propose(payload(++written), { term: l.node.status().term });
  };
  propose(150);
  await pump(members, down, 20);
  for (const m of members) assert.equal(m.applied.length, 150, `node ${m.id} applied every write`);
  for (const m of members) assert.deepEqual(m.applied.map((e) => Buffer.from(e.data).toString()), members[0]!.applied.map((e) => Buffer.from(e.data).toString()));

  // Every node restarts from its files.
  for (const m of members) await m.stop();
  for (const m of members) await m.start(200 + m.id);
  await pump(members, down, 60);
  leader = leaderOf(members, down);
  assert.ok(leader, "a leader after the restart");
  for (const m of members) assert.equal(m.applied.length, 150, `node ${m.id} re-applied its durable log`);

  // A follower goes down, writes continue, it comes back and catches up.
  const follower = members.find((m) => m !== leader)!;
  await follower.stop();
  down.add(follower.id);
  propose(100);
  await pump(members, down, 20);
  await follower.start(300);
  down.delete(follower.id);
  await pump(members, down, 40);
  for (const m of members) assert.equal(m.applied.length, 250, `node ${m.id} holds all 250 writes`);
  const texts = members.map((m) => m.applied.map((e) => Buffer.from(e.data).toString()).join("|"));
  assert.ok(texts.every((t) => t === texts[0]), "identical everywhere");
  for (const m of members) await m.stop();
});
