import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { MessageType, type SnapshotMessage } from "../raft/messages.ts";
import { TransportError } from "./errors.ts";
import { kingbusProto } from "./proto.ts";
import { encodeMessage } from "./raft-codec.ts";
import { receiveSnapshot, type SnapshotSource } from "./snapshot-stream.ts";
import type { PeerTransportOptions } from "./peer-transport.ts";
import type { WireSnapshotChunk } from "./wire-types.ts";
import { closeAll, collectGarbage, removeTempDirs, startRecorder, tempDir, waitFor } from "./testing.ts";

after(removeTempDirs);

const MIB = 1 << 20;
const snap = (index = 1234, from = 1, to = 2): SnapshotMessage => ({
  type: MessageType.Snap, from, to, term: 7, snapshot: { index, term: 6, conf: { voters: [1, 2, 3], learners: [4] } },
});

async function sha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Files of a snapshot: a 64 MiB segment written in pieces (never held whole), small ones, an empty one. */
async function makeSource(): Promise<SnapshotSource & { hashes: Map<string, string> }> {
  const dir = tempDir("snap-src");
  const big = await open(join(dir, "00000000000000000001.seg"), "w");
  const piece = randomBytes(MIB);
  for (let i = 0; i < 64; i++) {
    piece[0] = i;
    await big.write(piece);
  }
  await big.close();
  writeFileSync(join(dir, "00000000000000000001.idx"), randomBytes(12_345));
  writeFileSync(join(dir, "snapshot"), Buffer.from("metadata"));
  writeFileSync(join(dir, "membership"), Buffer.alloc(0));
  const files = ["00000000000000000001.seg", "00000000000000000001.idx", "snapshot", "membership"];
  const hashes = new Map<string, string>();
  for (const f of files) hashes.set(f, await sha256(join(dir, f)));
  return { dir, files, hashes };
}

interface Outcome {
  peer: number;
  error?: TransportError;
}

async function pair(source: SnapshotSource, options: { tamper?: PeerTransportOptions["testing"]; onSnapshot?: (m: SnapshotMessage, dir: string) => Promise<void> } = {}) {
  const receivedDir = tempDir("snap-dst");
  const taken: { message: SnapshotMessage; dir: string }[] = [];
  const outcomes: Outcome[] = [];
  const sender = await startRecorder(1, {
    snapshots: { dir: tempDir("snap-unused"), source: () => Promise.resolve(source), onSnapshot: () => Promise.resolve(), onSent: (peer, _m, error) => outcomes.push({ peer, error }) },
    testing: options.tamper,
  });
  const receiver = await startRecorder(2, {
    snapshots: {
      dir: receivedDir,
      source: () => Promise.reject(new Error("unused")),
      onSnapshot: options.onSnapshot ?? ((message, dir) => {
        taken.push({ message, dir });
        return Promise.resolve();
      }),
    },
  });
  sender.transport.addPeer(2, receiver.address);
  return { sender, receiver, receivedDir, taken, outcomes };
}

/** Bytes of the files in the receiver's snapshot directories (incoming or complete). */
function bytesWritten(parent: string): number {
  let total = 0;
  for (const d of readdirSync(parent)) {
    try {
      for (const f of readdirSync(join(parent, d))) total += statSync(join(parent, d, f)).size;
    } catch {
      // Renamed or removed between the two listings.
    }
  }
  return total;
}

