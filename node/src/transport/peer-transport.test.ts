import { test } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as turn, setTimeout as sleep } from "node:timers/promises";
import { MessageType, type Message } from "../raft/messages.ts";
import { EntryType } from "../raft/types.ts";
import { TransportError } from "./errors.ts";
import { PeerTransport } from "./peer-transport.ts";
import { append, closeAll, freePort, heartbeat, liveHandles, startCluster, startRecorder, startRelay, waitFor } from "./testing.ts";

const oneOfEach = (from: number, to: number): Message[] => [
  { type: MessageType.App, from, to, term: 3, prevIndex: 10, prevTerm: 2, commit: 9, entries: [{ index: 11, term: 3, type: EntryType.ConfChange, data: new Uint8Array([1, 2, 3]) }] },
  { type: MessageType.AppResp, from, to, term: 3, index: 7, reject: true, hintIndex: 5, hintTerm: 2 },
  { type: MessageType.Vote, from, to, term: 4, lastIndex: 11, lastTerm: 3, transfer: true },
  { type: MessageType.PreVote, from, to, term: 4, lastIndex: 11, lastTerm: 3, transfer: false },
  { type: MessageType.VoteResp, from, to, term: 4, reject: false },
  { type: MessageType.PreVoteResp, from, to, term: 4, reject: true },
  { type: MessageType.Heartbeat, from, to, term: 4, commit: 11 },
  { type: MessageType.HeartbeatResp, from, to, term: 4 },
  { type: MessageType.TimeoutNow, from, to, term: 4 },
];

test("two transports exchange every kind of message, both ways, and report each other reachable", async () => {
  const [a, b] = await startCluster(2);
  try {
    a!.transport.send(oneOfEach(1, 2));
    b!.transport.send(oneOfEach(2, 1));
    await waitFor("both sides to receive", () => a!.count(2) === 9 && b!.count(1) === 9);
    assert.deepEqual(b!.received.get(1), oneOfEach(1, 2));
    assert.deepEqual(a!.received.get(2), oneOfEach(2, 1));
    assert.deepEqual(a!.reachability.map((r) => [r.peer, r.reachable]), [[2, true]]);
    assert.equal(a!.transport.stats().peers.get(2)?.reachable, true);
  } finally {
    await closeAll([a!, b!]);
  }
});

test("three transports: each receives what the two others send it, in each sender's order", async () => {
  const nodes = await startCluster(3);
  try {
    for (let round = 0; round < 50; round++) {
      for (const [i, node] of nodes.entries()) {
        const from = i + 1;
        node.transport.send([1, 2, 3].filter((to) => to !== from).map((to) => heartbeat(from, to, round)));
      }
      await turn();
    }
    await waitFor("100 messages at each node", () => nodes.every((n, i) => [1, 2, 3].every((from) => from === i + 1 || n.count(from) === 50)));
    for (const [i, node] of nodes.entries()) {
      for (const from of [1, 2, 3].filter((f) => f !== i + 1)) {
        assert.deepEqual(node.received.get(from)!.map((m) => (m.type === MessageType.Heartbeat ? m.commit : -1)), Array.from({ length: 50 }, (_, k) => k));
        assert.ok(node.received.get(from)!.every((m) => m.from === from && m.to === i + 1));
      }
    }
  } finally {
    await closeAll(nodes);
  }
});

test("10,000 messages of mixed sizes to one peer arrive complete and in order, in far fewer stream writes", async () => {
  const [a, b] = await startCluster(2);
  try {
    await waitFor("the stream", () => a!.transport.stats().peers.get(2)?.reachable === true);
    const sent: Message[] = [];
    for (let i = 1; i <= 10_000; i++) {
      sent.push(i % 7 === 0 ? append(1, 2, i, (i * 37) % 3000) : heartbeat(1, 2, i));
      // Raft hands over one Ready's messages at a time, and its flow control keeps what is in
      // flight well under the queue bound: so does this sender.
      if (i % 500 === 0) {
        a!.transport.send(sent.slice(i - 500, i));
        await waitFor("the queue to drain", () => a!.transport.stats().peers.get(2)!.queued < 1_000);
      }
    }
    await waitFor("10,000 messages", () => b!.count(1) === 10_000, 10_000);
    assert.deepEqual(b!.received.get(1), sent);
    const stats = a!.transport.stats().peers.get(2)!;
    assert.equal(stats.dropped, 0);
    assert.equal(stats.messagesSent, 10_000);
    assert.ok(stats.batchesSent <= 100, `${stats.batchesSent} stream writes for 10,000 messages`);
    assert.equal(b!.batches.length, stats.batchesSent, "one delivery per stream write");
  } finally {
    await closeAll([a!, b!]);
  }
});

