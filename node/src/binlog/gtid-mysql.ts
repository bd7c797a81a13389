/**
 * MySQL GTIDs and GTID sets: the text forms MySQL prints and accepts (`@@gtid_executed`,
 * `uuid:1-5:7,uuid2:tag:1-3`) and the binary form of PREVIOUS_GTIDS bodies and COM_BINLOG_DUMP_GTID,
 * in both its untagged and its tagged (MySQL 8.3+) encoding.
 *
 * Facts taken from MySQL (sql/rpl_gtid_set.cc, libs/mysql/gtid, libs/mysql/serialization):
 * - a GNO is 1 .. 2^63-2: GNO_END = INT64_MAX is one past the largest, because the binary form
 *   stores exclusive interval ends as signed 64-bit integers;
 * - a tag is [a-z_][a-z0-9_]{0,31}, case-insensitive in text and stored lowercase;
 * - the binary form's first u64 carries the encoding format in its top byte: 0 = untagged
 *   (the rest is the source count), 1 = tagged (count in bits 8..55, format repeated in the low
 *   byte, and every source carries a tag after its UUID as a mysql::serialization string).
 */
import { KingbusError } from "../errors.ts";

/** Malformed GTID text or bytes. The message names the problem and where it is. */
export class GtidParseError extends KingbusError {
  declare readonly code: "GTID_PARSE";
  /** Byte offset (binary input) or character offset (text input), when known. */
  readonly offset: number | undefined;

  constructor(message: string, options?: { offset?: number; cause?: unknown }) {
    super("GTID_PARSE", message, options);
    this.offset = options?.offset;
  }
}

/** A set holding tagged GTIDs cannot be written in the untagged binary format. */
export class GtidTaggedFormatError extends KingbusError {
  declare readonly code: "GTID_TAGS_NEED_TAGGED_FORMAT";

  constructor(message: string) {
    super("GTID_TAGS_NEED_TAGGED_FORMAT", message);
  }
}

/** The largest GNO MySQL accepts. */
export const MAX_GNO = (1n << 63n) - 2n;
export const TAG_MAX_LENGTH = 32;

export interface MysqlGtid {
  uuid: string;
  /** Absent or "" when untagged. */
  tag?: string;
  gno: bigint;
}

/** A run of consecutive GNOs; both ends included, as MySQL prints them. */
export interface GtidInterval {
  readonly first: bigint;
  readonly last: bigint;
}

/** The GTIDs of one (uuid, tag) source. `tag` is "" for untagged GTIDs. */
export interface MysqlGtidSource {
  readonly uuid: string;
  readonly tag: string;
  readonly intervals: readonly GtidInterval[];
}

export type MysqlGtidSetFormat = "untagged" | "tagged";

// ---------------------------------------------------------------------------------------------
// UUIDs, tags, GNOs

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const TAG_TEXT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The canonical lowercase 8-4-4-4-12 form, or GtidParseError. */
export function normalizeUuid(text: string): string {
  if (!UUID_TEXT.test(text)) throw new GtidParseError(`bad UUID '${clip(text)}'`);
  return text.toLowerCase();
}

/** The tag as MySQL stores it (lowercase), or GtidParseError. "" stays "" (untagged). */
export function normalizeTag(text: string): string {
  if (text === "") return "";
  if (!TAG_TEXT.test(text)) throw new GtidParseError(`bad GTID tag '${clip(text)}': it must match [a-z_][a-z0-9_]*`);
  if (text.length > TAG_MAX_LENGTH) {
    throw new GtidParseError(`GTID tag '${clip(text)}' is longer than ${TAG_MAX_LENGTH} characters`);
  }
  return text.toLowerCase();
}

function checkGno(gno: bigint, context: string): bigint {
  if (gno < 1n) throw new GtidParseError(`GNO ${gno} in ${context} is below 1`);
  if (gno > MAX_GNO) throw new GtidParseError(`GNO ${gno} in ${context} is above the maximum ${MAX_GNO}`);
  return gno;
}

export function uuidToBytes(uuid: string): Uint8Array {
  return Uint8Array.from(Buffer.from(normalizeUuid(uuid).replaceAll("-", ""), "hex"));
}

export function uuidFromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new GtidParseError(`a UUID has 16 bytes, not ${bytes.length}`);
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function formatMysqlGtid(gtid: MysqlGtid): string {
  return gtid.tag ? `${gtid.uuid}:${gtid.tag}:${gtid.gno}` : `${gtid.uuid}:${gtid.gno}`;
}