test("a snapshot of several files, one of 64 MiB, arrives whole and verified, streamed in chunks with bounded memory", async () => {
  const source = await makeSource();
  const chunks: number[] = [];
  let sent = 0;
  const { sender, receiver, receivedDir, taken, outcomes } = await pair(source, {
    tamper: { tamperSnapshotChunk: (_file, _offset, data) => (chunks.push(data.length), (sent += data.length), data) },
  });
  try {
    collectGarbage();
    const baseline = process.memoryUsage();
    let peakHeld = 0;
    let peakRss = 0;
    let peakGap = 0;
    // Collect, then measure: what the transfer holds on to, not garbage awaiting collection. And
    // how far the receiver's disk lags behind the sender: the bytes in flight between the two.
    const sampler = setInterval(() => {
      peakGap = Math.max(peakGap, sent - bytesWritten(receivedDir));
      collectGarbage();
      const now = process.memoryUsage();
      peakHeld = Math.max(peakHeld, now.arrayBuffers - baseline.arrayBuffers);
      peakRss = Math.max(peakRss, now.rss - baseline.rss);
    }, 20);
    sender.transport.send([snap()]);
    await waitFor("the snapshot to be sent", () => outcomes.length === 1, 120_000);
    clearInterval(sampler);

    assert.equal(outcomes[0]!.error, undefined, outcomes[0]!.error?.message);
    assert.equal(taken.length, 1);
    assert.deepEqual(taken[0]!.message, snap());
    const dir = taken[0]!.dir;
    assert.match(dir, /snap-1234-6-[0-9a-f]{12}$/);
    assert.deepEqual(readdirSync(receivedDir), [dir.slice(receivedDir.length + 1)], "only the complete snapshot directory");
    assert.deepEqual(readdirSync(dir).sort(), [...source.files].sort());
    for (const f of source.files) assert.equal(await sha256(join(dir, f)), source.hashes.get(f), f);

    // Streamed: many chunks of at most 256 KiB, written at the receiver as they come (gRPC buffers
    // at most 16 messages there), and memory growing by far less than the file.
    assert.ok(chunks.length >= 256 && chunks.every((n) => n <= 256 * 1024), `${chunks.length} chunks`);
    const mib = (n: number): string => (n / MIB).toFixed(1);
    console.log(`64 MiB snapshot: in flight at most ${mib(peakGap)} MiB; after GC, buffers held at most +${mib(peakHeld)} MiB, resident +${mib(peakRss)} MiB`);
    assert.ok(peakGap < 8 * MIB, `${mib(peakGap)} MiB sent but not yet on the receiver's disk`);
    // V8 frees array buffers' memory after a collection returns, so this figure runs high (~20 MiB).
    assert.ok(peakHeld < 48 * MIB, `buffers held during the transfer peaked at ${mib(peakHeld)} MiB`);
    assert.ok(peakRss < 32 * MIB, `resident memory grew by ${mib(peakRss)} MiB`);
    const stats = [sender.transport.stats(), receiver.transport.stats()];
    assert.deepEqual([stats[0]!.snapshotsSent, stats[1]!.snapshotsReceived], [1, 1]);
  } finally {
    await closeAll([sender, receiver]);
  }
});

test("a corrupted chunk is refused: the sender learns it failed and nothing that looks complete is left", async () => {
  const source = await makeSource();
  let tampered = 0;
  const { sender, receiver, receivedDir, taken, outcomes } = await pair(source, {
    tamper: {
      tamperSnapshotChunk: (file, offset, data) => {
        if (file !== "00000000000000000001.seg" || offset !== 40 * MIB) return data;
        tampered++;
        const copy = Buffer.from(data);
        copy[100]! ^= 0x01;
        return copy;
      },
    },
  });
  try {
    sender.transport.send([snap()]);
    await waitFor("the outcome", () => outcomes.length === 1, 120_000);
    assert.equal(tampered, 1);
    assert.equal(outcomes[0]!.error?.code, "SNAPSHOT_FAILED");
    assert.match(outcomes[0]!.error!.message, /SNAPSHOT_CORRUPT.*CRC32/);
    assert.equal(taken.length, 0, "onSnapshot never called");
    assert.deepEqual(readdirSync(receivedDir), []);
    assert.equal(receiver.transport.stats().snapshotsReceiveFailed, 1);
    assert.ok(receiver.errors.some((e) => e instanceof TransportError && e.code === "SNAPSHOT_CORRUPT"));
  } finally {
    await closeAll([sender, receiver]);
  }
});

test("a stream broken mid-transfer (the sender goes away) leaves nothing behind at the receiver", async () => {
  const source = await makeSource();
  let sentBytes = 0;
  const { sender, receiver, receivedDir, taken } = await pair(source, {
    tamper: { tamperSnapshotChunk: (_f, _o, data) => ((sentBytes += data.length), data) },
  });
  try {
    sender.transport.send([snap()]);
    await waitFor("part of the snapshot", () => sentBytes > 16 * MIB, 120_000);
    assert.equal(readdirSync(receivedDir).filter((n) => n.startsWith(".incoming-")).length, 1, "an incoming directory while the transfer runs");
    await sender.transport.close();
    await waitFor("the receiver to give up", () => receiver.transport.stats().snapshotsReceiveFailed === 1, 10_000);
    assert.deepEqual(readdirSync(receivedDir), []);
    assert.equal(taken.length, 0);
  } finally {
    await closeAll([sender, receiver]);
  }
});

test("when the node cannot take a snapshot, its directory is removed and the sender told", async () => {
  const dir = tempDir("snap-small");
  writeFileSync(join(dir, "a"), "x");
  const { sender, receiver, receivedDir, outcomes } = await pair({ dir, files: ["a"] }, { onSnapshot: () => Promise.reject(new Error("disk on fire")) });
  try {
    sender.transport.send([snap()]);
    await waitFor("the outcome", () => outcomes.length === 1);
    assert.match(outcomes[0]!.error!.message, /disk on fire/);
    assert.deepEqual(readdirSync(receivedDir), []);
    // The failed transfer no longer counts as in flight: the next MsgSnap goes out.
    sender.transport.send([snap(1300)]);
    await waitFor("the second outcome", () => outcomes.length === 2);
  } finally {
    await closeAll([sender, receiver]);
  }
});

