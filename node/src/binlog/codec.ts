/**
 * Decoding and encoding of whole events. Decoding never alters bytes: every body keeps what it did
 * not interpret, so encodeEvent(decodeEvent(bytes)) gives the same bytes back. Kingbus stores and
 * serves the raw bytes; decoding is for indexing, inspection and synthesising artificial events.
 */
import { ChecksumAlgorithm, CHECKSUM_LENGTH, computeEventChecksum, storedChecksum } from "./checksum.ts";
import { BinlogError } from "./errors.ts";
import { EventType, eventTypeName } from "./event-type.ts";
import { postHeaderLength, type BinlogFormat } from "./format.ts";
import { EVENT_HEADER_LENGTH, readEventHeader, writeEventHeader, type EventHeader } from "./header.ts";
import { decodeFormatDescription, encodeFormatDescription, fdeBodyHasChecksumFields, type FormatDescriptionBody } from "./events/format-description.ts";
import { decodeHeartbeat, decodeHeartbeatV2, encodeHeartbeat, encodeHeartbeatV2, type HeartbeatBody, type HeartbeatV2Body } from "./events/heartbeat.ts";
import {
  decodeMariadbBinlogCheckpoint,
  decodeMariadbGtid,
  decodeMariadbGtidList,
  encodeMariadbBinlogCheckpoint,
  encodeMariadbGtid,
  encodeMariadbGtidList,
  type MariadbAnnotateRowsBody,
  type MariadbBinlogCheckpointBody,
  type MariadbGtidBody,
  type MariadbGtidListBody,
} from "./events/mariadb.ts";
import { decodeMysqlGtid, encodeMysqlGtid, type MysqlGtidBody } from "./events/mysql-gtid.ts";
import { decodeQuery, encodeQuery, QUERY_POST_HEADER_LENGTH, type QueryBody } from "./events/query.ts";
import { decodeRotate, encodeRotate, type RotateBody } from "./events/rotate.ts";
import { decodeTransactionPayload, encodeTransactionPayload, type TransactionPayloadBody } from "./events/transaction-payload.ts";
import { decodeXid, encodeXid, type XidBody } from "./events/xid.ts";

/** PREVIOUS_GTIDS (35): the binary GTID set, decoded by MysqlGtidSet.decode when needed. */
export interface PreviousGtidsBody {
  kind: "previousGtids";
  encodedSet: Buffer;
}

/** GTID_TAGGED_LOG_EVENT (42, MySQL 8.3+): mysql::serialization bytes, see gtid-tagged-event.ts. */
export interface TaggedGtidBody {
  kind: "taggedGtid";
  encoded: Buffer;
}

/** Any other event (rows, table maps, INTVAR/RAND/USER_VAR, unknown types): kept verbatim. */
export interface OpaqueBody {
  kind: "opaque";
  bytes: Buffer;
}

export type EventBody =
  | FormatDescriptionBody
  | RotateBody
  | QueryBody
  | XidBody
  | MysqlGtidBody
  | PreviousGtidsBody
  | TaggedGtidBody
  | TransactionPayloadBody
  | HeartbeatBody
  | HeartbeatV2Body
  | MariadbGtidBody
  | MariadbGtidListBody
  | MariadbBinlogCheckpointBody
  | MariadbAnnotateRowsBody
  | OpaqueBody;

export interface BinlogEvent<B extends EventBody = EventBody> {
  header: EventHeader;
  body: B;
  /** The stored CRC32 (or, on an FDE with checksums off, the 4 bytes where it would be). */
  checksum: number | undefined;
}

/** Where the body ends and whether a checksum trails it, for this event under this format. */
function checksumLength(bytes: Buffer, type: number, format: BinlogFormat): number {
  if (type === EventType.FORMAT_DESCRIPTION) {
    return fdeBodyHasChecksumFields(bytes.subarray(EVENT_HEADER_LENGTH)) ? CHECKSUM_LENGTH : 0;
  }
  return format.checksum === ChecksumAlgorithm.CRC32 ? CHECKSUM_LENGTH : 0;
}

/**
 * Whether the event's CRC32 matches, or undefined when it carries none under this format. The FDE
 * is judged by its own algorithm byte, the others by the format's.
 */
export function checkEventChecksum(bytes: Buffer, format: BinlogFormat): boolean | undefined {
  const type = bytes[4]!;
  if (type === EventType.FORMAT_DESCRIPTION) {
    if (checksumLength(bytes, type, format) === 0) return undefined;
    if (bytes[bytes.length - CHECKSUM_LENGTH - 1] !== ChecksumAlgorithm.CRC32) return undefined;
  } else if (format.checksum !== ChecksumAlgorithm.CRC32) {
    return undefined;
  }
  if (bytes.length < EVENT_HEADER_LENGTH + CHECKSUM_LENGTH) return false;
  return computeEventChecksum(bytes.subarray(0, bytes.length - CHECKSUM_LENGTH)) === storedChecksum(bytes);
}

