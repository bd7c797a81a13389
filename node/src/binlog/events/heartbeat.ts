/**
 * HEARTBEAT_LOG_EVENT (27): body = the primary's current file name; log_pos = current position.
 * HEARTBEAT_LOG_EVENT_V2 (41, MySQL 8): fields of (lenenc type, lenenc length, value): 1 = file
 * name, 2 = position (a lenenc integer), 0 = end mark. Positions of v2 may exceed 4 GiB.
 */
import { ByteReader, ByteWriter } from "../bytes.ts";

export interface HeartbeatBody {
  kind: "heartbeat";
  logFile: string;
}

export interface HeartbeatV2Body {
  kind: "heartbeatV2";
  logFile: string;
  position: bigint;
  /** Fields in written order, unknown ones included, for the round trip. */
  fields: Array<{ type: bigint; value: Buffer }>;
  endMark: boolean;
}

const HB_FILENAME = 1n;
const HB_POSITION = 2n;

export function decodeHeartbeat(body: Buffer): HeartbeatBody {
  return { kind: "heartbeat", logFile: body.toString("utf8") };
}

export function encodeHeartbeat(b: HeartbeatBody): Buffer {
  return Buffer.from(b.logFile, "utf8");
}

export function decodeHeartbeatV2(body: Buffer): HeartbeatV2Body {
  const r = new ByteReader(body);
  const out: HeartbeatV2Body = { kind: "heartbeatV2", logFile: "", position: 0n, fields: [], endMark: false };
  while (r.remaining > 0) {
    const type = r.lenenc("heartbeat field type");
    if (type === 0n) {
      out.endMark = true;
      break;
    }
    const value = r.take(r.lenencNumber("heartbeat field length"), "heartbeat field");
    out.fields.push({ type, value });
    if (type === HB_FILENAME) out.logFile = value.toString("utf8");
    if (type === HB_POSITION) out.position = new ByteReader(value).lenenc("heartbeat position");
  }
  return out;
}

export function encodeHeartbeatV2(b: HeartbeatV2Body): Buffer {
  const w = new ByteWriter();
  for (const f of b.fields) w.lenenc(f.type).lenenc(f.value.length).bytes(f.value);
  if (b.endMark) w.u8(0);
  return w.toBuffer();
}

/** The v2 body a MySQL 8 primary sends: file name, position, end mark. */
export function buildHeartbeatV2(logFile: string, position: bigint): HeartbeatV2Body {
  const fields = [
    { type: HB_FILENAME, value: Buffer.from(logFile, "utf8") },
    { type: HB_POSITION, value: new ByteWriter().lenenc(position).toBuffer() },
  ];
  return { kind: "heartbeatV2", logFile, position, fields, endMark: true };
}
