/**
 * QUERY_EVENT (2) and MariaDB's QUERY_COMPRESSED_EVENT (165): a statement, with the schema it ran
 * in and its session status variables. Status variables and SQL are kept as bytes: they are served
 * as they were written, and their character set is the session's, not ours.
 */
import { ByteReader, ByteWriter } from "../bytes.ts";
import { BinlogError } from "../errors.ts";

/** Fixed post-header of a v4 QUERY event; servers may announce a longer one. */
export const QUERY_POST_HEADER_LENGTH = 13;

export interface QueryBody {
  kind: "query";
  threadId: number;
  execTime: number;
  errorCode: number;
  /** Post-header bytes beyond the 13 this reader knows, kept for the round trip. */
  extraPostHeader: Buffer;
  statusVars: Buffer;
  schema: Buffer;
  /** The statement; for QUERY_COMPRESSED_EVENT still compressed. */
  sql: Buffer;
}

export function decodeQuery(body: Buffer, postHeaderLength: number): QueryBody {
  if (postHeaderLength < QUERY_POST_HEADER_LENGTH) {
    throw new BinlogError("BINLOG_UNSUPPORTED", `QUERY post-header of ${postHeaderLength} bytes (pre-v4 binlog)`);
  }
  const r = new ByteReader(body);
  const threadId = r.u32("thread_id");
  const execTime = r.u32("exec_time");
  const schemaLength = r.u8("db_len");
  const errorCode = r.u16("error_code");
  const statusVarsLength = r.u16("status_vars_len");
  const extraPostHeader = r.take(postHeaderLength - QUERY_POST_HEADER_LENGTH, "post-header");
  const statusVars = r.take(statusVarsLength, "status variables");
  const schema = r.take(schemaLength, "schema name");
  if (r.u8("schema terminator") !== 0) throw new BinlogError("BINLOG_CORRUPT", "QUERY schema name is not NUL-terminated");
  return { kind: "query", threadId, execTime, errorCode, extraPostHeader, statusVars, schema, sql: r.rest() };
}

export function encodeQuery(b: QueryBody): Buffer {
  return new ByteWriter()
    .u32(b.threadId)
    .u32(b.execTime)
    .u8(b.schema.length)
    .u16(b.errorCode)
    .u16(b.statusVars.length)
    .bytes(b.extraPostHeader)
    .bytes(b.statusVars)
    .bytes(b.schema)
    .u8(0)
    .bytes(b.sql)
    .toBuffer();
}

/** The statement keyword that decides transaction boundaries, upper-cased ("BEGIN", "XA", ...). */
export function queryKeyword(sql: Buffer): string {
  let i = 0;
  while (i < sql.length && (sql[i] === 0x20 || sql[i] === 0x09 || sql[i] === 0x0a || sql[i] === 0x0d)) i++;
  let j = i;
  while (j < sql.length && j - i < 16 && isWordByte(sql[j]!)) j++;
  return sql.subarray(i, j).toString("latin1").toUpperCase();
}

function isWordByte(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
}
