/**
 * The dump stream without a server: flow control by bytes, endings (errors after the queued
 * events, close dropping them), the watchdog (2 periods, the longer start-up allowance, paused
 * time not counted), acks, and what the stream keeps of mysql2's buffers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { computeEventChecksum } from "../../binlog/checksum.ts";
import { EventFlag, EventType } from "../../binlog/event-type.ts";
import { writeEventHeader } from "../../binlog/header.ts";
import { BinlogDumpStream } from "./dump-stream.ts";
import type { DumpStreamOptions, DumpTransport } from "./dump-stream.ts";
import { HeartbeatTimeoutError, PrimaryDisconnectedError, PrimaryProtocolError, PrimaryStateError } from "./errors.ts";
import { DumpCoordinates, endsStartup, isArtificialEvent, isHeartbeatEvent } from "./events.ts";

class FakeTransport implements DumpTransport {
  calls: string[] = [];
  written: Buffer[] = [];
  pause(): void {
    this.calls.push("pause");
  }
  resume(): void {
    this.calls.push("resume");
  }
  write(bytes: Buffer): void {
    this.written.push(bytes);
  }
  destroy(): Promise<void> {
    this.calls.push("destroy");
    return Promise.resolve();
  }
}

interface EventSpec {
  type?: number;
  size?: number;
  logPos?: number;
  flags?: number;
  timestamp?: number;
  body?: Buffer;
  checksum?: boolean;
}

/** A well-formed event (with CRC32 when asked). */
function event(spec: EventSpec = {}): Buffer {
  const body = spec.body ?? Buffer.alloc(Math.max(0, (spec.size ?? 40) - 19 - (spec.checksum ? 4 : 0)), 0x5a);
  const size = 19 + body.length + (spec.checksum ? 4 : 0);
  const bytes = Buffer.alloc(size);
  writeEventHeader({ timestamp: spec.timestamp ?? 1_700_000_000, type: spec.type ?? EventType.WRITE_ROWS, serverId: 1, eventSize: size, logPos: spec.logPos ?? 1000, flags: spec.flags ?? 0 }, bytes);
  body.copy(bytes, 19);
  if (spec.checksum) bytes.writeUInt32LE(computeEventChecksum(bytes.subarray(0, size - 4)), size - 4);
  return bytes;
}

function packet(e: Buffer, semi?: { ack: boolean }): Buffer {
  return Buffer.concat([Buffer.from(semi ? [0, 0xef, semi.ack ? 1 : 0] : [0]), e]);
}

