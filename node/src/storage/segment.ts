/**
 * Segment files and their sidecars.
 *
 * Segment `<first index, 20 digits>.seg`: a 32-byte header, then records (record.ts) of
 * consecutive indexes starting at the first index.
 *   "KBSG" | u16 version | u16 reserved | u64 first_index | u64 created_ms | u32 crc | u32 zero
 *
 * Sidecar `<first index>.idx`, written when the segment is sealed (atomically, after the segment's
 * records are fsynced). A small summary is read at open; the arrays only when a lookup needs them.
 *   "KBSX" | u16 version | u16 reserved | u32 summary_length | u32 summary_crc | summary
 *   | u32 arrays_length | u32 arrays_crc | arrays
 * summary: u64 first_index | u32 count | u64 segment_bytes | u64 sealed_ms
 *          | u32 n_term_runs | (u64 term, u64 first_index)*
 *          | u32 n_conf_changes | u64 index*                    | binlog key summaries
 * arrays:  u64 record_offset[count] | binlog key arrays (binlog-index.ts)
 */
import { crc32 } from "node:zlib";
import { SegmentBinlogIndex, type BinlogIndexSummary, type KeySummary } from "./binlog-index.ts";
import { StorageError } from "./errors.ts";

export const SEGMENT_FORMAT_VERSION = 1;
export const SEGMENT_HEADER_LENGTH = 32;
const SEGMENT_MAGIC = Buffer.from("KBSG");
const SIDECAR_MAGIC = Buffer.from("KBSX");

export function segmentName(firstIndex: number): string {
  return `${String(firstIndex).padStart(20, "0")}.seg`;
}

export function sidecarName(firstIndex: number): string {
  return `${String(firstIndex).padStart(20, "0")}.idx`;
}

export function parseSegmentName(name: string): number | undefined {
  const m = /^(\d{20})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function encodeSegmentHeader(firstIndex: number, createdMs: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_LENGTH);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt16LE(SEGMENT_FORMAT_VERSION, 4);
  b.writeBigUInt64LE(BigInt(firstIndex), 8);
  b.writeBigUInt64LE(BigInt(createdMs), 16);
  b.writeUInt32LE(crc32(b.subarray(0, 24)), 24);
  return b;
}

export function checkSegmentHeader(bytes: Buffer, path: string, expectedFirst: number): { createdMs: number } {
  if (bytes.length < SEGMENT_HEADER_LENGTH) {
    throw new StorageError("STORAGE_CORRUPT", `segment header is ${bytes.length} bytes, expected ${SEGMENT_HEADER_LENGTH}`, { file: path, offset: 0 });
  }
  if (!bytes.subarray(0, 4).equals(SEGMENT_MAGIC) || crc32(bytes.subarray(0, 24)) !== bytes.readUInt32LE(24)) {
    throw new StorageError("STORAGE_CORRUPT", "segment header fails its magic or CRC32 check", { file: path, offset: 0 });
  }
  const version = bytes.readUInt16LE(4);
  if (version !== SEGMENT_FORMAT_VERSION) {
    throw new StorageError("STORAGE_CORRUPT", `segment format version ${version}, this kingbus reads ${SEGMENT_FORMAT_VERSION}`, { file: path, offset: 4 });
  }
  const first = Number(bytes.readBigUInt64LE(8));
  if (first !== expectedFirst) {
    throw new StorageError("STORAGE_CORRUPT", `segment header says it starts at index ${first}, its name says ${expectedFirst}`, { file: path, offset: 8 });
  }
  return { createdMs: Number(bytes.readBigUInt64LE(16)) };
}

/** A run of consecutive entries of one term: term(i) for any i without reading records. */
export interface TermRun {
  term: number;
  firstIndex: number;
}

export function termAt(runs: readonly TermRun[], index: number): number {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (runs[mid]!.firstIndex <= index) lo = mid;
    else hi = mid - 1;
  }
  return runs[lo]!.term;
}

export function extendTermRuns(runs: TermRun[], index: number, term: number): void {
  if (runs.length === 0 || runs.at(-1)!.term !== term) runs.push({ term, firstIndex: index });
}

export function truncateTermRuns(runs: TermRun[], fromIndex: number): void {
  while (runs.length > 0 && runs.at(-1)!.firstIndex >= fromIndex) runs.pop();
}

export interface SidecarSummary {
  firstIndex: number;
  count: number;
  segmentBytes: number;
  sealedMs: number;
  termRuns: TermRun[];
  /** Indexes of the membership-change records (rare), so the membership is known without a scan. */
  confChanges: number[];
  binlog: BinlogIndexSummary;
}

export interface SidecarArrays {
  offsets: Float64Array;
  /** Decoded on first use: a plain entry read needs only the offsets. */
  readonly binlog: SegmentBinlogIndex;
}

class Writer {
  parts: Buffer[] = [];
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, "utf8");
    this.u32(b.length);
    this.parts.push(b);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function encodeKeySummaries(w: Writer, m: Map<string, KeySummary>): void {
  w.u32(m.size);
  for (const [key, s] of m) w.str(key).u32(s.count).u64(s.min).u64(s.max);
}

