/**
 * The common v4 event header: 19 bytes in front of every event since MySQL 5.0.
 */
import { BinlogError } from "./errors.ts";

export const EVENT_HEADER_LENGTH = 19;
/** The four bytes every binlog and relay log file starts with. */
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
/** MySQL 8's encrypted binlog files start with this instead. */
export const ENCRYPTED_BINLOG_MAGIC = Buffer.from([0xfd, 0x62, 0x69, 0x6e]);

export interface EventHeader {
  timestamp: number;
  type: number;
  serverId: number;
  /** Size of the whole event: header, body and checksum. */
  eventSize: number;
  /** End position of this event in the primary's file (0 for artificial events). */
  logPos: number;
  flags: number;
}

export function readEventHeader(bytes: Uint8Array, offset = 0): EventHeader {
  if (bytes.length - offset < EVENT_HEADER_LENGTH) {
    throw new BinlogError("BINLOG_TRUNCATED", `event header needs ${EVENT_HEADER_LENGTH} bytes, ${bytes.length - offset} left`);
  }
  // Plain byte arithmetic: this runs once per event on the hot path, a DataView per call costs more.
  const b = bytes;
  const u32 = (at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
  return {
    timestamp: u32(offset),
    type: b[offset + 4]!,
    serverId: u32(offset + 5),
    eventSize: u32(offset + 9),
    logPos: u32(offset + 13),
    flags: b[offset + 17]! | (b[offset + 18]! << 8),
  };
}

export function writeEventHeader(header: EventHeader, into: Uint8Array, offset = 0): void {
  const view = new DataView(into.buffer, into.byteOffset + offset, EVENT_HEADER_LENGTH);
  view.setUint32(0, header.timestamp, true);
  view.setUint8(4, header.type);
  view.setUint32(5, header.serverId, true);
  view.setUint32(9, header.eventSize, true);
  view.setUint32(13, header.logPos, true);
  view.setUint16(17, header.flags, true);
}