function stream(options: Partial<DumpStreamOptions> = {}): { s: BinlogDumpStream; t: FakeTransport } {
  const t = new FakeTransport();
  const s = new BinlogDumpStream(t, { semiSync: false, heartbeatPeriodMs: 0, startTimeoutMs: 0, highWaterBytes: 1 << 20, ...options });
  return { s, t };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("the socket pauses at the high-water mark of queued bytes and resumes at half of it", async () => {
  const { s, t } = stream({ highWaterBytes: 1000 });
  for (let i = 0; i < 4; i++) s.receivePacket(packet(event({ size: 200 })));
  assert.equal(s.bufferedBytes, 800);
  assert.deepEqual(t.calls, []);
  s.receivePacket(packet(event({ size: 200 })));
  assert.deepEqual(t.calls, ["pause"]);
  // Packets mysql2 had already parsed still come in while paused: queued, no second pause.
  s.receivePacket(packet(event({ size: 200 })));
  assert.deepEqual(t.calls, ["pause"]);
  assert.equal(s.bufferedBytes, 1200);
  await s.next();
  await s.next();
  assert.deepEqual(t.calls, ["pause"], "800 bytes left: still above 500");
  await s.next();
  await s.next();
  assert.equal(s.bufferedBytes, 400);
  assert.deepEqual(t.calls, ["pause", "resume"]);
  await s.close();
});

test("an error ends the stream after the events received before it; the connection is destroyed once", async () => {
  const { s, t } = stream();
  const a = event({ logPos: 100 });
  const b = event({ logPos: 200 });
  s.receivePacket(packet(a));
  s.receivePacket(packet(b));
  const failure = new PrimaryDisconnectedError("gone");
  s.fail(failure);
  s.fail(new Error("a second failure is ignored"));
  s.receivePacket(packet(event()));
  const seen: Buffer[] = [];
  await assert.rejects(async () => {
    for await (const e of s) seen.push(e.bytes);
  }, failure);
  assert.deepEqual(seen, [a, b]);
  assert.deepEqual(await s.next(), { done: true, value: undefined });
  assert.deepEqual(t.calls, ["destroy"]);
});

test("close() ends the iteration at once and drops what is queued; a waiting consumer is released", async () => {
  const { s, t } = stream();
  const waiting = s.next();
  s.receivePacket(packet(event()));
  assert.equal((await waiting).done, false);
  s.receivePacket(packet(event()));
  const pending = (async () => {
    await s.next();
    return s.next();
  })();
  await s.close();
  assert.deepEqual(await pending, { done: true, value: undefined });
  assert.equal(s.bufferedBytes, 0);
  assert.deepEqual(t.calls, ["destroy"]);
  await s.close();
  assert.deepEqual(t.calls, ["destroy"]);
});

test("a malformed packet fails the stream with a protocol error", async () => {
  const { s } = stream({ semiSync: true });
  s.receivePacket(packet(event()));
  await assert.rejects(s.next(), PrimaryProtocolError);
});

test("leaving a for-await loop closes the stream", async () => {
  const { s, t } = stream();
  s.receivePacket(packet(event()));
  s.receivePacket(packet(event()));
  for await (const e of s) {
    assert.ok(e.bytes);
    break;
  }
  assert.deepEqual(t.calls, ["destroy"]);
  assert.equal(s.ended, true);
});

test("watchdog: 2 periods of silence fail the stream; packets in between keep it alive", async () => {
  const { s, t } = stream({ heartbeatPeriodMs: 50 });
  const began = performance.now();
  // A GTID event: the primary has found the start, the allowance is now 2 periods.
  s.receivePacket(packet(event({ type: EventType.GTID })));
  for (let i = 0; i < 6; i++) {
    await sleep(40);
    s.receivePacket(packet(event({ type: EventType.HEARTBEAT, timestamp: 0 })));
  }
  const lastAt = performance.now();
  assert.equal(s.ended, false, "alive while heartbeats come every 40 ms");
  const seen: boolean[] = [];
  await assert.rejects(async () => {
    for await (const e of s) seen.push(e.heartbeat);
  }, HeartbeatTimeoutError);
  const silent = performance.now() - lastAt;
  // Lower bound exact; the upper one leaves room for a loaded machine's late timers.
  assert.ok(silent >= 100 && silent < 500, `failed after ${Math.round(silent)} ms of silence`);
  assert.deepEqual(seen, [false, true, true, true, true, true, true]);
  assert.deepEqual(t.calls, ["destroy"]);
  assert.ok(performance.now() - began > 300);
});

test("watchdog: before the primary has found the start, the start-up allowance applies", async () => {
  const { s } = stream({ heartbeatPeriodMs: 25, startTimeoutMs: 300 });
  const began = performance.now();
  s.receivePacket(packet(event({ type: EventType.ROTATE, flags: EventFlag.ARTIFICIAL, logPos: 0, timestamp: 0 })));
  s.receivePacket(packet(event({ type: EventType.FORMAT_DESCRIPTION })));
  s.receivePacket(packet(event({ type: EventType.MARIADB_GTID_LIST })));
  s.receivePacket(packet(event({ type: EventType.MARIADB_BINLOG_CHECKPOINT })));
  await sleep(150);
  assert.equal(s.ended, false, "still scanning: 150 ms of silence (6 periods) is allowed");
  let drained = 0;
  await assert.rejects(async () => {
    for await (const _ of s) drained++;
  }, HeartbeatTimeoutError);
  assert.equal(drained, 4);
  const failedAfter = performance.now() - began;
  assert.ok(failedAfter >= 290 && failedAfter < 700, `failed after ${Math.round(failedAfter)} ms`);
});

test("watchdog: time paused for a slow consumer does not count", async () => {
  const { s, t } = stream({ heartbeatPeriodMs: 30, highWaterBytes: 100 });
  s.receivePacket(packet(event({ type: EventType.GTID, size: 120 })));
  assert.deepEqual(t.calls, ["pause"]);
  await sleep(200);
  assert.equal(s.ended, false, "paused 200 ms (> 2 periods) without failing");
  const resumedAt = performance.now();
  await s.next();
  assert.deepEqual(t.calls, ["pause", "resume"]);
  await assert.rejects(s.next(), HeartbeatTimeoutError);
  const after = performance.now() - resumedAt;
  assert.ok(after >= 60 && after < 450, `failed ${Math.round(after)} ms after resuming`);
});

test("ack() writes 0xEF + position + file name as a packet with sequence id 0; refused without semi-sync or after the end", async () => {
  const { s, t } = stream({ semiSync: true });
  s.receivePacket(packet(event({ type: EventType.XID, logPos: 809 }), { ack: true }));
  const e = await s.next();
  assert.equal(e.value?.ackRequested, true);
  s.ack("mariadb-bin.000002", 809);
  const payload = Buffer.concat([Buffer.from([0xef, 0x29, 0x03, 0, 0, 0, 0, 0, 0]), Buffer.from("mariadb-bin.000002")]);
  assert.deepEqual(t.written, [Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload])]);
  await s.close();
  assert.throws(() => s.ack("mariadb-bin.000002", 900), PrimaryStateError);
  const plain = stream().s;
  assert.throws(() => plain.ack("f", 4), /without semi-sync/);
  await plain.close();
});

