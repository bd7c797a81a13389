/**
 * Little-endian cursors over event bytes, in the integer forms the binlog uses (fixed widths up to
 * 8 bytes, and MySQL's length-encoded integers). Reads past the end throw BINLOG_TRUNCATED, so
 * decoders never index out of a short buffer.
 */
import { BinlogError } from "./errors.ts";

export class ByteReader {
  readonly bytes: Buffer;
  pos: number;
  readonly end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      throw new BinlogError("BINLOG_TRUNCATED", `${what} needs ${n} bytes, ${this.remaining} left`);
    }
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }

  u16(what = "u16"): number {
    this.need(2, what);
    const v = this.bytes.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(what = "u24"): number {
    this.need(3, what);
    const v = this.bytes.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.bytes.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** An unsigned integer of 1 to 6 bytes as a number. */
  uint(width: number, what = "uint"): number {
    this.need(width, what);
    const v = this.bytes.readUIntLE(this.pos, width);
    this.pos += width;
    return v;
  }

  /** An unsigned integer of 7 or 8 bytes as a bigint (commit timestamps are 7 bytes). */
  ubig(width: 7 | 8, what = "u64"): bigint {
    this.need(width, what);
    const low = BigInt(this.bytes.readUInt32LE(this.pos));
    const high = BigInt(this.bytes.readUIntLE(this.pos + 4, width - 4));
    this.pos += width;
    return (high << 32n) | low;
  }

  u64(what = "u64"): bigint {
    return this.ubig(8, what);
  }

  /** MySQL's length-encoded integer (net_field_length); 0xfb (NULL) is refused. */
  lenenc(what = "length-encoded integer"): bigint {
    const first = this.u8(what);
    if (first < 0xfb) return BigInt(first);
    if (first === 0xfc) return BigInt(this.uint(2, what));
    if (first === 0xfd) return BigInt(this.uint(3, what));
    if (first === 0xfe) return this.u64(what);
    throw new BinlogError("BINLOG_CORRUPT", `${what} starts with 0x${first.toString(16)}`);
  }

  /** A length-encoded integer that must fit a JavaScript number (lengths, sizes). */
  lenencNumber(what = "length-encoded integer"): number {
    const v = this.lenenc(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BinlogError("BINLOG_CORRUPT", `${what} ${v} is too large`);
    return Number(v);
  }

  take(n: number, what = "bytes"): Buffer {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  rest(): Buffer {
    return this.take(this.remaining);
  }
}

/** Collects little-endian fields into one buffer. */
export class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;

  private push(b: Buffer): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  u8(v: number): this {
    return this.push(Buffer.of(v & 0xff));
  }

  u16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16LE(v);
    return this.push(b);
  }

  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0);
    return this.push(b);
  }

  uint(v: number, width: number): this {
    const b = Buffer.allocUnsafe(width);
    b.writeUIntLE(v, 0, width);
    return this.push(b);
  }

  ubig(v: bigint, width: 7 | 8): this {
    const b = Buffer.allocUnsafe(width);
    b.writeUInt32LE(Number(v & 0xffffffffn), 0);
    b.writeUIntLE(Number((v >> 32n) & (width === 8 ? 0xffffffffn : 0xffffffn)), 4, width - 4);
    return this.push(b);
  }

  u64(v: bigint): this {
    return this.ubig(v, 8);
  }

  /** The shortest length-encoded form, as MySQL's net_store_length writes it. */
  lenenc(v: bigint | number): this {
    const n = BigInt(v);
    if (n < 0xfbn) return this.u8(Number(n));
    if (n <= 0xffffn) return this.u8(0xfc).uint(Number(n), 2);
    if (n <= 0xffffffn) return this.u8(0xfd).uint(Number(n), 3);
    return this.u8(0xfe).u64(n);
  }

  bytes(b: Uint8Array): this {
    return this.push(Buffer.isBuffer(b) ? b : Buffer.from(b));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}