export function decodeEvent(bytes: Buffer, format: BinlogFormat): BinlogEvent {
  const header = readEventHeader(bytes);
  if (header.eventSize !== bytes.length) {
    throw new BinlogError("BINLOG_CORRUPT", `${eventTypeName(header.type)} event of ${bytes.length} bytes says it has ${header.eventSize}`);
  }
  const trailer = checksumLength(bytes, header.type, format);
  if (bytes.length < EVENT_HEADER_LENGTH + trailer) {
    throw new BinlogError("BINLOG_TRUNCATED", `${eventTypeName(header.type)} event of ${bytes.length} bytes is shorter than its header and checksum`);
  }
  const body = bytes.subarray(EVENT_HEADER_LENGTH, bytes.length - trailer);
  try {
    return { header, body: decodeBody(header.type, body, format), checksum: trailer ? storedChecksum(bytes) : undefined };
  } catch (cause) {
    if (cause instanceof BinlogError) {
      // The event is whole (its size matched), so a field running past its end is damage, not a
      // short read: report it as corruption.
      const code = cause.code === "BINLOG_TRUNCATED" ? "BINLOG_CORRUPT" : cause.code;
      throw new BinlogError(code, `${eventTypeName(header.type)} event: ${cause.message} in the event`, { cause });
    }
    throw cause;
  }
}

function decodeBody(type: number, body: Buffer, format: BinlogFormat): EventBody {
  switch (type) {
    case EventType.FORMAT_DESCRIPTION:
      return decodeFormatDescription(body, fdeBodyHasChecksumFields(body));
    case EventType.ROTATE:
      return decodeRotate(body);
    case EventType.QUERY:
    case EventType.MARIADB_QUERY_COMPRESSED:
      return decodeQuery(body, postHeaderLength(format, EventType.QUERY, QUERY_POST_HEADER_LENGTH));
    case EventType.XID:
      // Some 5.x development builds reused code 16 for another event; only 8 bytes is an XID.
      return body.length === 8 ? decodeXid(body) : { kind: "opaque", bytes: body };
    case EventType.GTID:
    case EventType.ANONYMOUS_GTID:
      return decodeMysqlGtid(body, type === EventType.ANONYMOUS_GTID);
    case EventType.PREVIOUS_GTIDS:
      return { kind: "previousGtids", encodedSet: body };
    case EventType.GTID_TAGGED:
      return { kind: "taggedGtid", encoded: body };
    case EventType.TRANSACTION_PAYLOAD:
      return decodeTransactionPayload(body);
    case EventType.HEARTBEAT:
      return decodeHeartbeat(body);
    case EventType.HEARTBEAT_V2:
      return decodeHeartbeatV2(body);
    case EventType.MARIADB_GTID:
      return decodeMariadbGtid(body);
    case EventType.MARIADB_GTID_LIST:
      return decodeMariadbGtidList(body);
    case EventType.MARIADB_BINLOG_CHECKPOINT:
      return decodeMariadbBinlogCheckpoint(body);
    case EventType.MARIADB_ANNOTATE_ROWS:
      return { kind: "mariadbAnnotateRows", sql: body };
    default:
      return { kind: "opaque", bytes: body };
  }
}

export function encodeBody(body: EventBody): Buffer {
  switch (body.kind) {
    case "formatDescription":
      return encodeFormatDescription(body);
    case "rotate":
      return encodeRotate(body);
    case "query":
      return encodeQuery(body);
    case "xid":
      return encodeXid(body);
    case "mysqlGtid":
      return encodeMysqlGtid(body);
    case "previousGtids":
      return body.encodedSet;
    case "taggedGtid":
      return body.encoded;
    case "transactionPayload":
      return encodeTransactionPayload(body);
    case "heartbeat":
      return encodeHeartbeat(body);
    case "heartbeatV2":
      return encodeHeartbeatV2(body);
    case "mariadbGtid":
      return encodeMariadbGtid(body);
    case "mariadbGtidList":
      return encodeMariadbGtidList(body);
    case "mariadbBinlogCheckpoint":
      return encodeMariadbBinlogCheckpoint(body);
    case "mariadbAnnotateRows":
      return body.sql;
    case "opaque":
      return body.bytes;
  }
}

/**
 * The event's bytes: header (event size recomputed), body, and the checksum the format calls for,
 * computed afresh. An FDE with checksums off keeps the 4 bytes it was read with.
 */
export function encodeEvent(event: BinlogEvent, format: BinlogFormat): Buffer {
  const body = encodeBody(event.body);
  let trailer = format.checksum === ChecksumAlgorithm.CRC32 ? CHECKSUM_LENGTH : 0;
  let computeCrc = trailer > 0;
  if (event.body.kind === "formatDescription") {
    const alg = event.body.checksumAlgorithm;
    trailer = alg === undefined ? 0 : CHECKSUM_LENGTH;
    computeCrc = alg === ChecksumAlgorithm.CRC32;
  }
  const out = Buffer.alloc(EVENT_HEADER_LENGTH + body.length + trailer);
  writeEventHeader({ ...event.header, eventSize: out.length }, out);
  body.copy(out, EVENT_HEADER_LENGTH);
  if (trailer) {
    const crc = computeCrc ? computeEventChecksum(out.subarray(0, out.length - CHECKSUM_LENGTH)) : (event.checksum ?? 0);
    out.writeUInt32LE(crc >>> 0, out.length - CHECKSUM_LENGTH);
  }
  return out;
}
