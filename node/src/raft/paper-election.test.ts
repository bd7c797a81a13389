// §5.1 and §5.2 of the Raft paper: terms and leader election, with pre-vote and check-quorum off
// (they have their own tests) so the rules show as the paper states them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  PAPER, TestCluster, appendMsg, bootstrapStorage, drain, heartbeat, makeLeader, messagesOfType, newNode,
  ticksUntilCampaign, voteMsg, voteResp,
} from "./testing/harness.ts";

describe("5.1 terms", () => {
  for (const role of ["follower", "candidate", "leader"] as const) {
    test(`5.1: a ${role} that sees a higher term adopts it and becomes a follower`, () => {
      const storage = bootstrapStorage([1, 2, 3]);
      const node = role === "leader" ? makeLeader(1, [1, 2, 3], storage) : newNode(1, storage, PAPER);
      if (role === "candidate") node.campaign();
      drain(node, storage);
      node.step(appendMsg(2, 1, 5, 0, 0, []));
      const s = node.status();
      assert.equal(s.term, 5);
      assert.equal(s.role, "follower");
      assert.equal(s.lead, 2);
    });
  }

  test("5.1: a request with a stale term is rejected and answered with the current term", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    storage.setHardState({ term: 4, vote: 0, commit: 0 });
    const node = newNode(1, storage, PAPER);
    node.step(appendMsg(2, 1, 3, 0, 0, [{ index: 1, term: 3, type: 0, data: new Uint8Array(1) }]));
    const { messages } = drain(node, storage);
    assert.equal(node.status().lastIndex, 0, "the stale append must not touch the log");
    assert.deepEqual(messages.map((m) => [m.type, m.term]), [["MsgAppResp", 4]]);
    node.step(voteMsg(3, 1, 3, 10, 3));
    assert.equal(node.status().vote, 0, "no vote for a stale candidate");
  });
});