test("large batches to a slow receiver arrive intact, though the sender serializes every batch into one reused buffer", async () => {
  // Batches of one or two messages, many in flight while the receiver stalls.
  const a = await startRecorder(1, { limits: { batchBytes: 150_000 } });
  const b = await startRecorder(2, { onMessages: async (messages) => {
    b.batches.push(messages.length);
    b.received.set(1, [...(b.received.get(1) ?? []), ...messages]);
    // A follower persisting the batch before it reads the next; the first takes long enough for
    // HTTP/2 flow control to stall the sender.
    await sleep(b.batches.length === 1 ? 300 : 2);
  } });
  try {
    a.transport.addPeer(2, `http://${b.address}`);
    await waitFor("the stream", () => a.transport.stats().peers.get(2)?.reachable === true);
    const sent = Array.from({ length: 120 }, (_, i) => append(1, 2, i + 1, 40_000 + ((i * 7919) % 80_000)));
    a.transport.send(sent);
    await waitFor("120 appends", () => b.count(1) === 120, 20_000);
    assert.deepEqual(b.received.get(1), sent);
    assert.ok(b.batches.length > 10, `${b.batches.length} batches`);
  } finally {
    await closeAll([a, b]);
  }
});

test("batches are bounded by batchBytes; a message larger than that goes alone", async () => {
  const limits = { batchBytes: 4096 };
  const [a, b] = await startCluster(2, { limits });
  try {
    await waitFor("the stream", () => a!.transport.stats().peers.get(2)?.reachable === true);
    const small = Array.from({ length: 200 }, (_, i) => append(1, 2, i + 1, 100));
    a!.transport.send([...small, append(1, 2, 201, 10_000), heartbeat(1, 2, 1)]);
    await waitFor("202 messages", () => b!.count(1) === 202);
    // 200 messages of at most 100 + 112 bytes: at least 200*212/4096 writes, each at most 4096 bytes.
    const perBatch = Math.floor(4096 / (100 + 112));
    assert.ok(b!.batches.length >= Math.ceil(200 / perBatch) + 1, `${b!.batches.length} batches`);
    assert.ok(b!.batches.every((n) => n <= perBatch + 1), `batch sizes ${b!.batches.join(",")}`);
    const big = b!.received.get(1)!.findIndex((m) => m.type === MessageType.App && m.entries[0]!.data.length === 10_000);
    assert.equal(big, 200);
    assert.ok(b!.batches.includes(1));
  } finally {
    await closeAll([a!, b!]);
  }
});

test("send never waits: with the peer down the queue stays bounded, drops are counted, essential messages kept", async () => {
  const port = await freePort();
  const a = await startRecorder(1, { limits: { queueMessages: 100 } });
  let b: Awaited<ReturnType<typeof startRecorder>> | undefined;
  try {
    a.transport.addPeer(2, `127.0.0.1:${port}`);
    await waitFor("the peer to be reported unreachable", () => a.reachability.some((r) => r.peer === 2 && !r.reachable));
    assert.equal(a.reachability[0]!.cause?.code, "TRANSPORT_UNAVAILABLE");
    const vote: Message = { type: MessageType.Vote, from: 1, to: 2, term: 9, lastIndex: 1, lastTerm: 1, transfer: false };
    const start = performance.now();
    a.transport.send([vote]);
    for (let i = 1; i <= 10_000; i++) a.transport.send([heartbeat(1, 2, i)]);
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 1_000, `10,001 sends took ${elapsed} ms`);
    const stats = a.transport.stats().peers.get(2)!;
    assert.equal(stats.queued, 100);
    assert.equal(stats.dropped, 10_001 - 100);
    assert.equal(stats.messagesSent, 0);

    // The peer comes up: what is queued (the vote, then the newest heartbeats) arrives, in order.
    b = await startRecorder(2, { listen: `127.0.0.1:${port}` });
    await waitFor("the queued messages", () => b!.count(1) === 100, 5_000);
    const got = b.received.get(1)!;
    assert.deepEqual(got[0], vote);
    assert.deepEqual(got.slice(1).map((m) => (m.type === MessageType.Heartbeat ? m.commit : -1)), Array.from({ length: 99 }, (_, k) => 10_000 - 98 + k));
  } finally {
    await closeAll(b === undefined ? [a] : [a, b]);
  }
});

