/**
 * The replica-side command packets and the framing around them, as pure functions over bytes, so
 * each layout can be checked byte for byte without a server (docs: replication-protocol.md §1-2).
 *
 * Payloads here start with the command byte; `framePayload` adds the 4-byte packet headers.
 */
import type { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";
import { EVENT_HEADER_LENGTH } from "../../binlog/header.ts";
import { PrimaryProtocolError } from "./errors.ts";
import type { ServerErrorDetails } from "./errors.ts";

export const Command = {
  BINLOG_DUMP: 0x12,
  REGISTER_SLAVE: 0x15,
  BINLOG_DUMP_GTID: 0x1e,
} as const;

/** The largest payload one packet carries; longer payloads continue in the next packet. */
export const MAX_PACKET_PAYLOAD = 0xff_ffff;

/** First byte of a semi-sync packet, both directions (kPacketMagicNum). */
export const SEMI_SYNC_MAGIC = 0xef;
/** Flag byte after the magic: the primary waits for an ack of this event (kPacketFlagSync). */
export const SEMI_SYNC_ACK_WANTED = 0x01;

/**
 * COM_BINLOG_DUMP flags. MariaDB only sends ANNOTATE_ROWS events to a replica that sets
 * BINLOG_SEND_ANNOTATE_ROWS_EVENT; without it the primary drops them from the stream and the bytes
 * we store would differ from its binlog. 0x01 (BINLOG_DUMP_NON_BLOCK) makes the primary send EOF at
 * the end of the binlog instead of waiting; a replica never wants that.
 */
export const BinlogDumpFlag = {
  NON_BLOCK: 0x01,
  MARIADB_SEND_ANNOTATE_ROWS: 0x02,
} as const;

/** COM_BINLOG_DUMP_GTID flags (MySQL). 0x02 asks for HEARTBEAT_V2 events instead of v1. */
export const BinlogDumpGtidFlag = {
  NON_BLOCK: 0x01,
  HEARTBEAT_V2: 0x02,
} as const;

/**
 * Cuts a payload into packets with sequence ids from `firstSequenceId` (mod 256). A payload of
 * 0xFFFFFF bytes or more continues in further packets; one that ends exactly on a multiple of
 * 0xFFFFFF is followed by an empty packet so the reader knows it is over.
 */
export function framePayload(payload: Uint8Array, firstSequenceId: number): { bytes: Buffer; packets: number } {
  const parts: Buffer[] = [];
  let sequenceId = firstSequenceId & 0xff;
  let offset = 0;
  let packets = 0;
  while (true) {
    const length = Math.min(MAX_PACKET_PAYLOAD, payload.length - offset);
    const header = Buffer.allocUnsafe(4);
    header.writeUIntLE(length, 0, 3);
    header[3] = sequenceId;
    parts.push(header, Buffer.from(payload.buffer, payload.byteOffset + offset, length));
    packets++;
    sequenceId = (sequenceId + 1) & 0xff;
    offset += length;
    if (length < MAX_PACKET_PAYLOAD) break;
  }
  return { bytes: Buffer.concat(parts), packets };
}

export interface BinlogDumpGtidRequest {
  /** BinlogDumpGtidFlag bits; 0 for a blocking dump with v1 heartbeats. */
  flags: number;
  /** Our server_id as a replica: the primary kills an older dump thread with the same id. */
  serverId: number;
  /** Empty for GTID auto-positioning. */
  fileName: string;
  /** 4 (just past the magic) for GTID auto-positioning. */
  position: bigint;
  /** The GTIDs we already have: the primary sends every transaction not in this set. */
  executed: MysqlGtidSet;
}

/**
 * COM_BINLOG_DUMP_GTID (0x1e): `u8 0x1e, u16 flags, u32 server_id, u32 name_len, name, u64 pos,
 * u32 data_len, data` where data is the binary GTID set (MysqlGtidSet.encode()).
 */
export function encodeBinlogDumpGtid(request: BinlogDumpGtidRequest): Buffer {
  const name = Buffer.from(request.fileName, "utf8");
  const data = request.executed.encode();
  const out = Buffer.alloc(1 + 2 + 4 + 4 + name.length + 8 + 4 + data.length);
  let at = out.writeUInt8(Command.BINLOG_DUMP_GTID, 0);
  at = out.writeUInt16LE(request.flags, at);
  at = out.writeUInt32LE(request.serverId >>> 0, at);
  at = out.writeUInt32LE(name.length, at);
  at += name.copy(out, at);
  at = out.writeBigUInt64LE(request.position, at);
  at = out.writeUInt32LE(data.length, at);
  out.set(data, at);
  return out;
}

export interface BinlogDumpRequest {
  /** Ignored by MariaDB in GTID mode (@slave_connect_state decides); 4 by convention. */
  position: number;
  /** BinlogDumpFlag bits. */
  flags: number;
  serverId: number;
  /** Ignored by MariaDB in GTID mode; empty. */
  fileName: string;
}

/** COM_BINLOG_DUMP (0x12): `u8 0x12, u32 pos, u16 flags, u32 server_id, file name (rest)`. */
export function encodeBinlogDump(request: BinlogDumpRequest): Buffer {
  const name = Buffer.from(request.fileName, "utf8");
  const out = Buffer.alloc(1 + 4 + 2 + 4 + name.length);
  let at = out.writeUInt8(Command.BINLOG_DUMP, 0);
  at = out.writeUInt32LE(request.position >>> 0, at);
  at = out.writeUInt16LE(request.flags, at);
  at = out.writeUInt32LE(request.serverId >>> 0, at);
  name.copy(out, at);
  return out;
}

export interface RegisterSlaveRequest {
  serverId: number;
  /** What SHOW SLAVE HOSTS shows as Host; empty is allowed. */
  reportHost: string;
  reportUser: string;
  reportPassword: string;
  reportPort: number;
}

/**
 * COM_REGISTER_SLAVE (0x15): `u8 0x15, u32 server_id, u8 len + host, u8 len + user,
 * u8 len + password, u16 port, u32 rank (0), u32 master_id (0)`. The servers read the three
 * strings with a one-byte length (the same bytes as a length-encoded string below 251), so longer
 * strings are refused here rather than sent malformed.
 */
export function encodeRegisterSlave(request: RegisterSlaveRequest): Buffer {
  const strings = [request.reportHost, request.reportUser, request.reportPassword].map((s, i) => {
    const bytes = Buffer.from(s, "utf8");
    if (bytes.length > 250) throw new RangeError(`COM_REGISTER_SLAVE ${["host", "user", "password"][i]} is ${bytes.length} bytes; at most 250 fit`);
    return bytes;
  });
  const out = Buffer.alloc(1 + 4 + strings.reduce((n, s) => n + 1 + s.length, 0) + 2 + 4 + 4);
  let at = out.writeUInt8(Command.REGISTER_SLAVE, 0);
  at = out.writeUInt32LE(request.serverId >>> 0, at);
  for (const s of strings) {
    at = out.writeUInt8(s.length, at);
    at += s.copy(out, at);
  }
  at = out.writeUInt16LE(request.reportPort & 0xffff, at);
  at = out.writeUInt32LE(0, at); // rank: unused by the servers
  out.writeUInt32LE(0, at); // master_id: the servers fill in their own
  return out;
}

/**
 * The semi-sync ack: `u8 0xEF, u64 position, file name`, sent as a packet of its own with
 * sequence id 0 (the primary's ack receiver reads it as a fresh command, not as part of the
 * dump's packet sequence). `position` is the end position (log_pos) of the event that asked for it.
 */
export function encodeSemiSyncAck(fileName: string, position: bigint | number): Buffer {
  const name = Buffer.from(fileName, "utf8");
  const out = Buffer.alloc(1 + 8 + name.length);
  out[0] = SEMI_SYNC_MAGIC;
  out.writeBigUInt64LE(BigInt(position), 1);
  name.copy(out, 9);
  return out;
}

/** An ERR packet: `0xFF, u16 errno, ['#' + 5-byte SQLSTATE], message`. */
export function decodeErrorPacket(payload: Uint8Array): ServerErrorDetails {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (bytes.length < 3 || bytes[0] !== 0xff) throw new PrimaryProtocolError(`not an error packet: ${bytes.subarray(0, 16).toString("hex")}`);
  const errno = bytes.readUInt16LE(1);
  let at = 3;
  let sqlState = "";
  if (bytes[at] === 0x23 && bytes.length >= at + 6) {
    sqlState = bytes.toString("latin1", at + 1, at + 6);
    at += 6;
  }
  return { errno, sqlState, serverMessage: bytes.toString("utf8", at) };
}

export interface EventPacket {
  /** The event: header through checksum, a view into the payload. */
  event: Buffer;
  ackRequested: boolean;
}

/**
 * Takes the event out of one binlog stream packet: `0x00` [+ `0xEF, flag` when semi-sync is on] +
 * event. The event's own size field must match what is left: a mismatch means the framing is off
 * (e.g. a semi-sync prefix we did not expect), and guessing on would store garbage.
 */
export function decodeEventPacket(payload: Buffer, semiSync: boolean): EventPacket {
  if (payload[0] !== 0x00) throw new PrimaryProtocolError(`binlog stream packet starts with 0x${(payload[0] ?? 0).toString(16)}, expected 0x00`);
  let at = 1;
  let ackRequested = false;
  if (semiSync) {
    if (payload[1] !== SEMI_SYNC_MAGIC || payload.length < 3) {
      throw new PrimaryProtocolError(`semi-sync binlog packet lacks the 0xEF header (starts ${payload.subarray(0, 8).toString("hex")})`);
    }
    ackRequested = (payload[2]! & SEMI_SYNC_ACK_WANTED) !== 0;
    at = 3;
  }
  const event = payload.subarray(at);
  if (event.length < EVENT_HEADER_LENGTH) throw new PrimaryProtocolError(`binlog stream packet holds ${event.length} bytes, less than an event header`);
  const size = event.readUInt32LE(9);
  if (size !== event.length) {
    throw new PrimaryProtocolError(`event of type ${event[4]} announces ${size} bytes but its packet holds ${event.length}`);
  }
  return { event, ackRequested };
}
