/**
 * Builds whole events from a body: what a primary synthesises (fake rotate, heartbeat, GTID list)
 * and what tests feed the parsers.
 */
import { encodeEvent, type EventBody, type BinlogEvent } from "./codec.ts";
import { EventType } from "./event-type.ts";
import type { BinlogFormat } from "./format.ts";
import type { EventHeader } from "./header.ts";

const TYPE_OF_KIND: Partial<Record<EventBody["kind"], number>> = {
  formatDescription: EventType.FORMAT_DESCRIPTION,
  rotate: EventType.ROTATE,
  query: EventType.QUERY,
  xid: EventType.XID,
  previousGtids: EventType.PREVIOUS_GTIDS,
  taggedGtid: EventType.GTID_TAGGED,
  transactionPayload: EventType.TRANSACTION_PAYLOAD,
  heartbeat: EventType.HEARTBEAT,
  heartbeatV2: EventType.HEARTBEAT_V2,
  mariadbGtid: EventType.MARIADB_GTID,
  mariadbGtidList: EventType.MARIADB_GTID_LIST,
  mariadbBinlogCheckpoint: EventType.MARIADB_BINLOG_CHECKPOINT,
  mariadbAnnotateRows: EventType.MARIADB_ANNOTATE_ROWS,
};

export interface BuildHeader {
  timestamp?: number;
  /** Required for opaque bodies and for GTID bodies (GTID or ANONYMOUS_GTID). */
  type?: number;
  serverId?: number;
  logPos?: number;
  flags?: number;
}

export function buildEvent(body: EventBody, header: BuildHeader, format: BinlogFormat): { event: BinlogEvent; bytes: Buffer } {
  const type = header.type ?? (body.kind === "mysqlGtid" ? (body.anonymous ? EventType.ANONYMOUS_GTID : EventType.GTID) : TYPE_OF_KIND[body.kind]);
  if (type === undefined) throw new TypeError(`buildEvent: a ${body.kind} body needs an explicit header type`);
  const h: EventHeader = {
    timestamp: header.timestamp ?? 0,
    type,
    serverId: header.serverId ?? 1,
    eventSize: 0,
    logPos: header.logPos ?? 0,
    flags: header.flags ?? 0,
  };
  const event: BinlogEvent = { header: h, body, checksum: undefined };
  const bytes = encodeEvent(event, format);
  event.header = { ...h, eventSize: bytes.length };
  return { event, bytes };
}
