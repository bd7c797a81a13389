/**
 * MariaDB's own events: GTID (0xa2), GTID_LIST (0xa3), BINLOG_CHECKPOINT (0xa1) and
 * ANNOTATE_ROWS (0xa0). A MariaDB GTID's server id is the event header's server_id.
 */
import { ByteReader, ByteWriter } from "../bytes.ts";
import { BinlogError } from "../errors.ts";

/** flags2 of a MariaDB GTID event. */
export const MariadbGtidFlag = {
  STANDALONE: 0x01,
  GROUP_COMMIT_ID: 0x02,
  TRANSACTIONAL: 0x04,
  ALLOW_PARALLEL: 0x08,
  WAITED: 0x10,
  DDL: 0x20,
  PREPARED_XA: 0x40,
  COMPLETED_XA: 0x80,
} as const;

export interface MariadbXid {
  formatId: number;
  gtrid: Buffer;
  bqual: Buffer;
}

export interface MariadbGtidBody {
  kind: "mariadbGtid";
  seq: bigint;
  domain: number;
  flags2: number;
  commitId?: bigint;
  xid?: MariadbXid;
  /** Extra flags, padding and fields of newer servers, kept for the round trip. */
  trailing: Buffer;
}

export function decodeMariadbGtid(body: Buffer): MariadbGtidBody {
  const r = new ByteReader(body);
  const out: MariadbGtidBody = { kind: "mariadbGtid", seq: r.u64("seq_no"), domain: r.u32("domain_id"), flags2: r.u8("flags2"), trailing: Buffer.alloc(0) };
  if (out.flags2 & MariadbGtidFlag.GROUP_COMMIT_ID) out.commitId = r.u64("commit_id");
  if (out.flags2 & (MariadbGtidFlag.PREPARED_XA | MariadbGtidFlag.COMPLETED_XA)) {
    const formatId = r.u32("xid format_id");
    const gtridLength = r.u8("xid gtrid_length");
    const bqualLength = r.u8("xid bqual_length");
    out.xid = { formatId, gtrid: r.take(gtridLength, "xid gtrid"), bqual: r.take(bqualLength, "xid bqual") };
  }
  out.trailing = r.rest();
  return out;
}

export function encodeMariadbGtid(b: MariadbGtidBody): Buffer {
  const w = new ByteWriter().u64(b.seq).u32(b.domain).u8(b.flags2);
  if (b.commitId !== undefined) w.u64(b.commitId);
  if (b.xid) w.u32(b.xid.formatId).u8(b.xid.gtrid.length).u8(b.xid.bqual.length).bytes(b.xid.gtrid).bytes(b.xid.bqual);
  w.bytes(b.trailing);
  // The server pads the body to at least 19 bytes; a built event gets the same padding.
  if (w.length < 19) w.bytes(Buffer.alloc(19 - w.length));
  return w.toBuffer();
}

export interface MariadbGtidListEntry {
  domain: number;
  serverId: number;
  seq: bigint;
}

export interface MariadbGtidListBody {
  kind: "mariadbGtidList";
  /** The high bits of the count word (GTID_LIST flags). */
  flags: number;
  list: MariadbGtidListEntry[];
  trailing: Buffer;
}

const GTID_LIST_COUNT_MASK = 0x0fffffff;

export function decodeMariadbGtidList(body: Buffer): MariadbGtidListBody {
  const r = new ByteReader(body);
  const word = r.u32("gtid list count");
  const count = word & GTID_LIST_COUNT_MASK;
  if (count * 16 > r.remaining) throw new BinlogError("BINLOG_TRUNCATED", `GTID list announces ${count} entries in ${r.remaining} bytes`);
  const list: MariadbGtidListEntry[] = [];
  for (let i = 0; i < count; i++) list.push({ domain: r.u32(), serverId: r.u32(), seq: r.u64() });
  return { kind: "mariadbGtidList", flags: (word >>> 28) & 0xf, list, trailing: r.rest() };
}

export function encodeMariadbGtidList(b: MariadbGtidListBody): Buffer {
  const w = new ByteWriter().u32(((b.flags << 28) | b.list.length) >>> 0);
  for (const e of b.list) w.u32(e.domain).u32(e.serverId).u64(e.seq);
  return w.bytes(b.trailing).toBuffer();
}

export interface MariadbBinlogCheckpointBody {
  kind: "mariadbBinlogCheckpoint";
  logFile: string;
}

export function decodeMariadbBinlogCheckpoint(body: Buffer): MariadbBinlogCheckpointBody {
  const r = new ByteReader(body);
  const length = r.u32("checkpoint name length");
  return { kind: "mariadbBinlogCheckpoint", logFile: r.take(length, "checkpoint file name").toString("utf8") };
}

export function encodeMariadbBinlogCheckpoint(b: MariadbBinlogCheckpointBody): Buffer {
  const name = Buffer.from(b.logFile, "utf8");
  return new ByteWriter().u32(name.length).bytes(name).toBuffer();
}

export interface MariadbAnnotateRowsBody {
  kind: "mariadbAnnotateRows";
  sql: Buffer;
}
