/** XID_EVENT (16): the commit of an InnoDB transaction, carrying its u64 transaction id. */
import { ByteReader, ByteWriter } from "../bytes.ts";

export interface XidBody {
  kind: "xid";
  xid: bigint;
}

export function decodeXid(body: Buffer): XidBody {
  return { kind: "xid", xid: new ByteReader(body).u64("xid") };
}

export function encodeXid(b: XidBody): Buffer {
  return new ByteWriter().u64(b.xid).toBuffer();
}
