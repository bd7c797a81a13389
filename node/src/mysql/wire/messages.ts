/**
 * Generic response packets (OK, ERR, EOF), text result sets, and the field helpers they need
 * (length-encoded strings, NUL-terminated strings) on top of the binlog's ByteReader/ByteWriter.
 * Encoders for the server side, decoders for clients and tests.
 */
import { ByteReader, ByteWriter } from "../../binlog/bytes.ts";
import { Capability, Collation, ColumnFlag, ColumnType, PacketHeader, ServerStatus } from "./constants.ts";
import { WireError, type ServerErrorKind } from "./errors.ts";

// ---------------------------------------------------------------------------------------------
// Field helpers

export function writeLenencString(w: ByteWriter, value: string | Uint8Array): ByteWriter {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  return w.lenenc(bytes.length).bytes(bytes);
}

export function writeNulString(w: ByteWriter, value: string | Uint8Array): ByteWriter {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  return w.bytes(bytes).u8(0);
}

/** Runs a decoder, turning binlog-style read errors into WIRE_MALFORMED naming what was parsed. */
export function parsing<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (cause) {
    if (cause instanceof WireError) throw cause;
    throw new WireError("WIRE_MALFORMED", `malformed ${what}: ${(cause as Error).message}`, { cause });
  }
}

export function readNulString(r: ByteReader, what = "string"): Buffer {
  const end = r.bytes.indexOf(0, r.pos);
  if (end < 0 || end >= r.end) throw new WireError("WIRE_MALFORMED", `${what} is not NUL-terminated`);
  const value = r.bytes.subarray(r.pos, end);
  r.pos = end + 1;
  return value;
}

export function readLenencBytes(r: ByteReader, what = "string"): Buffer {
  return r.take(r.lenencNumber(`${what} length`), what);
}

// ---------------------------------------------------------------------------------------------
// OK / ERR / EOF

export interface OkPacket {
  affectedRows?: bigint | number;
  lastInsertId?: bigint | number;
  status?: number;
  warnings?: number;
  info?: string;
}

/** OK packet (0x00), or with `header: 0xfe` the OK that ends a result set under DEPRECATE_EOF. */
export function encodeOk(ok: OkPacket = {}, header: number = PacketHeader.OK): Buffer {
  const w = new ByteWriter()
    .u8(header)
    .lenenc(ok.affectedRows ?? 0)
    .lenenc(ok.lastInsertId ?? 0)
    .u16(ok.status ?? ServerStatus.AUTOCOMMIT)
    .u16(ok.warnings ?? 0);
  if (ok.info) w.bytes(Buffer.from(ok.info, "utf8"));
  return w.toBuffer();
}

export function encodeErr(kind: ServerErrorKind, message: string): Buffer {
  return new ByteWriter()
    .u8(PacketHeader.ERR)
    .u16(kind.errno)
    .u8(0x23) // '#'
    .bytes(Buffer.from(kind.sqlState.padEnd(5, "0").slice(0, 5), "latin1"))
    .bytes(Buffer.from(message, "utf8"))
    .toBuffer();
}

export function encodeEof(status: number = ServerStatus.AUTOCOMMIT, warnings = 0): Buffer {
  return new ByteWriter().u8(PacketHeader.EOF).u16(warnings).u16(status).toBuffer();
}

/** The end of a command's output: EOF, or under DEPRECATE_EOF an OK with the 0xFE header. */
export function encodeEnd(capabilities: number, status: number = ServerStatus.AUTOCOMMIT): Buffer {
  return capabilities & Capability.DEPRECATE_EOF ? encodeOk({ status }, PacketHeader.EOF) : encodeEof(status);
}

export interface ErrPacket {
  errno: number;
  sqlState: string;
  message: string;
}

export function isErrPacket(payload: Buffer): boolean {
  return payload[0] === PacketHeader.ERR;
}

export function isOkPacket(payload: Buffer): boolean {
  return payload[0] === PacketHeader.OK;
}

/** EOF, or an OK with the 0xFE header: both are shorter than 9 bytes (a 0xFE row would be longer). */
export function isEofPacket(payload: Buffer): boolean {
  return payload[0] === PacketHeader.EOF && payload.length < 9;
}