test("a peer that is down, then comes up, gets what is sent after it came up within the backoff bound; a restarted peer too", async () => {
  const port = await freePort();
  const maxMs = 300;
  const a = await startRecorder(1, { backoff: { initialMs: 20, maxMs } });
  let b = undefined as Awaited<ReturnType<typeof startRecorder>> | undefined;
  try {
    a.transport.addPeer(2, `http://127.0.0.1:${port}`);
    await waitFor("a few failed attempts", () => a.transport.stats().peers.get(2)!.failures >= 3);
    b = await startRecorder(2, { listen: `127.0.0.1:${port}` });
    const upAt = performance.now();
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor("the message sent after the peer came up", () => b!.count(1) === 1, 5_000);
    const reconnectMs = performance.now() - upAt;
    // Bounded by the backoff cap (plus scheduling slack), not by gRPC's own 20 s or 120 s defaults.
    assert.ok(reconnectMs < maxMs + 2_000, `reconnected after ${reconnectMs} ms`);
    assert.deepEqual(a.reachability.map((r) => r.reachable), [false, true]);

    // The stream breaks (the peer restarts on the same address): the sender notices and reconnects.
    await b.transport.close();
    await waitFor("the peer reported unreachable", () => a.reachability.length === 3);
    b = await startRecorder(2, { listen: `127.0.0.1:${port}` });
    await waitFor("the stream to be back", () => a.reachability.length === 4);
    a.transport.send([heartbeat(1, 2, 2)]);
    await waitFor("the message after the restart", () => b!.count(1) === 1, 5_000);
    assert.equal(a.transport.stats().peers.get(2)!.connects, 2);
  } finally {
    await closeAll(b === undefined ? [a] : [a, b]);
  }
});

test("a peer that goes silent without closing the connection is found out by keepalive, and the stream comes back", async () => {
  const b = await startRecorder(2);
  const relay = await startRelay(Number(b.address.split(":")[1]));
  const a = await startRecorder(1, { keepalive: { intervalMs: 100, timeoutMs: 100 }, connectTimeoutMs: 500, backoff: { initialMs: 20, maxMs: 200 } });
  try {
    a.transport.addPeer(2, relay.address);
    a.transport.send([heartbeat(1, 2, 1)]);
    await waitFor("the first message", () => b.count(1) === 1);
    relay.freeze();
    const frozenAt = performance.now();
    await waitFor("the silent peer to be reported unreachable", () => a.reachability.some((r) => !r.reachable), 5_000);
    assert.ok(performance.now() - frozenAt < 3_000);
    a.transport.send([heartbeat(1, 2, 2)]);
    // New attempts reach the relay but get no answer: the connect timeout gives up on each.
    await waitFor("attempts that time out", () => a.transport.stats().peers.get(2)!.failures >= 3, 10_000);
    assert.equal(b.count(1), 1);
    relay.thaw();
    await waitFor("the message queued during the partition", () => b.count(1) === 2, 5_000);
    assert.deepEqual(a.reachability.map((r) => r.reachable), [true, false, true]);
  } finally {
    await closeAll([a, b]);
    await relay.close();
  }
});

test("addPeer, updatePeer and removePeer follow membership; unknown destinations are counted", async () => {
  const [a, b, c] = await Promise.all([startRecorder(1), startRecorder(2), startRecorder(3)]);
  try {
    a.transport.send([heartbeat(1, 2, 1)]);
    assert.equal(a.transport.stats().droppedUnknownPeer, 1);
    a.transport.addPeer(2, b.address);
    assert.throws(() => a.transport.addPeer(2, b.address), (e: unknown) => e instanceof TransportError && e.code === "TRANSPORT_UNKNOWN_PEER");
    a.transport.send([heartbeat(1, 2, 2)]);
    await waitFor("node 2", () => b.count(1) === 1);

    // Node 2 moves to another address (a fresh transport with the same id).
    const b2 = await startRecorder(2);
    try {
      a.transport.updatePeer(2, `https://${b2.address}`);
      a.transport.send([heartbeat(1, 2, 3)]);
      await waitFor("node 2 at its new address", () => b2.count(1) === 1);
      assert.equal(b.count(1), 1, "nothing more at the old address");
    } finally {
      await b2.transport.close();
    }

    a.transport.addPeer(3, c.address);
    a.transport.removePeer(2);
    a.transport.send([heartbeat(1, 2, 4), heartbeat(1, 3, 4)]);
    await waitFor("node 3", () => c.count(1) === 1);
    assert.equal(a.transport.stats().droppedUnknownPeer, 2);
    assert.equal(a.transport.stats().peers.has(2), false);
    assert.throws(() => a.transport.updatePeer(2, b.address), (e: unknown) => e instanceof TransportError && e.code === "TRANSPORT_UNKNOWN_PEER");
    assert.throws(() => a.transport.addPeer(4, "127.0.0.1"), (e: unknown) => e instanceof TransportError && e.code === "TRANSPORT_BAD_CONFIG");
  } finally {
    await closeAll([a, b, c]);
  }
});