test("small events are copied out of shared socket buffers; an event owning its buffer is kept as is", async () => {
  const { s } = stream();
  const chunk = Buffer.alloc(64 * 1024);
  const small = event({ size: 50 });
  packet(small).copy(chunk, 100);
  s.receivePacket(chunk.subarray(100, 100 + 51));
  const big = packet(event({ size: 100_000 }));
  s.receivePacket(big);
  const first = (await s.next()).value!;
  assert.deepEqual(first.bytes, small);
  assert.notEqual(first.bytes.buffer, chunk.buffer);
  chunk.fill(0);
  assert.deepEqual(first.bytes, small, "unaffected by reuse of the socket buffer");
  const second = (await s.next()).value!;
  assert.equal(second.bytes.buffer, big.buffer);
  await s.close();
});

test("artificial, heartbeat and start-up classification", () => {
  const fakeRotate = event({ type: EventType.ROTATE, flags: EventFlag.ARTIFICIAL, logPos: 0, timestamp: 0 });
  const realRotate = event({ type: EventType.ROTATE, logPos: 870 });
  const heartbeat = event({ type: EventType.HEARTBEAT, timestamp: 0 });
  const heartbeatV2 = event({ type: EventType.HEARTBEAT_V2, timestamp: 0 });
  const fakeList = event({ type: EventType.MARIADB_GTID_LIST, flags: EventFlag.ARTIFICIAL, timestamp: 0 });
  const fileList = event({ type: EventType.MARIADB_GTID_LIST });
  const fde = event({ type: EventType.FORMAT_DESCRIPTION });
  const gtid = event({ type: EventType.MARIADB_GTID, flags: EventFlag.SUPPRESS_USE });
  // MariaDB 11.4+ writes log_pos 0 inside transactions: not artificial.
  const zeroPos = event({ type: EventType.WRITE_ROWS, logPos: 0 });
  assert.deepEqual([fakeRotate, realRotate, heartbeat, heartbeatV2, fakeList, fileList, fde, gtid, zeroPos].map(isArtificialEvent), [true, false, true, true, true, false, false, false, false]);
  assert.deepEqual([heartbeat, heartbeatV2, fakeRotate].map(isHeartbeatEvent), [true, true, false]);
  assert.deepEqual([fakeRotate, realRotate, fde, fileList, event({ type: EventType.PREVIOUS_GTIDS }), event({ type: EventType.MARIADB_BINLOG_CHECKPOINT })].map(endsStartup), [false, false, false, false, false, false]);
  assert.deepEqual([fakeList, gtid, heartbeat, event({ type: EventType.GTID })].map(endsStartup), [true, true, true, true]);
});

test("DumpCoordinates follow ROTATEs (with or without CRC), heartbeats and log_pos", () => {
  const rotateBody = (file: string, pos: bigint) => {
    const b = Buffer.alloc(8 + file.length);
    b.writeBigUInt64LE(pos);
    b.write(file, 8);
    return b;
  };
  const c = new DumpCoordinates();
  c.update(event({ type: EventType.ROTATE, flags: EventFlag.ARTIFICIAL, logPos: 0, timestamp: 0, body: rotateBody("mariadb-bin.000001", 4n), checksum: true }));
  assert.deepEqual({ ...c }, { file: "mariadb-bin.000001", position: 4 });
  c.update(event({ type: EventType.FORMAT_DESCRIPTION, logPos: 256 }));
  c.update(event({ type: EventType.XID, logPos: 821 }));
  assert.deepEqual({ ...c }, { file: "mariadb-bin.000001", position: 821 });
  c.update(event({ type: EventType.WRITE_ROWS, logPos: 0 }));
  assert.equal(c.position, 821, "log_pos 0 leaves the position");
  // The primary's own ROTATE at the end of a file, here from a server without checksums.
  c.update(event({ type: EventType.ROTATE, logPos: 870, body: rotateBody("mariadb-bin.000002", 4n) }));
  assert.deepEqual({ ...c }, { file: "mariadb-bin.000002", position: 4 });
  c.update(event({ type: EventType.HEARTBEAT, logPos: 599, timestamp: 0, body: Buffer.from("mariadb-bin.000002"), checksum: true }));
  assert.deepEqual({ ...c }, { file: "mariadb-bin.000002", position: 599 });
  const v2 = Buffer.concat([Buffer.from([1, 9]), Buffer.from("binlog.07"), Buffer.from([2, 9, 0xfe, 0, 0, 0, 0, 1, 0, 0, 0]), Buffer.from([0])]);
  c.update(event({ type: EventType.HEARTBEAT_V2, logPos: 0, timestamp: 0, body: v2, checksum: true }));
  assert.deepEqual({ ...c }, { file: "binlog.07", position: 2 ** 32 });
});