describe("5.2 leader election", () => {
  test("5.2: servers start as followers", () => {
    const node = newNode(1, bootstrapStorage([1, 2, 3]), PAPER);
    assert.equal(node.status().role, "follower");
    assert.equal(node.status().term, 0);
  });

  test("5.2: a follower that receives no communication becomes a candidate", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(1, storage, { ...PAPER, electionTicks: 10 });
    const ticks = ticksUntilCampaign(node);
    assert.ok(ticks >= 10 && ticks < 20, `campaigned after ${ticks} ticks`);
    const s = node.status();
    assert.equal(s.role, "candidate");
    assert.equal(s.term, 1, "the candidate increments its term");
    assert.equal(s.vote, 1, "and votes for itself");
    const votes = messagesOfType(drain(node, storage).messages, "MsgVote");
    assert.deepEqual(votes.map((m) => m.to).sort(), [2, 3], "it asks every other voter");
    assert.ok(votes.every((m) => m.term === 1));
  });

  test("5.2: a follower that keeps hearing from the leader does not campaign", () => {
    const node = newNode(1, bootstrapStorage([1, 2, 3]), PAPER);
    for (let t = 0; t < 100; t++) {
      node.tick();
      node.step(heartbeat(2, 1, 1));
    }
    assert.equal(node.status().role, "follower");
    assert.equal(node.status().lead, 2);
  });

  test("5.2: a candidate whose election times out starts a new election in a higher term", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(1, storage, PAPER);
    node.campaign();
    drain(node, storage);
    assert.equal(node.status().term, 1);
    const ticks = ticksUntilNewTerm(node);
    assert.ok(ticks >= 10 && ticks < 20, `new election after ${ticks} ticks`);
    assert.equal(node.status().role, "candidate");
    assert.equal(node.status().term, 2);
    assert.deepEqual(messagesOfType(drain(node, storage).messages, "MsgVote").map((m) => m.term), [2, 2]);
  });

  test("5.2: a candidate that receives votes from a majority becomes leader", () => {
    // [cluster size, grants, rejections] -> outcome, as in one round of RequestVote RPCs.
    const cases: [number, number[], number[], string][] = [
      [3, [2], [], "leader"],
      [3, [2, 3], [], "leader"],
      [5, [2, 3], [], "leader"],
      [5, [2], [], "candidate"],
      [5, [2], [3, 4], "candidate"],
      [5, [], [2, 3, 4], "follower"],
      [3, [], [2, 3], "follower"],
    ];
    for (const [size, grants, rejections, expected] of cases) {
      const voters = Array.from({ length: size }, (_, i) => i + 1);
      const storage = bootstrapStorage(voters);
      const node = newNode(1, storage, PAPER);
      node.campaign();
      drain(node, storage);
      for (const v of grants) node.step(voteResp(v, 1, 1, true));
      for (const v of rejections) node.step(voteResp(v, 1, 1, false));
      drain(node, storage);
      assert.equal(node.status().role, expected, `size ${size}, grants ${grants}, rejections ${rejections}`);
    }
  });

  test("5.2: a new leader immediately sends heartbeats (appends) to assert its authority", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(1, storage, PAPER);
    node.campaign();
    drain(node, storage);
    node.step(voteResp(2, 1, 1, true));
    const apps = messagesOfType(drain(node, storage).messages, "MsgApp");
    assert.deepEqual(apps.map((m) => m.to).sort(), [2, 3]);
  });

  test("5.2: the leader sends heartbeats to every follower each heartbeat interval", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = makeLeader(1, [1, 2, 3], storage, { ...PAPER, heartbeatTicks: 2 });
    node.tick();
    assert.equal(messagesOfType(drain(node, storage).messages, "MsgHeartbeat").length, 0);
    node.tick();
    const beats = messagesOfType(drain(node, storage).messages, "MsgHeartbeat");
    assert.deepEqual(beats.map((m) => m.to).sort(), [2, 3]);
    assert.ok(beats.every((m) => m.term === 1));
  });

  test("5.2: each node votes for at most one candidate per term, first come first served", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(1, storage, PAPER);
    node.step(voteMsg(2, 1, 1, 0, 0));
    node.step(voteMsg(3, 1, 1, 0, 0));
    node.step(voteMsg(2, 1, 1, 0, 0));
    const replies = messagesOfType(drain(node, storage).messages, "MsgVoteResp");
    assert.deepEqual(replies.map((m) => [m.to, m.reject]), [[2, false], [3, true], [2, false]]);
    assert.equal(storage.hardState().vote, 2, "the vote is persisted");
  });

  test("5.2: a candidate that hears from a leader of its term becomes a follower", () => {
    const storage = bootstrapStorage([1, 2, 3]);
    const node = newNode(1, storage, PAPER);
    node.campaign();
    drain(node, storage);
    node.step(appendMsg(2, 1, 1, 0, 0, []));
    assert.equal(node.status().role, "follower");
    assert.equal(node.status().lead, 2);
    assert.equal(node.status().term, 1);
  });

  test("5.2: election timeouts are random within [electionTicks, 2*electionTicks)", () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const node = newNode(1, bootstrapStorage([1, 2, 3]), { ...PAPER, electionTicks: 10, seed });
      const ticks = ticksUntilCampaign(node);
      assert.ok(ticks >= 10 && ticks < 20, `seed ${seed}: ${ticks}`);
      seen.add(ticks);
    }
    assert.equal(seen.size, 10, "every timeout in the range occurs");
  });

  test("5.2: the same seed gives the same election timeout", () => {
    const a = ticksUntilCampaign(newNode(1, bootstrapStorage([1, 2, 3]), { ...PAPER, seed: 42 }));
    const b = ticksUntilCampaign(newNode(1, bootstrapStorage([1, 2, 3]), { ...PAPER, seed: 42 }));
    assert.equal(a, b);
  });

  test("5.2: randomized timeouts let a cluster elect exactly one leader, usually in the first term", () => {
    let firstTerm = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const cluster = new TestCluster([1, 2, 3, 4, 5], { ...PAPER, seed });
      for (let t = 0; t < 200 && cluster.leaders().length === 0; t++) {
        cluster.tickAll();
        cluster.stabilize();
      }
      assert.equal(cluster.leaders().length, 1, `seed ${seed}`);
      if (cluster.node(cluster.leaders()[0]!).status().term === 1) firstTerm++;
    }
    assert.ok(firstTerm >= 40, `first-term elections: ${firstTerm}/50`);
  });
});

function ticksUntilNewTerm(node: ReturnType<typeof newNode>): number {
  const term = node.status().term;
  for (let t = 1; t <= 1000; t++) {
    node.tick();
    if (node.status().term > term) return t;
  }
  throw new Error("no new election");
}