/** `uuid:gno` or `uuid:tag:gno`, whitespace allowed around the parts as MySQL allows it. */
export function parseMysqlGtid(text: string): MysqlGtid {
  const scan = new TextScanner(text, "GTID");
  scan.skipSpace();
  const uuid = scan.uuid();
  scan.skipSpace();
  scan.expect(":");
  scan.skipSpace();
  const tag = scan.tagIfPresent();
  if (tag !== undefined) {
    scan.skipSpace();
    scan.expect(":");
    scan.skipSpace();
  }
  const gno = scan.gno();
  scan.skipSpace();
  if (!scan.atEnd()) scan.fail("expected the end of the GTID");
  return tag ? { uuid, tag, gno } : { uuid, gno };
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

/** A cursor over GTID text whose errors say where the text went wrong. */
class TextScanner {
  readonly text: string;
  readonly what: string;
  pos = 0;

  constructor(text: string, what: string) {
    this.text = text;
    this.what = what;
  }

  fail(problem: string): never {
    throw new GtidParseError(`malformed ${this.what} '${clip(this.text)}': ${problem} at character ${this.pos}`, {
      offset: this.pos,
    });
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? "";
  }

  skipSpace(): void {
    while (/\s/.test(this.peek())) this.pos++;
  }

  expect(char: string): void {
    if (this.peek() !== char) this.fail(`expected '${char}'`);
    this.pos++;
  }

  uuid(): string {
    const candidate = this.text.slice(this.pos, this.pos + 36);
    if (!UUID_TEXT.test(candidate)) this.fail("expected a UUID");
    this.pos += 36;
    return candidate.toLowerCase();
  }

  /** A tag when the next character starts one (a letter or '_'); GNOs start with a digit. */
  tagIfPresent(): string | undefined {
    if (!/[A-Za-z_]/.test(this.peek())) return undefined;
    const start = this.pos;
    while (/[A-Za-z0-9_]/.test(this.peek())) this.pos++;
    const tag = this.text.slice(start, this.pos);
    if (tag.length > TAG_MAX_LENGTH) {
      this.pos = start;
      this.fail(`tag '${tag}' is longer than ${TAG_MAX_LENGTH} characters`);
    }
    return tag.toLowerCase();
  }

  gno(): bigint {
    const start = this.pos;
    while (/[0-9]/.test(this.peek())) this.pos++;
    const digits = this.text.slice(start, this.pos);
    this.pos = start;
    if (digits === "") this.fail("expected a GNO (a number) or a tag");
    // MySQL reads GNOs with strtoll(base 0), so "010" would mean 8 there: refuse rather than differ.
    if (digits.length > 1 && digits.startsWith("0")) this.fail(`GNO '${digits}' has a leading zero`);
    const value = digits.length > 20 ? MAX_GNO + 1n : BigInt(digits);
    if (value < 1n) this.fail("GNO 0 is not allowed (GNOs start at 1)");
    if (value > MAX_GNO) this.fail(`GNO ${digits} is above the maximum ${MAX_GNO}`);
    this.pos += digits.length;
    return value;
  }
}

// ---------------------------------------------------------------------------------------------
// mysql::serialization variable-length integers (libs/mysql/serialization/readme.md): 1-9 bytes,
// little-endian; the number of trailing one bits in the first byte plus one is the byte count.

/** Bytes the shortest (MySQL-written) encoding of `value` takes. */
export function varlenSize(value: bigint): number {
  const bits = value === 0n ? 0 : value.toString(2).length;
  return ((bits * 575) >> 12) + 1;
}

export function encodeVarlen(value: bigint): Uint8Array {
  if (value < 0n || value >= 1n << 64n) throw new RangeError(`varlen value ${value} is not an unsigned 64-bit integer`);
  const size = varlenSize(value);
  const out = new Uint8Array(size);
  if (size === 9) {
    out[0] = 0xff;
    new DataView(out.buffer).setBigUint64(1, value, true);
    return out;
  }
  out[0] = ((1 << (size - 1)) - 1) | Number((value << BigInt(size)) & 0xffn);
  let rest = value >> BigInt(8 - size);
  for (let i = 1; i < size; i++) {
    out[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  return out;
}

export function encodeSignedVarlen(value: bigint): Uint8Array {
  return encodeVarlen(value >= 0n ? value << 1n : ((-(value + 1n)) << 1n) | 1n);
}

export interface VarlenRead {
  value: bigint;
  /** Bytes consumed. */
  size: number;
}

/**
 * Reads a variable-length unsigned integer at `offset`. MySQL's own reader accepts longer-than-
 * needed encodings; with `canonical` they are refused, for callers that must re-encode exactly.
 */
export function decodeVarlen(bytes: Uint8Array, offset: number, what: string, canonical = false): VarlenRead {
  const first = bytes[offset];
  if (first === undefined) throw new GtidParseError(`${what}: truncated at byte ${offset}`, { offset });
  let size = 1;
  while (size < 9 && (first >> (size - 1)) & 1) size++;
  if (offset + size > bytes.length) {
    throw new GtidParseError(`${what}: the ${size}-byte integer at byte ${offset} is truncated`, { offset });
  }
  let value: bigint;
  if (size === 9) {
    value = new DataView(bytes.buffer, bytes.byteOffset + offset + 1, 8).getBigUint64(0, true);
  } else {
    let rest = 0n;
    for (let i = size - 1; i >= 1; i--) rest = (rest << 8n) | BigInt(bytes[offset + i]!);
    value = BigInt(first >> size) | (rest << BigInt(8 - size));
  }
  if (canonical && varlenSize(value) !== size) {
    throw new GtidParseError(`${what}: the integer at byte ${offset} uses ${size} bytes where MySQL writes ${varlenSize(value)}`, {
      offset,
    });
  }
  return { value, size };
}

export function decodeSignedVarlen(bytes: Uint8Array, offset: number, what: string, canonical = false): VarlenRead {
  const { value, size } = decodeVarlen(bytes, offset, what, canonical);
  return { value: value & 1n ? -(value >> 1n) - 1n : value >> 1n, size };
}

// ---------------------------------------------------------------------------------------------
// Interval lists: sorted, disjoint, never adjacent (MySQL merges 1-3 and 4-5 into 1-5).

function normalizeIntervals(intervals: readonly GtidInterval[]): GtidInterval[] {
  const sorted = [...intervals].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const merged: GtidInterval[] = [];
  for (const next of sorted) {
    const previous = merged.at(-1);
    if (previous && next.first <= previous.last + 1n) {
      if (next.last > previous.last) merged[merged.length - 1] = { first: previous.first, last: next.last };
    } else {
      merged.push(next);
    }
  }
  return merged;
}

function subtractIntervals(from: readonly GtidInterval[], remove: readonly GtidInterval[]): GtidInterval[] {
  const result: GtidInterval[] = [];
  let j = 0;
  for (const interval of from) {
    let start = interval.first;
    while (j < remove.length && remove[j]!.last < start) j++;
    for (let k = j; k < remove.length && remove[k]!.first <= interval.last && start <= interval.last; k++) {
      const cut = remove[k]!;
      if (cut.first > start) result.push({ first: start, last: cut.first - 1n });
      if (cut.last + 1n > start) start = cut.last + 1n;
    }
    if (start <= interval.last) result.push({ first: start, last: interval.last });
  }
  return result;
}

function intersectIntervals(a: readonly GtidInterval[], b: readonly GtidInterval[]): GtidInterval[] {
  const result: GtidInterval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    const first = x.first > y.first ? x.first : y.first;
    const last = x.last < y.last ? x.last : y.last;
    if (first <= last) result.push({ first, last });
    if (x.last < y.last) i++;
    else j++;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// The set

function sourceKey(uuid: string, tag: string): string {
  return `${uuid}:${tag}`;
}

function compareSources(a: MysqlGtidSource, b: MysqlGtidSource): number {
  if (a.uuid !== b.uuid) return a.uuid < b.uuid ? -1 : 1;
  if (a.tag !== b.tag) return a.tag < b.tag ? -1 : 1;
  return 0;
}

/** Collects intervals per source in any order, then yields the normalised, sorted sources. */
class SourceBuilder {
  readonly #bySource = new Map<string, { uuid: string; tag: string; intervals: GtidInterval[] }>();

  add(uuid: string, tag: string, intervals: readonly GtidInterval[]): void {
    const key = sourceKey(uuid, tag);
    let entry = this.#bySource.get(key);
    if (!entry) {
      entry = { uuid, tag, intervals: [] };
      this.#bySource.set(key, entry);
    }
    entry.intervals.push(...intervals);
  }

  /** Sorted, normalised, without empty sources: what MysqlGtidSet holds. */
  sources(): MysqlGtidSource[] {
    const sources: MysqlGtidSource[] = [];
    for (const { uuid, tag, intervals } of this.#bySource.values()) {
      const normalized = normalizeIntervals(intervals);
      if (normalized.length > 0) sources.push(Object.freeze({ uuid, tag, intervals: Object.freeze(normalized) }));
    }
    return sources.sort(compareSources);
  }
}

const EMPTY_INTERVALS: readonly GtidInterval[] = Object.freeze([]);

/**
 * An immutable set of MySQL GTIDs, kept as sorted merged intervals per (uuid, tag) source, in the
 * order MySQL prints them: UUIDs ascending, and within one UUID the untagged intervals first, then
 * the tags in ascending order.
 */
export class MysqlGtidSet implements Iterable<MysqlGtidSource> {
  readonly #sources: readonly MysqlGtidSource[];
  readonly #byKey: ReadonlyMap<string, MysqlGtidSource>;

  static readonly #EMPTY = new MysqlGtidSet([]);

  /** `sources` must be sorted, normalised and free of empty sources. */
  private constructor(sources: readonly MysqlGtidSource[]) {
    this.#sources = Object.freeze(sources);
    this.#byKey = new Map(sources.map((s) => [sourceKey(s.uuid, s.tag), s]));
  }

  static empty(): MysqlGtidSet {
    return MysqlGtidSet.#EMPTY;
  }

  static fromGtids(gtids: Iterable<MysqlGtid>): MysqlGtidSet {
    const builder = new SourceBuilder();
    for (const gtid of gtids) {
      const { uuid, tag } = checkedSource(gtid);
      builder.add(uuid, tag, [{ first: gtid.gno, last: gtid.gno }]);
    }
    return new MysqlGtidSet(builder.sources());
  }

  /**
   * MySQL's text form: `uuid:1-5:7,uuid2:tag:1-3:othertag:4`. Accepts what MySQL accepts:
   * whitespace around every part (so the ",\n" MySQL prints), empty items between commas,
   * overlapping or unordered intervals, uppercase UUIDs and tags. Stricter than MySQL in two places:
   * an interval whose end is below its start is an error (MySQL silently drops it), and GNOs with a
   * leading zero are refused (MySQL reads them as octal).
   */
  static parse(text: string): MysqlGtidSet {
    const scan = new TextScanner(text, "GTID set");
    const builder = new SourceBuilder();
    scan.skipSpace();
    while (true) {
      while (scan.peek() === ",") {
        scan.pos++;
        scan.skipSpace();
      }
      if (scan.atEnd()) break;
      const uuid = scan.uuid();
      let tag = "";
      scan.skipSpace();
      while (scan.peek() === ":") {
        scan.pos++;
        scan.skipSpace();
        const newTag = scan.tagIfPresent();
        if (newTag !== undefined) {
          tag = newTag;
          scan.skipSpace();
          continue;
        }
        const intervalStart = scan.pos;
        const first = scan.gno();
        scan.skipSpace();
        let last = first;
        if (scan.peek() === "-") {
          scan.pos++;
          scan.skipSpace();
          last = scan.gno();
          scan.skipSpace();
          if (last < first) {
            scan.pos = intervalStart;
            scan.fail(`interval ${first}-${last} ends before it starts`);
          }
        }
        builder.add(uuid, tag, [{ first, last }]);
      }
      if (!scan.atEnd() && scan.peek() !== ",") scan.fail("expected ',', ':' or the end of the set");
    }
    return new MysqlGtidSet(builder.sources());
  }

  /**
   * The binary form (PREVIOUS_GTIDS body, COM_BINLOG_DUMP_GTID data), untagged or tagged. The
   * whole of `bytes` must be the set: trailing bytes are an error. Like MySQL's reader it takes
   * sources in any order, a source listed twice, and uppercase tags; like it, it refuses
   * intervals that are empty, out of order or touching within one source.
   */
  static decode(bytes: Uint8Array): MysqlGtidSet {
    const reader = new BinaryReader(bytes);
    const header = reader.u64("source count");
    const format = Number(header >> 56n);
    let count: bigint;
    if (format === 0) {
      count = header;
    } else if (format === 1) {
      if ((header & 0xffn) !== 1n) {
        reader.fail(0, `tagged GTID set header 0x${header.toString(16)} does not repeat the format in its low byte`);
      }
      count = (header >> 8n) & 0xffff_ffff_ffffn;
    } else {
      return reader.fail(0, `unknown GTID set encoding format ${format} (header 0x${header.toString(16)})`);
    }
    const builder = new SourceBuilder();
    for (let i = 0n; i < count; i++) {
      const uuid = uuidFromBytes(reader.take(16, `UUID of source ${i}`));
      const tag = format === 1 ? reader.tag(`tag of source ${i} (${uuid})`) : "";
      const intervalCount = reader.u64(`interval count of source ${i}`);
      if (intervalCount * 16n > BigInt(reader.remaining)) {
        reader.fail(reader.pos - 8, `source ${i} (${uuid}) declares ${intervalCount} intervals but only ${reader.remaining} bytes follow`);
      }
      const intervals: GtidInterval[] = [];
      let previousEnd = 0n;
      for (let k = 0n; k < intervalCount; k++) {
        const at = reader.pos;
        const start = reader.u64("interval start");
        const end = reader.u64("interval end");
        if (start <= previousEnd || end <= start || end > MAX_GNO + 1n) {
          reader.fail(
            at,
            `interval [${start}, ${end}) of source ${uuid}${tag ? `:${tag}` : ""} is not a valid interval after ${previousEnd} (GNOs 1..${MAX_GNO}, ascending, not touching)`,
          );
        }
        previousEnd = end;
        intervals.push({ first: start, last: end - 1n });
      }
      builder.add(uuid, tag, intervals);
    }
    if (reader.remaining > 0) reader.fail(reader.pos, `${reader.remaining} trailing bytes after the GTID set`);
    return new MysqlGtidSet(builder.sources());
  }

  /** MySQL's canonical text, as `SELECT @@gtid_executed` prints it but with "," for ",\n". */
  toString(): string {
    let text = "";
    let previousUuid: string | undefined;
    for (const { uuid, tag, intervals } of this.#sources) {
      if (uuid !== previousUuid) {
        if (previousUuid !== undefined) text += ",";
        text += uuid;
        previousUuid = uuid;
      }
      if (tag) text += `:${tag}`;
      for (const { first, last } of intervals) text += first === last ? `:${first}` : `:${first}-${last}`;
    }
    return text;
  }

  /**
   * The binary form. Without `format`: untagged when the set has no tags (what servers before
   * 8.3 understand), else tagged. Untagged with tags present is a GtidTaggedFormatError.
   */
  encode(format?: MysqlGtidSetFormat): Uint8Array {
    const chosen = format ?? (this.hasTags() ? "tagged" : "untagged");
    if (chosen === "untagged" && this.hasTags()) {
      throw new GtidTaggedFormatError(`GTID set '${clip(this.toString())}' has tagged GTIDs; only the tagged format can hold them`);
    }
    const tags = this.#sources.map((s) => (chosen === "tagged" ? Buffer.from(s.tag, "ascii") : undefined));
    let size = 8;
    this.#sources.forEach((s, i) => {
      const tag = tags[i];
      size += 16 + 8 + 16 * s.intervals.length + (tag ? varlenSize(BigInt(tag.length)) + tag.length : 0);
    });
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    const count = BigInt(this.#sources.length);
    view.setBigUint64(0, chosen === "tagged" ? (1n << 56n) | (count << 8n) | 1n : count, true);
    let pos = 8;
    this.#sources.forEach((source, i) => {
      out.set(uuidToBytes(source.uuid), pos);
      pos += 16;
      const tag = tags[i];
      if (tag) {
        const length = encodeVarlen(BigInt(tag.length));
        out.set(length, pos);
        out.set(tag, pos + length.length);
        pos += length.length + tag.length;
      }
      view.setBigUint64(pos, BigInt(source.intervals.length), true);
      pos += 8;
      for (const { first, last } of source.intervals) {
        view.setBigUint64(pos, first, true);
        view.setBigUint64(pos + 8, last + 1n, true);
        pos += 16;
      }
    });
    return out;
  }

  union(other: MysqlGtidSet): MysqlGtidSet {
    if (other.isEmpty()) return this;
    if (this.isEmpty()) return other;
    const builder = new SourceBuilder();
    for (const s of this.#sources) builder.add(s.uuid, s.tag, s.intervals);
    for (const s of other.#sources) builder.add(s.uuid, s.tag, s.intervals);
    return new MysqlGtidSet(builder.sources());
  }

  subtract(other: MysqlGtidSet): MysqlGtidSet {
    const sources: MysqlGtidSource[] = [];
    for (const s of this.#sources) {
      const remove = other.#intervalsOf(s.uuid, s.tag);
      const left = remove.length === 0 ? s.intervals : subtractIntervals(s.intervals, remove);
      if (left.length > 0) sources.push(left === s.intervals ? s : Object.freeze({ ...s, intervals: Object.freeze(left) }));
    }
    return new MysqlGtidSet(sources);
  }

  intersect(other: MysqlGtidSet): MysqlGtidSet {
    const sources: MysqlGtidSource[] = [];
    for (const s of this.#sources) {
      const common = intersectIntervals(s.intervals, other.#intervalsOf(s.uuid, s.tag));
      if (common.length > 0) sources.push(Object.freeze({ ...s, intervals: Object.freeze(common) }));
    }
    return new MysqlGtidSet(sources);
  }

  /** True when every GTID of `other` is in this set. */
  contains(other: MysqlGtidSet): boolean {
    return other.#sources.every((s) => subtractIntervals(s.intervals, this.#intervalsOf(s.uuid, s.tag)).length === 0);
  }

  containsGtid(gtid: MysqlGtid): boolean {
    const { uuid, tag } = checkedSource(gtid);
    return this.#intervalsOf(uuid, tag).some((i) => i.first <= gtid.gno && gtid.gno <= i.last);
  }

  add(gtid: MysqlGtid): MysqlGtidSet {
    if (this.containsGtid(gtid)) return this;
    return this.union(MysqlGtidSet.fromGtids([gtid]));
  }

  isEmpty(): boolean {
    return this.#sources.length === 0;
  }

  equals(other: MysqlGtidSet): boolean {
    if (this.#sources.length !== other.#sources.length) return false;
    return this.#sources.every((s, i) => {
      const o = other.#sources[i]!;
      return (
        s.uuid === o.uuid &&
        s.tag === o.tag &&
        s.intervals.length === o.intervals.length &&
        s.intervals.every((iv, k) => iv.first === o.intervals[k]!.first && iv.last === o.intervals[k]!.last)
      );
    });
  }

  /** The number of GTIDs in the set. */
  size(): bigint {
    let total = 0n;
    for (const s of this.#sources) for (const { first, last } of s.intervals) total += last - first + 1n;
    return total;
  }

  hasTags(): boolean {
    return this.#sources.some((s) => s.tag !== "");
  }

  /** The intervals of one source (empty when the set has none of it). */
  intervalsOf(uuid: string, tag = ""): readonly GtidInterval[] {
    return this.#intervalsOf(normalizeUuid(uuid), normalizeTag(tag));
  }

  [Symbol.iterator](): Iterator<MysqlGtidSource> {
    return this.#sources[Symbol.iterator]();
  }

  #intervalsOf(uuid: string, tag: string): readonly GtidInterval[] {
    return this.#byKey.get(sourceKey(uuid, tag))?.intervals ?? EMPTY_INTERVALS;
  }
}

function checkedSource(gtid: MysqlGtid): { uuid: string; tag: string } {
  const uuid = normalizeUuid(gtid.uuid);
  const tag = normalizeTag(gtid.tag ?? "");
  checkGno(gtid.gno, formatMysqlGtid(gtid));
  return { uuid, tag };
}

/** Little-endian reads over a binary GTID set; every failure names the byte offset. */
class BinaryReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  fail(offset: number, problem: string): never {
    throw new GtidParseError(`malformed binary GTID set (${this.bytes.length} bytes): ${problem} at byte ${offset}`, {
      offset,
    });
  }

  need(n: number, what: string): void {
    if (this.remaining < n) this.fail(this.pos, `${what} needs ${n} bytes but ${this.remaining} are left (truncated)`);
  }

  u64(what: string): bigint {
    this.need(8, what);
    const value = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return value;
  }

  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const slice = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return slice;
  }

  tag(what: string): string {
    const at = this.pos;
    let length: VarlenRead;
    try {
      length = decodeVarlen(this.bytes, this.pos, what);
    } catch {
      return this.fail(at, `${what} is truncated`);
    }
    if (length.value > BigInt(TAG_MAX_LENGTH)) this.fail(at, `${what} is ${length.value} bytes long, more than ${TAG_MAX_LENGTH}`);
    this.pos += length.size;
    const text = Buffer.from(this.take(Number(length.value), what)).toString("latin1");
    try {
      return normalizeTag(text);
    } catch {
      return this.fail(at, `${what} '${text}' is not a valid tag`);
    }
  }
}
