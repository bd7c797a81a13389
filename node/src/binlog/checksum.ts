/**
 * Event checksums. The algorithm is announced by the FORMAT_DESCRIPTION event; with CRC32 every
 * event ends in the zlib CRC32 of everything before it. The FDE's own CRC is computed with the
 * BINLOG_IN_USE flag cleared, because the server clears that flag in place when it closes the file
 * without rewriting the checksum.
 */
import { crc32 } from "node:zlib";
import { EventType, EventFlag } from "./event-type.ts";

export const ChecksumAlgorithm = {
  OFF: 0,
  CRC32: 1,
  /** Written by servers that predate checksums, or not announced at all. */
  UNDEF: 255,
} as const;
export type ChecksumAlgorithm = (typeof ChecksumAlgorithm)[keyof typeof ChecksumAlgorithm];

export const CHECKSUM_LENGTH = 4;
const FLAGS_OFFSET = 17;
const TYPE_OFFSET = 4;

/** CRC32 of an event's bytes without the trailing checksum, as the server computes it. */
export function computeEventChecksum(eventWithoutChecksum: Uint8Array): number {
  const isFde = eventWithoutChecksum[TYPE_OFFSET] === EventType.FORMAT_DESCRIPTION;
  const flagsLow = eventWithoutChecksum[FLAGS_OFFSET]!;
  if (isFde && (flagsLow & EventFlag.BINLOG_IN_USE) !== 0) {
    const head = Buffer.from(eventWithoutChecksum.subarray(0, FLAGS_OFFSET + 1));
    head[FLAGS_OFFSET] = flagsLow & ~EventFlag.BINLOG_IN_USE;
    return crc32(eventWithoutChecksum.subarray(FLAGS_OFFSET + 1), crc32(head));
  }
  return crc32(eventWithoutChecksum);
}

/** The checksum stored in the last four bytes of an event. */
export function storedChecksum(event: Uint8Array): number {
  const at = event.length - CHECKSUM_LENGTH;
  return (event[at]! | (event[at + 1]! << 8) | (event[at + 2]! << 16) | (event[at + 3]! << 24)) >>> 0;
}

export function verifyEventChecksum(event: Uint8Array): boolean {
  return computeEventChecksum(event.subarray(0, event.length - CHECKSUM_LENGTH)) === storedChecksum(event);
}