export function decodeErr(payload: Buffer): ErrPacket {
  return parsing("ERR packet", () => {
    const r = new ByteReader(payload);
    if (r.u8() !== PacketHeader.ERR) throw new WireError("WIRE_MALFORMED", "not an ERR packet");
    const errno = r.u16("error code");
    let sqlState = "HY000";
    if (r.remaining > 0 && r.bytes[r.pos] === 0x23) {
      r.pos++;
      sqlState = r.take(5, "SQL state").toString("latin1");
    }
    return { errno, sqlState, message: r.rest().toString("utf8") };
  });
}

export function decodeOk(payload: Buffer): Required<Omit<OkPacket, "info">> & { info: string } {
  return parsing("OK packet", () => {
    const r = new ByteReader(payload);
    r.u8();
    const affectedRows = r.lenenc("affected rows");
    const lastInsertId = r.lenenc("last insert id");
    const status = r.remaining >= 2 ? r.u16("status") : 0;
    const warnings = r.remaining >= 2 ? r.u16("warnings") : 0;
    return { affectedRows, lastInsertId, status, warnings, info: r.rest().toString("utf8") };
  });
}

// ---------------------------------------------------------------------------------------------
// Text result sets

export type ColumnKind = "string" | "integer" | "double";

export interface Column {
  name: string;
  kind?: ColumnKind;
  /** Default: the name. */
  orgName?: string;
  table?: string;
  schema?: string;
}

/** A cell: text as the text protocol carries it, or null (NULL). Numbers are written in decimal. */
export type Cell = string | number | bigint | Buffer | null;

export interface ResultSet {
  columns: Column[];
  rows: Cell[][];
}

export function encodeColumnDefinition(column: Column, collation: number): Buffer {
  const kind = column.kind ?? "string";
  const type = kind === "integer" ? ColumnType.LONGLONG : kind === "double" ? ColumnType.DOUBLE : ColumnType.VAR_STRING;
  const charset = kind === "string" ? collation : Collation.BINARY;
  const length = kind === "integer" ? 21 : kind === "double" ? 22 : 1024;
  const flags = kind === "string" ? 0 : ColumnFlag.NUM | ColumnFlag.BINARY;
  const decimals = kind === "double" ? 31 : kind === "integer" ? 0 : 39;
  const w = new ByteWriter();
  writeLenencString(w, "def");
  writeLenencString(w, column.schema ?? "");
  writeLenencString(w, column.table ?? "");
  writeLenencString(w, column.table ?? "");
  writeLenencString(w, column.name);
  writeLenencString(w, column.orgName ?? column.name);
  return w.lenenc(0x0c).u16(charset).u32(length).u8(type).u16(flags).u8(decimals).u16(0).toBuffer();
}

function cellBytes(cell: Exclude<Cell, null>): Buffer {
  if (Buffer.isBuffer(cell)) return cell;
  return Buffer.from(typeof cell === "string" ? cell : String(cell), "utf8");
}

export function encodeRow(row: readonly Cell[]): Buffer {
  const w = new ByteWriter();
  for (const cell of row) {
    if (cell === null) w.u8(PacketHeader.NULL_VALUE);
    else writeLenencString(w, cellBytes(cell));
  }
  return w.toBuffer();
}

/** Every payload of a text result set, in order, for the client's capabilities. */
export function encodeResultSet(result: ResultSet, capabilities: number, collation: number): Buffer[] {
  const payloads = [new ByteWriter().lenenc(result.columns.length).toBuffer()];
  for (const column of result.columns) payloads.push(encodeColumnDefinition(column, collation));
  const deprecateEof = (capabilities & Capability.DEPRECATE_EOF) !== 0;
  if (!deprecateEof) payloads.push(encodeEof());
  for (const row of result.rows) payloads.push(encodeRow(row));
  payloads.push(encodeEnd(capabilities));
  return payloads;
}

/** Reads a column definition's name (for clients and tests). */
export function decodeColumnName(payload: Buffer): string {
  return parsing("column definition", () => {
    const r = new ByteReader(payload);
    for (let i = 0; i < 4; i++) readLenencBytes(r, "column field");
    return readLenencBytes(r, "column name").toString("utf8");
  });
}

/** Reads a text row (for clients and tests). */
export function decodeRow(payload: Buffer, columns: number): Array<string | null> {
  return parsing("row", () => {
    const r = new ByteReader(payload);
    const row: Array<string | null> = [];
    for (let i = 0; i < columns; i++) {
      if (r.bytes[r.pos] === PacketHeader.NULL_VALUE) {
        r.pos++;
        row.push(null);
      } else {
        row.push(readLenencBytes(r, "cell").toString("utf8"));
      }
    }
    return row;
  });
}
