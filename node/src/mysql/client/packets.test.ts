/**
 * The command packets a replica sends, byte for byte against the layouts in
 * docs/replication-protocol.md §1-2, and the framing of payloads of 16 MiB and more.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";
import { PrimaryProtocolError } from "./errors.ts";
import {
  decodeErrorPacket,
  decodeEventPacket,
  encodeBinlogDump,
  encodeBinlogDumpGtid,
  encodeRegisterSlave,
  encodeSemiSyncAck,
  framePayload,
  MAX_PACKET_PAYLOAD,
} from "./packets.ts";

const UUID_A = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const UUID_B = "ffffffff-0000-1111-2222-333333333333";

test("COM_BINLOG_DUMP_GTID: flags, server_id, empty name, position 4, then the binary GTID set", () => {
  const executed = MysqlGtidSet.parse(`${UUID_B}:7, ${UUID_A}:1-5:10-12`);
  const packet = encodeBinlogDumpGtid({ flags: 0, serverId: 0x01020304, fileName: "", position: 4n, executed });

  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  // The set, sorted by UUID: A with intervals [1,6) and [10,13), B with [7,8); ends exclusive.
  const data = Buffer.concat([
    u64(2),
    Buffer.from(UUID_A.replaceAll("-", ""), "hex"), u64(2), u64(1), u64(6), u64(10), u64(13),
    Buffer.from(UUID_B.replaceAll("-", ""), "hex"), u64(1), u64(7), u64(8),
  ]);
  const expected = Buffer.concat([
    Buffer.from([0x1e]), // COM_BINLOG_DUMP_GTID
    Buffer.from([0x00, 0x00]), // flags: blocking, HEARTBEAT v1
    Buffer.from([0x04, 0x03, 0x02, 0x01]), // server_id
    Buffer.from([0, 0, 0, 0]), // name length 0, no name
    u64(4), // position
    Buffer.from([data.length, 0, 0, 0]), // data length
    data,
  ]);
  assert.equal(data.length, 8 + (16 + 8 + 32) + (16 + 8 + 16));
  assert.deepEqual(packet, expected);

  // The same fields read back at the documented offsets.
  assert.equal(packet.readUInt16LE(1), 0);
  assert.equal(packet.readUInt32LE(3), 0x01020304);
  assert.equal(packet.readUInt32LE(7), 0);
  assert.equal(packet.readBigUInt64LE(11), 4n);
  assert.equal(packet.readUInt32LE(19), packet.length - 23);
  assert.ok(MysqlGtidSet.decode(packet.subarray(23)).equals(executed));
});

test("COM_BINLOG_DUMP_GTID with an empty set and a file name; flags are written as given", () => {
  const packet = encodeBinlogDumpGtid({ flags: 0x0002, serverId: 9, fileName: "binlog.000003", position: 0x1_0000_0004n, executed: MysqlGtidSet.empty() });
  assert.equal(packet[0], 0x1e);
  assert.equal(packet.readUInt16LE(1), 2);
  assert.equal(packet.readUInt32LE(3), 9);
  assert.equal(packet.readUInt32LE(7), 13);
  assert.equal(packet.toString("utf8", 11, 24), "binlog.000003");
  assert.equal(packet.readBigUInt64LE(24), 0x1_0000_0004n);
  assert.equal(packet.readUInt32LE(32), 8);
  assert.deepEqual(packet.subarray(36), Buffer.alloc(8)); // n_sids = 0
  assert.equal(packet.length, 44);
});

test("COM_BINLOG_DUMP: u32 position, u16 flags, u32 server_id, file name", () => {
  const packet = encodeBinlogDump({ position: 4, flags: 0x02, serverId: 4_000_000_000, fileName: "" });
  assert.deepEqual(packet, Buffer.from([0x12, 4, 0, 0, 0, 2, 0, 0x00, 0x28, 0x6b, 0xee]));
  const named = encodeBinlogDump({ position: 1234, flags: 0, serverId: 1, fileName: "mariadb-bin.000002" });
  assert.equal(named.readUInt32LE(1), 1234);
  assert.equal(named.toString("utf8", 11), "mariadb-bin.000002");
});

test("COM_REGISTER_SLAVE: one-byte lengths, port, rank 0, master_id 0; over-long strings refused", () => {
  const packet = encodeRegisterSlave({ serverId: 77, reportHost: "kb-0", reportUser: "u", reportPassword: "", reportPort: 3307 });
  assert.deepEqual(
    packet,
    Buffer.from([0x15, 77, 0, 0, 0, 4, ...Buffer.from("kb-0"), 1, ...Buffer.from("u"), 0, 0xeb, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0]),
  );
  assert.throws(() => encodeRegisterSlave({ serverId: 1, reportHost: "h".repeat(251), reportUser: "", reportPassword: "", reportPort: 0 }), RangeError);
});

test("semi-sync ack: 0xEF, u64 position, file name; framed with sequence id 0", () => {
  const ack = encodeSemiSyncAck("mariadb-bin.000002", 809);
  assert.deepEqual(ack, Buffer.concat([Buffer.from([0xef, 0x29, 0x03, 0, 0, 0, 0, 0, 0]), Buffer.from("mariadb-bin.000002")]));
  const { bytes, packets } = framePayload(ack, 0);
  assert.equal(packets, 1);
  assert.deepEqual(bytes.subarray(0, 4), Buffer.from([ack.length, 0, 0, 0]));
  assert.deepEqual(bytes.subarray(4), ack);
});

test("framing: payloads of 0xFFFFFF bytes and more are split, an exact multiple ends with an empty packet", () => {
  const frames = (size: number, seq: number) => {
    const payload = Buffer.alloc(size, 0xab);
    const { bytes, packets } = framePayload(payload, seq);
    const headers: Array<[number, number]> = [];
    let at = 0;
    const body: Buffer[] = [];
    while (at < bytes.length) {
      const length = bytes.readUIntLE(at, 3);
      headers.push([length, bytes[at + 3]!]);
      body.push(bytes.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    assert.equal(packets, headers.length);
    assert.ok(Buffer.concat(body).equals(payload));
    return headers;
  };
  assert.deepEqual(frames(0, 0), [[0, 0]]);
  assert.deepEqual(frames(10, 5), [[10, 5]]);
  assert.deepEqual(frames(MAX_PACKET_PAYLOAD - 1, 0), [[MAX_PACKET_PAYLOAD - 1, 0]]);
  assert.deepEqual(frames(MAX_PACKET_PAYLOAD, 0), [[MAX_PACKET_PAYLOAD, 0], [0, 1]]);
  assert.deepEqual(frames(MAX_PACKET_PAYLOAD + 1, 255), [[MAX_PACKET_PAYLOAD, 255], [1, 0]]);
  assert.deepEqual(frames(2 * MAX_PACKET_PAYLOAD, 3), [[MAX_PACKET_PAYLOAD, 3], [MAX_PACKET_PAYLOAD, 4], [0, 5]]);
});

function event(size: number): Buffer {
  const e = Buffer.alloc(size, 0x11);
  e.writeUInt32LE(size, 9);
  return e;
}

test("event packets: 0x00 + event, or 0x00 0xEF flag + event under semi-sync; sizes must agree", () => {
  const e = event(40);
  const plain = decodeEventPacket(Buffer.concat([Buffer.from([0]), e]), false);
  assert.deepEqual(plain.event, e);
  assert.equal(plain.ackRequested, false);

  const wanted = decodeEventPacket(Buffer.concat([Buffer.from([0, 0xef, 0x01]), e]), true);
  assert.deepEqual(wanted.event, e);
  assert.equal(wanted.ackRequested, true);
  assert.equal(decodeEventPacket(Buffer.concat([Buffer.from([0, 0xef, 0x00]), e]), true).ackRequested, false);

  // A semi-sync header where none was asked for (or the reverse) shows as a size mismatch.
  assert.throws(() => decodeEventPacket(Buffer.concat([Buffer.from([0, 0xef, 0x01]), e]), false), PrimaryProtocolError);
  assert.throws(() => decodeEventPacket(Buffer.concat([Buffer.from([0]), e]), true), PrimaryProtocolError);
  assert.throws(() => decodeEventPacket(Buffer.concat([Buffer.from([0]), e.subarray(0, 30)]), false), /announces 40 bytes but its packet holds 30/);
  assert.throws(() => decodeEventPacket(Buffer.from([0, 1, 2]), false), /less than an event header/);
});

test("error packets: errno, SQLSTATE and message", () => {
  const message = "Could not find GTID state requested by slave in any binlog files.";
  const withState = Buffer.concat([Buffer.from([0xff, 0xd4, 0x04]), Buffer.from("#HY000"), Buffer.from(message)]);
  assert.deepEqual(decodeErrorPacket(withState), { errno: 1236, sqlState: "HY000", serverMessage: message });
  assert.deepEqual(decodeErrorPacket(Buffer.concat([Buffer.from([0xff, 0x15, 0x04]), Buffer.from("Access denied")])), {
    errno: 1045,
    sqlState: "",
    serverMessage: "Access denied",
  });
  assert.throws(() => decodeErrorPacket(Buffer.from([0x00, 1, 2])), PrimaryProtocolError);
});