test("a second snapshot to a peer while one is in flight is refused as busy; a missing source file fails cleanly", async () => {
  const dir = tempDir("snap-missing");
  writeFileSync(join(dir, "a"), "x");
  const { sender, receiver, outcomes } = await pair({ dir, files: ["a", "missing"] });
  try {
    sender.transport.send([snap(), snap(1300)]);
    await waitFor("both outcomes", () => outcomes.length === 2);
    assert.equal(outcomes[0]!.error?.code, "SNAPSHOT_BUSY");
    assert.equal(outcomes[1]!.error?.code, "SNAPSHOT_FAILED");
    assert.match(outcomes[1]!.error!.message, /missing/);
  } finally {
    await closeAll([sender, receiver]);
  }
});

test("start() removes incoming directories a crash left behind, and keeps complete snapshots", async () => {
  const dir = tempDir("snap-crash");
  mkdirSync(join(dir, ".incoming-abc"));
  writeFileSync(join(dir, ".incoming-abc", "x.part"), "half");
  mkdirSync(join(dir, "snap-5-1-abc"));
  const node = await startRecorder(2, { snapshots: { dir, source: () => Promise.reject(new Error("unused")), onSnapshot: () => Promise.resolve() } });
  await node.transport.close();
  assert.deepEqual(readdirSync(dir), ["snap-5-1-abc"]);
});

// receiveSnapshot on hand-made streams: every way a stream can break the format.

/** The chunks as they come off the wire: through the real protobuf encoding. */
async function* chunksOf(list: WireSnapshotChunk[]): AsyncGenerator<WireSnapshotChunk> {
  const { sendSnapshot } = kingbusProto();
  for (const chunk of list) yield sendSnapshot.requestDeserialize(sendSnapshot.requestSerialize(chunk));
}

const header = (files: { name: string; size: number }[], message = snap()): WireSnapshotChunk => ({ part: "header", header: { message: encodeMessage(message), files } });
const data = (name: string, offset: number, bytes: string): WireSnapshotChunk => ({ part: "data", data: { name, offset, data: Buffer.from(bytes) } });
const end = (name: string, content: string, crc = crc32(Buffer.from(content))): WireSnapshotChunk => ({ part: "fileEnd", fileEnd: { name, size: content.length, crc32: crc } });

test("receiveSnapshot refuses streams that break the format and leaves the directory empty", async () => {
  const cases: [string, WireSnapshotChunk[], string, RegExp][] = [
    ["no header", [data("a", 0, "x")], "SNAPSHOT_INVALID", /not a header/],
    ["unsafe name", [header([{ name: "../a", size: 1 }])], "SNAPSHOT_INVALID", /not a plain file name/],
    ["hidden name", [header([{ name: ".a", size: 1 }])], "SNAPSHOT_INVALID", /not a plain file name/],
    ["duplicate name", [header([{ name: "a", size: 0 }, { name: "a", size: 0 }])], "SNAPSHOT_INVALID", /twice/],
    ["wrong sender", [header([], snap(1, 3, 2))], "SNAPSHOT_INVALID", /expected MsgSnap 1->2/],
    ["gap", [header([{ name: "a", size: 4 }]), data("a", 0, "ab"), data("a", 3, "d")], "SNAPSHOT_INVALID", /at 3/],
    ["past the size", [header([{ name: "a", size: 2 }]), data("a", 0, "abc")], "SNAPSHOT_INVALID", /has 0 of 2/],
    ["files out of order", [header([{ name: "a", size: 1 }, { name: "b", size: 1 }]), data("b", 0, "b")], "SNAPSHOT_INVALID", /where a was expected/],
    ["short file", [header([{ name: "a", size: 3 }]), data("a", 0, "ab"), end("a", "abc")], "SNAPSHOT_CORRUPT", /received 2 bytes/],
    ["bad checksum", [header([{ name: "a", size: 3 }]), data("a", 0, "abc"), end("a", "abc", 1)], "SNAPSHOT_CORRUPT", /CRC32/],
    ["missing file", [header([{ name: "a", size: 1 }, { name: "b", size: 0 }]), data("a", 0, "a"), end("a", "a")], "SNAPSHOT_INVALID", /after 1 of 2 files/],
    ["no header at all", [], "SNAPSHOT_INVALID", /without a header/],
  ];
  for (const [what, chunks, code, pattern] of cases) {
    const dir = tempDir("snap-bad");
    await assert.rejects(receiveSnapshot(chunksOf(chunks), dir, { from: 1, to: 2 }), (e: unknown) => e instanceof TransportError && e.code === code && pattern.test(e.message), what);
    assert.deepEqual(readdirSync(dir), [], what);
  }
  const dir = tempDir("snap-good");
  const got = await receiveSnapshot(chunksOf([header([{ name: "a", size: 3 }, { name: "empty", size: 0 }]), data("a", 0, "ab"), data("a", 2, "c"), end("a", "abc"), end("empty", "")]), dir, { from: 1, to: 2 });
  assert.deepEqual([got.bytes, got.files, readdirSync(got.dir).sort()], [3, 2, ["a", "empty"]]);
  assert.ok(existsSync(join(got.dir, "empty")));
});
