import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeEvent, encodeEvent, checkEventChecksum, type EventBody } from "./codec.ts";
import { buildEvent } from "./build.ts";
import { defaultFormat } from "./format.ts";
import { ChecksumAlgorithm } from "./checksum.ts";
import { EventFlag, EventType } from "./event-type.ts";
import { buildHeartbeatV2 } from "./events/heartbeat.ts";
import { buildTransactionPayload, decompressTransactionPayload } from "./events/transaction-payload.ts";
import { BinlogError } from "./errors.ts";
import { zstdCompressSync } from "node:zlib";

const crc = defaultFormat(ChecksumAlgorithm.CRC32);
const plain = defaultFormat(ChecksumAlgorithm.OFF);

function roundTrip(body: EventBody, type?: number): EventBody {
  for (const format of [crc, plain]) {
    const { bytes } = buildEvent(body, { type, timestamp: 1, serverId: 9, logPos: 100 }, format);
    const decoded = decodeEvent(bytes, format);
    assert.ok(encodeEvent(decoded, format).equals(bytes));
    assert.equal(checkEventChecksum(bytes, format), format === crc ? true : undefined);
  }
  return decodeEvent(buildEvent(body, { type }, crc).bytes, crc).body;
}

test("a fake rotate as a primary sends it: timestamp 0, log_pos 0, ARTIFICIAL", () => {
  const { bytes } = buildEvent({ kind: "rotate", position: 4n, nextFile: "mysql-bin.000042" }, { flags: EventFlag.ARTIFICIAL }, crc);
  const e = decodeEvent(bytes, crc);
  assert.deepEqual([e.header.timestamp, e.header.logPos, e.header.flags, e.header.type], [0, 0, EventFlag.ARTIFICIAL, EventType.ROTATE]);
  assert.deepEqual(e.body, { kind: "rotate", position: 4n, nextFile: "mysql-bin.000042" });
  assert.equal(bytes.length, 19 + 8 + 16 + 4);
});

test("HEARTBEAT_V2 carries positions beyond 4 GiB", () => {
  const body = roundTrip(buildHeartbeatV2("binlog.000007", 5n * 2n ** 32n + 17n));
  assert.equal(body.kind, "heartbeatV2");
  if (body.kind === "heartbeatV2") assert.deepEqual([body.logFile, body.position, body.endMark], ["binlog.000007", 5n * 2n ** 32n + 17n, true]);
});

test("MySQL GTID with every optional field, and with original timestamp/version present", () => {
  const full: EventBody = {
    kind: "mysqlGtid", anonymous: false, flags: 1, uuid: "3e11fa47-71ca-11e1-9e33-c80aa9429562", gno: 2n ** 62n,
    logicalClock: { ltType: 2, lastCommitted: 5n, sequenceNumber: 6n }, immediateCommitTimestamp: 1700000000000000n,
    originalCommitTimestamp: 1690000000000000n, transactionLength: 70000n, immediateServerVersion: 80040,
    originalServerVersion: 50744, commitGroupTicket: 3n, trailing: Buffer.alloc(0),
  };
  assert.deepEqual(roundTrip(full), full);
  const v56: EventBody = { kind: "mysqlGtid", anonymous: false, flags: 1, uuid: full.uuid, gno: 1n, trailing: Buffer.alloc(0) };
  assert.deepEqual(roundTrip(v56), v56);
});

test("MariaDB GTID: commit id, XA xid, padding to 19 bytes", () => {
  const g: EventBody = { kind: "mariadbGtid", seq: 42n, domain: 3, flags2: 0x02 | 0x40, commitId: 99n, xid: { formatId: 1, gtrid: Buffer.from("gt"), bqual: Buffer.from("b") }, trailing: Buffer.alloc(0) };
  assert.deepEqual(roundTrip(g), g);
  const { bytes } = buildEvent({ kind: "mariadbGtid", seq: 1n, domain: 0, flags2: 1, trailing: Buffer.alloc(0) }, {}, plain);
  assert.equal(bytes.length, 19 + 19, "a 13-byte body is padded to 19");
});

test("GTID_LIST, BINLOG_CHECKPOINT and XID round trip", () => {
  const list: EventBody = { kind: "mariadbGtidList", flags: 0, list: [{ domain: 0, serverId: 1, seq: 10n }, { domain: 2, serverId: 7, seq: 2n ** 40n }], trailing: Buffer.alloc(0) };
  assert.deepEqual(roundTrip(list), list);
  assert.deepEqual(roundTrip({ kind: "mariadbBinlogCheckpoint", logFile: "mariadb-bin.000003" }), { kind: "mariadbBinlogCheckpoint", logFile: "mariadb-bin.000003" });
  assert.deepEqual(roundTrip({ kind: "xid", xid: 2n ** 63n + 1n }), { kind: "xid", xid: 2n ** 63n + 1n });
});

test("TRANSACTION_PAYLOAD: built, decompressed, and refused when it lies about its size", () => {
  const inner = Buffer.alloc(300, 1);
  const body = buildTransactionPayload(0, BigInt(inner.length), zstdCompressSync(inner));
  const decoded = roundTrip(body);
  assert.equal(decoded.kind, "transactionPayload");
  if (decoded.kind === "transactionPayload") assert.ok(decompressTransactionPayload(decoded).equals(inner));
  const lying = buildTransactionPayload(0, 999n, zstdCompressSync(inner));
  assert.throws(() => decompressTransactionPayload(lying), (e: unknown) => e instanceof BinlogError && e.code === "BINLOG_CORRUPT");
});

test("an event whose header size disagrees with its length, or whose fields overrun it, is corrupt", () => {
  const { bytes } = buildEvent({ kind: "rotate", position: 4n, nextFile: "f" }, {}, plain);
  const wrongSize = Buffer.from(bytes);
  wrongSize.writeUInt32LE(bytes.length + 1, 9);
  assert.throws(() => decodeEvent(wrongSize, plain), (e: unknown) => e instanceof BinlogError && e.code === "BINLOG_CORRUPT");
  const shortXid = buildEvent({ kind: "opaque", bytes: Buffer.alloc(3) }, { type: EventType.ROTATE }, plain).bytes;
  assert.throws(() => decodeEvent(shortXid, plain), (e: unknown) => e instanceof BinlogError && e.code === "BINLOG_CORRUPT" && /ROTATE event/.test(e.message));
});