export function encodeSidecar(summary: SidecarSummary, arrays: SidecarArrays): Buffer {
  const s = new Writer().u64(summary.firstIndex).u32(summary.count).u64(summary.segmentBytes).u64(summary.sealedMs).u32(summary.termRuns.length);
  for (const r of summary.termRuns) s.u64(r.term).u64(r.firstIndex);
  s.u32(summary.confChanges.length);
  for (const i of summary.confChanges) s.u64(i);
  encodeKeySummaries(s, summary.binlog.sources);
  encodeKeySummaries(s, summary.binlog.files);
  const summaryBytes = s.done();
  const offsets = Buffer.alloc(arrays.offsets.length * 8);
  arrays.offsets.forEach((o, i) => offsets.writeBigUInt64LE(BigInt(o), i * 8));
  const arraysBytes = Buffer.concat([offsets, arrays.binlog.encode()]);
  const head = Buffer.alloc(12);
  SIDECAR_MAGIC.copy(head, 0);
  head.writeUInt16LE(SEGMENT_FORMAT_VERSION, 4);
  head.writeUInt32LE(summaryBytes.length, 8);
  return Buffer.concat([head, u32le(crc32(summaryBytes)), summaryBytes, u32le(arraysBytes.length), u32le(crc32(arraysBytes)), arraysBytes]);
}

function u32le(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** Byte length of the fixed part before the summary. */
export const SIDECAR_HEAD_LENGTH = 16;

/** Parses the head + summary; returns the summary and where the arrays section starts. */
export function decodeSidecarSummary(bytes: Buffer, path: string): { summary: SidecarSummary; arraysAt: number } {
  const bad = (what: string, offset: number): never => {
    throw new StorageError("STORAGE_CORRUPT", `sidecar ${what}`, { file: path, offset });
  };
  if (bytes.length < SIDECAR_HEAD_LENGTH || !bytes.subarray(0, 4).equals(SIDECAR_MAGIC)) bad("has a bad magic", 0);
  if (bytes.readUInt16LE(4) !== SEGMENT_FORMAT_VERSION) bad(`has format version ${bytes.readUInt16LE(4)}`, 4);
  const length = bytes.readUInt32LE(8);
  const end = SIDECAR_HEAD_LENGTH + length;
  if (end > bytes.length) bad("summary is cut short", SIDECAR_HEAD_LENGTH);
  const body = bytes.subarray(SIDECAR_HEAD_LENGTH, end);
  if (crc32(body) !== bytes.readUInt32LE(12)) bad("summary fails its CRC32 check", SIDECAR_HEAD_LENGTH);
  let at = 0;
  const u32 = (): number => ((at += 4), body.readUInt32LE(at - 4));
  const u64 = (): bigint => ((at += 8), body.readBigUInt64LE(at - 8));
  const str = (): string => {
    const n = u32();
    at += n;
    return body.toString("utf8", at - n, at);
  };
  const keySummaries = (): Map<string, KeySummary> => {
    const m = new Map<string, KeySummary>();
    for (let i = u32(); i > 0; i--) {
      const key = str();
      m.set(key, { count: u32(), min: u64(), max: u64() });
    }
    return m;
  };
  const firstIndex = Number(u64());
  const count = u32();
  const segmentBytes = Number(u64());
  const sealedMs = Number(u64());
  const termRuns: TermRun[] = [];
  for (let i = u32(); i > 0; i--) termRuns.push({ term: Number(u64()), firstIndex: Number(u64()) });
  const confChanges: number[] = [];
  for (let i = u32(); i > 0; i--) confChanges.push(Number(u64()));
  const sources = keySummaries();
  const files = keySummaries();
  return { summary: { firstIndex, count, segmentBytes, sealedMs, termRuns, confChanges, binlog: { sources, files } }, arraysAt: end };
}

export function decodeSidecarArrays(bytes: Buffer, arraysAt: number, count: number, path: string): SidecarArrays {
  if (arraysAt + 8 > bytes.length) throw new StorageError("STORAGE_CORRUPT", "sidecar arrays are missing", { file: path, offset: arraysAt });
  const length = bytes.readUInt32LE(arraysAt);
  const body = bytes.subarray(arraysAt + 8, arraysAt + 8 + length);
  if (body.length !== length || crc32(body) !== bytes.readUInt32LE(arraysAt + 4)) {
    throw new StorageError("STORAGE_CORRUPT", "sidecar arrays fail their length or CRC32 check", { file: path, offset: arraysAt });
  }
  const offsets = new Float64Array(count);
  for (let i = 0; i < count; i++) offsets[i] = body.readUInt32LE(i * 8) + body.readUInt32LE(i * 8 + 4) * 2 ** 32;
  let binlog: SegmentBinlogIndex | undefined;
  return {
    offsets,
    get binlog(): SegmentBinlogIndex {
      binlog ??= SegmentBinlogIndex.decode(body.subarray(count * 8));
      return binlog;
    },
  };
}
