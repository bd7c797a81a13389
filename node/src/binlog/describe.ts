/**
 * One event as a plain JSON-ready object: what `kingbus inspect` prints per line, and what tests
 * compare. Field names are stable; values that may exceed 2^53 are strings. A body that cannot be
 * read (a malformed GTID set, a payload that does not decompress) throws its typed error.
 */
import { eventTypeName, EventFlag } from "./event-type.ts";
import { ChecksumAlgorithm } from "./checksum.ts";
import { readEventHeader } from "./header.ts";
import { MariadbGtidFlag } from "./events/mariadb.ts";
import { decompressTransactionPayload } from "./events/transaction-payload.ts";
import { EventSplitter, type ReadEvent } from "./reader.ts";
import { MysqlGtidSet, formatMysqlGtid } from "./gtid-mysql.ts";
import { formatMariadbGtid, formatMariadbGtidList } from "./gtid-mariadb.ts";
import { decodeTaggedGtidBody, taggedGtidOf } from "./gtid-tagged-event.ts";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type EventDescription = { [key: string]: JsonValue };

/** A u64 as a JSON number when exact, else as a string. */
export function jsonInteger(v: bigint): number | string {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

const SQL_PREVIEW_BYTES = 1024;

function sqlPreview(sql: Buffer, into: EventDescription, key = "sql"): void {
  into[key] = sql.subarray(0, SQL_PREVIEW_BYTES).toString("utf8");
  if (sql.length > SQL_PREVIEW_BYTES) into[`${key}Truncated`] = true;
}

function flagNames(flags: number, table: Record<string, number>): string[] {
  return Object.entries(table).filter(([, bit]) => (flags & bit) !== 0).map(([name]) => name.toLowerCase());
}

export function describeEvent(r: ReadEvent): EventDescription {
  const { header, body } = r.event;
  const d: EventDescription = {
    offset: r.offset,
    type: header.type,
    typeName: eventTypeName(header.type),
    size: header.eventSize,
    logPos: header.logPos,
    serverId: header.serverId,
    timestamp: header.timestamp,
    flags: header.flags,
  };
  if (r.checksumOk !== undefined) d.checksumOk = r.checksumOk;
  if (header.flags & EventFlag.ARTIFICIAL) d.artificial = true;
  switch (body.kind) {
    case "formatDescription":
      d.serverVersion = body.serverVersion;
      d.binlogVersion = body.binlogVersion;
      d.checksumAlgorithm = body.checksumAlgorithm === undefined ? "none (predates checksums)" : body.checksumAlgorithm === ChecksumAlgorithm.CRC32 ? "CRC32" : body.checksumAlgorithm === ChecksumAlgorithm.OFF ? "NONE" : String(body.checksumAlgorithm);
      d.created = body.createTimestamp;
      if (header.flags & EventFlag.BINLOG_IN_USE) d.inUse = true;
      break;
    case "rotate":
      d.nextFile = body.nextFile;
      d.position = jsonInteger(body.position);
      break;
    case "query":
      d.schema = body.schema.toString("utf8");
      d.threadId = body.threadId;
      d.errorCode = body.errorCode;
      sqlPreview(body.sql, d);
      if (header.type !== 2) d.compressed = true;
      break;
    case "xid":
      d.xid = jsonInteger(body.xid);
      break;
    case "mysqlGtid":
      d.gtid = body.anonymous ? "ANONYMOUS" : formatMysqlGtid(body);
      if (body.logicalClock) {
        d.lastCommitted = jsonInteger(body.logicalClock.lastCommitted);
        d.sequenceNumber = jsonInteger(body.logicalClock.sequenceNumber);
      }
      if (body.immediateCommitTimestamp !== undefined) d.immediateCommitTimestamp = jsonInteger(body.immediateCommitTimestamp);
      if (body.originalCommitTimestamp !== undefined) d.originalCommitTimestamp = jsonInteger(body.originalCommitTimestamp);
      if (body.transactionLength !== undefined) d.transactionLength = jsonInteger(body.transactionLength);
      if (body.immediateServerVersion !== undefined) d.immediateServerVersion = body.immediateServerVersion;
      break;
    case "taggedGtid":
      d.gtid = formatMysqlGtid(taggedGtidOf(decodeTaggedGtidBody(body.encoded)));
      break;
    case "previousGtids":
      d.gtidSet = MysqlGtidSet.decode(body.encodedSet).toString();
      break;
    case "transactionPayload":
      d.compression = body.compression === 0 ? "zstd" : body.compression === 255 ? "none" : String(body.compression);
      d.payloadSize = jsonInteger(body.payloadSize);
      d.uncompressedSize = jsonInteger(body.uncompressedSize);
      d.events = payloadEvents(decompressTransactionPayload(body));
      break;
    case "heartbeat":
      d.logFile = body.logFile;
      break;
    case "heartbeatV2":
      d.logFile = body.logFile;
      d.position = jsonInteger(body.position);
      break;
    case "mariadbGtid":
      d.gtid = formatMariadbGtid({ domain: body.domain, serverId: header.serverId, seq: body.seq });
      d.gtidFlags = flagNames(body.flags2, MariadbGtidFlag);
      if (body.commitId !== undefined) d.commitId = jsonInteger(body.commitId);
      if (body.xid) d.xid = { formatId: body.xid.formatId, gtrid: body.xid.gtrid.toString("hex"), bqual: body.xid.bqual.toString("hex") };
      break;
    case "mariadbGtidList":
      d.gtidList = formatMariadbGtidList(body.list);
      break;
    case "mariadbBinlogCheckpoint":
      d.logFile = body.logFile;
      break;
    case "mariadbAnnotateRows":
      sqlPreview(body.sql, d);
      break;
    case "opaque":
      break;
  }
  return d;
}

/** The events inside a decompressed payload: type and size of each, in order. */
function payloadEvents(bytes: Buffer): JsonValue[] {
  const splitter = new EventSplitter(0);
  splitter.push(bytes);
  const out: JsonValue[] = [];
  for (let raw = splitter.nextEvent(); raw !== undefined; raw = splitter.nextEvent()) {
    const h = readEventHeader(raw.bytes);
    out.push({ offset: raw.offset, type: h.type, typeName: eventTypeName(h.type), size: h.eventSize });
  }
  splitter.finish();
  return out;
}
