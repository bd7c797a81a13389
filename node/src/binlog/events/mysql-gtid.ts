/**
 * MySQL GTID_LOG_EVENT (33) and ANONYMOUS_GTID_LOG_EVENT (34). Each field after the GTID itself was
 * added by a later server version and is present only when the event is long enough:
 *   u8 flags, uuid[16], u64 gno                                  (5.6)
 *   u8 lt_type (2), u64 last_committed, u64 sequence_number      (5.7)
 *   7-byte immediate_commit_timestamp (bit 55: original follows)   (8.0.1)
 *   lenenc transaction_length                                      (8.0.2)
 *   u32 immediate_server_version (bit 31: original follows)        (8.0.14)
 *   u64 commit_group_ticket                                        (8.0.33)
 */
import { ByteReader, ByteWriter } from "../bytes.ts";

const HAS_ORIGINAL_TS = 1n << 55n;
const HAS_ORIGINAL_VERSION = 0x80000000;

export interface MysqlGtidBody {
  kind: "mysqlGtid";
  anonymous: boolean;
  /** bit 0: the transaction may contain statement-based changes. */
  flags: number;
  uuid: string;
  gno: bigint;
  logicalClock?: { ltType: number; lastCommitted: bigint; sequenceNumber: bigint };
  /** Microseconds since the epoch. */
  immediateCommitTimestamp?: bigint;
  originalCommitTimestamp?: bigint;
  transactionLength?: bigint;
  immediateServerVersion?: number;
  originalServerVersion?: number;
  commitGroupTicket?: bigint;
  /** Bytes after the fields this reader knows, kept for the round trip. */
  trailing: Buffer;
}

export function formatUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replaceAll("-", ""), "hex");
}

export function decodeMysqlGtid(body: Buffer, anonymous: boolean): MysqlGtidBody {
  const r = new ByteReader(body);
  const out: MysqlGtidBody = {
    kind: "mysqlGtid",
    anonymous,
    flags: r.u8("gtid flags"),
    uuid: formatUuid(r.take(16, "uuid")),
    gno: r.u64("gno"),
    trailing: Buffer.alloc(0),
  };
  if (r.remaining >= 17) {
    out.logicalClock = { ltType: r.u8("lt_type"), lastCommitted: r.u64("last_committed"), sequenceNumber: r.u64("sequence_number") };
  }
  if (out.logicalClock && r.remaining >= 7) {
    const immediate = r.ubig(7, "immediate_commit_timestamp");
    out.immediateCommitTimestamp = immediate & ~HAS_ORIGINAL_TS;
    if (immediate & HAS_ORIGINAL_TS) out.originalCommitTimestamp = r.ubig(7, "original_commit_timestamp");
    if (r.remaining > 0) out.transactionLength = r.lenenc("transaction_length");
    if (r.remaining >= 4) {
      const immediateVersion = r.u32("immediate_server_version");
      out.immediateServerVersion = immediateVersion & ~HAS_ORIGINAL_VERSION;
      if (immediateVersion & HAS_ORIGINAL_VERSION) out.originalServerVersion = r.u32("original_server_version");
    }
    if (r.remaining >= 8) out.commitGroupTicket = r.u64("commit_group_ticket");
  }
  out.trailing = r.rest();
  return out;
}

export function encodeMysqlGtid(b: MysqlGtidBody): Buffer {
  const w = new ByteWriter().u8(b.flags).bytes(uuidBytes(b.uuid)).u64(b.gno);
  if (b.logicalClock) {
    w.u8(b.logicalClock.ltType).u64(b.logicalClock.lastCommitted).u64(b.logicalClock.sequenceNumber);
  }
  if (b.immediateCommitTimestamp !== undefined) {
    const hasOriginal = b.originalCommitTimestamp !== undefined;
    w.ubig(b.immediateCommitTimestamp | (hasOriginal ? HAS_ORIGINAL_TS : 0n), 7);
    if (hasOriginal) w.ubig(b.originalCommitTimestamp!, 7);
    if (b.transactionLength !== undefined) w.lenenc(b.transactionLength);
    if (b.immediateServerVersion !== undefined) {
      const hasOriginal = b.originalServerVersion !== undefined;
      w.u32((b.immediateServerVersion | (hasOriginal ? HAS_ORIGINAL_VERSION : 0)) >>> 0);
      if (hasOriginal) w.u32(b.originalServerVersion!);
    }
    if (b.commitGroupTicket !== undefined) w.u64(b.commitGroupTicket);
  }
  return Buffer.concat([w.toBuffer(), b.trailing]);
}