test("a stream to the wrong node or cluster is refused before any message is delivered", async () => {
  const a = await startRecorder(1, { clusterId: "east" });
  const b = await startRecorder(2, { clusterId: "east" });
  const other = await startRecorder(3, { clusterId: "west" });
  try {
    a.transport.addPeer(4, b.address); // node 2 listens there, not node 4
    a.transport.addPeer(3, other.address);
    a.transport.send([heartbeat(1, 4, 1), heartbeat(1, 3, 1)]);
    await waitFor("both refusals", () => a.reachability.filter((r) => !r.reachable).length === 2);
    for (const r of a.reachability) {
      assert.equal(r.cause?.code, "TRANSPORT_REFUSED");
      assert.match(r.cause!.message, r.peer === 4 ? /meant for node 4, this is node 2/ : /cluster "east", this is cluster "west"/);
    }
    await sleep(100);
    assert.equal(b.received.size + other.received.size, 0);
    assert.ok(b.errors.some((e) => e instanceof TransportError && e.code === "TRANSPORT_REFUSED"));
  } finally {
    await closeAll([a, b, other]);
  }
});

test("send checks every message first: a malformed one throws and nothing is queued; a closed transport refuses", async () => {
  const [a, b] = await startCluster(2);
  try {
    assert.throws(() => a!.transport.send([heartbeat(1, 2, 1), heartbeat(2, 1, 1)]), (e: unknown) => e instanceof TransportError && e.code === "TRANSPORT_BAD_MESSAGE");
    assert.throws(() => a!.transport.send([heartbeat(1, 2, 1), heartbeat(1, 2, -5)]), (e: unknown) => e instanceof TransportError && e.code === "TRANSPORT_BAD_MESSAGE");
    assert.equal(a!.transport.stats().peers.get(2)!.queued, 0);
    a!.transport.send([{ type: MessageType.App, from: 1, to: 2, term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array(2 << 20) }] }]);
    assert.equal(a!.transport.stats().droppedOversize, 0, "2 MiB is under the default message limit");
  } finally {
    await closeAll([a!, b!]);
  }
  assert.throws(() => a!.transport.send([heartbeat(1, 2, 1)]), (e: unknown) => e instanceof TransportError && e.code === "TRANSPORT_CLOSED");
  const errors: Error[] = [];
  const tiny = new PeerTransport({ id: 1, listen: "127.0.0.1:0", onMessages: () => undefined, onError: (e) => errors.push(e), limits: { batchBytes: 1000, messageBytes: 1000, queueBytes: 1000 } });
  tiny.addPeer(2, "127.0.0.1:1");
  tiny.send([append(1, 2, 1, 2000)]);
  assert.equal(tiny.stats().droppedOversize, 1);
  assert.equal((errors[0] as TransportError).code, "TRANSPORT_OVERSIZE");
  await tiny.close();
  assert.throws(() => new PeerTransport({ id: 1, listen: "x:1", onMessages: () => undefined, limits: { messageBytes: 2000, queueBytes: 1000 } }),
    (e: unknown) => e instanceof TransportError && e.code === "TRANSPORT_BAD_CONFIG");
});

test("close() leaves no socket, server or timer behind, even with a peer down and streams open", async () => {
  // Long backoff: a retry timer close() failed to clear would still be pending at the end.
  const nodes = await startCluster(3, { backoff: { initialMs: 30_000, maxMs: 60_000 } });
  nodes[0]!.transport.addPeer(9, `127.0.0.1:${await freePort()}`);
  nodes[0]!.transport.send([heartbeat(1, 2, 1), heartbeat(1, 9, 1)]);
  await waitFor("a message", () => nodes[1]!.count(1) === 1);
  await waitFor("the retry timer of the peer that is down", () => nodes[0]!.transport.stats().peers.get(9)!.failures === 1);
  await closeAll(nodes);
  assert.deepEqual(process.getActiveResourcesInfo().filter((r) => r === "Timeout"), [], "no timer survives close()");
  await waitFor(`no live handles (${liveHandles().join(", ")})`, () => liveHandles().length === 0, 2_000);
});
