/**
 * One log record on disk, little-endian:
 *
 *   u32 payload_length | u32 crc | u64 index | u64 term | u8 type | payload
 *
 * The CRC32 (zlib polynomial) covers payload_length and everything after the crc field, so a torn
 * or flipped length is caught like a flipped payload byte.
 */
import { crc32 } from "node:zlib";
import type { Entry, EntryType } from "../raft/types.ts";

export const RECORD_HEADER_LENGTH = 25;
/** Larger than any entry kingbus writes (transactions are split into fragments well below this). */
export const MAX_RECORD_PAYLOAD = 256 * 1024 * 1024;

export function recordLength(entry: Entry): number {
  return RECORD_HEADER_LENGTH + entry.data.length;
}

/** Writes the record into `out` at `at`; returns the offset after it. */
export function encodeRecord(entry: Entry, out: Buffer, at: number): number {
  out.writeUInt32LE(entry.data.length, at);
  out.writeBigUInt64LE(BigInt(entry.index), at + 8);
  out.writeBigUInt64LE(BigInt(entry.term), at + 16);
  out[at + 24] = entry.type;
  out.set(entry.data, at + RECORD_HEADER_LENGTH);
  const end = at + RECORD_HEADER_LENGTH + entry.data.length;
  out.writeUInt32LE(recordCrc(out, at, end), at + 4);
  return end;
}

export function recordCrc(bytes: Buffer, at: number, end: number): number {
  return crc32(bytes.subarray(at + 8, end), crc32(bytes.subarray(at, at + 4)));
}

export type RecordCheck =
  | { ok: true; entry: Entry; end: number }
  /** Fewer bytes than the header or the announced payload: a torn tail if at the end of the file. */
  | { ok: false; reason: "short"; detail: string }
  | { ok: false; reason: "bad"; detail: string };

/**
 * Reads the record at `at` in `bytes` (which end at `limit`). The payload is a view into `bytes`;
 * copy it if `bytes` is reused. Without `checkCrc` only the framing is checked (the length within
 * bounds): for a reader whose consumer checks the bytes again (docs/storage.md, "Reading").
 */
export function decodeRecord(bytes: Buffer, at: number, limit = bytes.length, checkCrc = true): RecordCheck {
  if (limit - at < RECORD_HEADER_LENGTH) return { ok: false, reason: "short", detail: `${limit - at} bytes left, a record header needs ${RECORD_HEADER_LENGTH}` };
  const length = bytes.readUInt32LE(at);
  if (length > MAX_RECORD_PAYLOAD) return { ok: false, reason: "bad", detail: `record announces a payload of ${length} bytes` };
  const end = at + RECORD_HEADER_LENGTH + length;
  if (end > limit) return { ok: false, reason: "short", detail: `record of ${RECORD_HEADER_LENGTH + length} bytes, ${limit - at} present` };
  const stored = bytes.readUInt32LE(at + 4);
  if (checkCrc && recordCrc(bytes, at, end) !== stored) return { ok: false, reason: "bad", detail: "record fails its CRC32 check" };
  const type = bytes[at + 24]! as EntryType;
  return {
    ok: true,
    end,
    entry: {
      index: Number(bytes.readBigUInt64LE(at + 8)),
      term: Number(bytes.readBigUInt64LE(at + 16)),
      type,
      data: bytes.subarray(at + RECORD_HEADER_LENGTH, end),
    },
  };
}
