/**
 * TRANSACTION_PAYLOAD_EVENT (40, MySQL 8.0.20+ binlog_transaction_compression): one event holding a
 * whole transaction's events, compressed. The body starts with fields of (lenenc type, lenenc
 * length, value) up to an end mark of type 0; the compressed bytes follow. The transaction's XID is
 * inside the payload, so the event closes the transaction its GTID event opened.
 */
import { zstdDecompressSync } from "node:zlib";
import { ByteReader, ByteWriter } from "../bytes.ts";
import { BinlogError } from "../errors.ts";

export const PayloadField = { END: 0, PAYLOAD_SIZE: 1, COMPRESSION_TYPE: 2, UNCOMPRESSED_SIZE: 3 } as const;
export const PayloadCompression = { ZSTD: 0, NONE: 255 } as const;

export interface TransactionPayloadBody {
  kind: "transactionPayload";
  compression: number;
  payloadSize: bigint;
  uncompressedSize: bigint;
  /** The field header exactly as written (field order and unknown fields included). */
  header: Buffer;
  payload: Buffer;
}

export function decodeTransactionPayload(body: Buffer): TransactionPayloadBody {
  const r = new ByteReader(body);
  let compression: number = PayloadCompression.NONE;
  let payloadSize = -1n;
  let uncompressedSize = 0n;
  while (true) {
    const type = r.lenenc("payload field type");
    if (type === BigInt(PayloadField.END)) break;
    const length = r.lenencNumber("payload field length");
    const value = new ByteReader(r.take(length, "payload field value"));
    if (type === BigInt(PayloadField.PAYLOAD_SIZE)) payloadSize = value.lenenc("payload size");
    else if (type === BigInt(PayloadField.COMPRESSION_TYPE)) compression = Number(value.lenenc("compression type"));
    else if (type === BigInt(PayloadField.UNCOMPRESSED_SIZE)) uncompressedSize = value.lenenc("uncompressed size");
  }
  const header = body.subarray(0, r.pos);
  const payload = r.rest();
  if (payloadSize >= 0n && payloadSize !== BigInt(payload.length)) {
    throw new BinlogError("BINLOG_CORRUPT", `transaction payload announces ${payloadSize} bytes and holds ${payload.length}`);
  }
  return { kind: "transactionPayload", compression, payloadSize: BigInt(payload.length), uncompressedSize, header, payload };
}

export function encodeTransactionPayload(b: TransactionPayloadBody): Buffer {
  return Buffer.concat([b.header, b.payload]);
}

/** Builds the body MySQL writes for a payload: compression type, uncompressed size, size, end. */
export function buildTransactionPayload(compression: number, uncompressedSize: bigint, payload: Buffer): TransactionPayloadBody {
  const field = (type: number, value: bigint | number): Buffer => {
    const v = new ByteWriter().lenenc(value).toBuffer();
    return new ByteWriter().lenenc(type).lenenc(v.length).bytes(v).toBuffer();
  };
  const header = Buffer.concat([
    field(PayloadField.COMPRESSION_TYPE, compression),
    field(PayloadField.UNCOMPRESSED_SIZE, uncompressedSize),
    field(PayloadField.PAYLOAD_SIZE, payload.length),
    Buffer.of(PayloadField.END),
  ]);
  return { kind: "transactionPayload", compression, payloadSize: BigInt(payload.length), uncompressedSize, header, payload };
}

/** The uncompressed events of the payload (checksum-less v4 events, back to back). */
export function decompressTransactionPayload(b: TransactionPayloadBody): Buffer {
  if (b.compression === PayloadCompression.NONE) return b.payload;
  if (b.compression !== PayloadCompression.ZSTD) {
    throw new BinlogError("BINLOG_UNSUPPORTED", `transaction payload compressed with unknown algorithm ${b.compression}`);
  }
  let out: Buffer;
  try {
    out = zstdDecompressSync(b.payload);
  } catch (cause) {
    throw new BinlogError("BINLOG_CORRUPT", "transaction payload does not decompress as zstd", { cause });
  }
  if (BigInt(out.length) !== b.uncompressedSize) {
    throw new BinlogError("BINLOG_CORRUPT", `transaction payload decompressed to ${out.length} bytes, ${b.uncompressedSize} announced`);
  }
  return out;
}
