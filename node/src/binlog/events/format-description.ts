/**
 * FORMAT_DESCRIPTION_EVENT (15): the first real event of every binlog file.
 * Body: u16 binlog_version, char[50] server_version, u32 created, u8 header_length,
 * u8 post_header_len[N], then (5.6.1+ / MariaDB 5.3+) u8 checksum_alg. N is read from the event size.
 */
import { ByteReader, ByteWriter } from "../bytes.ts";
import { ChecksumAlgorithm } from "../checksum.ts";
import { BinlogError } from "../errors.ts";
import { fdeHasChecksumFields, flavorOf, splitServerVersion, type BinlogFormat } from "../format.ts";

export const SERVER_VERSION_LENGTH = 50;

export interface FormatDescriptionBody {
  kind: "formatDescription";
  binlogVersion: number;
  /** The version text up to the first NUL. */
  serverVersion: string;
  /** All 50 bytes as written (the padding is not always zeros). */
  serverVersionBytes: Buffer;
  createTimestamp: number;
  headerLength: number;
  postHeaderLengths: Buffer;
  /** undefined when the server predates checksums (and the FDE has no algorithm byte). */
  checksumAlgorithm: number | undefined;
}

/** Whether the FDE body (with its algorithm byte but without its CRC) carries checksum fields. */
export function decodeFormatDescription(body: Buffer, hasChecksumFields: boolean): FormatDescriptionBody {
  const r = new ByteReader(body);
  const binlogVersion = r.u16("binlog_version");
  const serverVersionBytes = r.take(SERVER_VERSION_LENGTH, "server_version");
  const nul = serverVersionBytes.indexOf(0);
  const serverVersion = serverVersionBytes.subarray(0, nul < 0 ? SERVER_VERSION_LENGTH : nul).toString("latin1");
  const createTimestamp = r.u32("created");
  const headerLength = r.u8("header_length");
  if (headerLength !== 19) {
    throw new BinlogError("BINLOG_UNSUPPORTED", `format description announces a ${headerLength}-byte event header (only v4, 19 bytes, is read)`);
  }
  const tableLength = r.remaining - (hasChecksumFields ? 1 : 0);
  if (tableLength < 0) throw new BinlogError("BINLOG_TRUNCATED", "format description ends before its post-header lengths");
  const postHeaderLengths = r.take(tableLength, "post_header_len");
  const checksumAlgorithm = hasChecksumFields ? r.u8("checksum_alg") : undefined;
  return { kind: "formatDescription", binlogVersion, serverVersion, serverVersionBytes, createTimestamp, headerLength, postHeaderLengths, checksumAlgorithm };
}

export function encodeFormatDescription(b: FormatDescriptionBody): Buffer {
  const w = new ByteWriter().u16(b.binlogVersion);
  const version = Buffer.alloc(SERVER_VERSION_LENGTH);
  (b.serverVersionBytes.length === SERVER_VERSION_LENGTH ? b.serverVersionBytes : Buffer.from(b.serverVersion, "latin1")).copy(version);
  w.bytes(version).u32(b.createTimestamp).u8(b.headerLength).bytes(b.postHeaderLengths);
  if (b.checksumAlgorithm !== undefined) w.u8(b.checksumAlgorithm);
  return w.toBuffer();
}

/** Peeks at the server version of an FDE body to learn whether it ends in checksum fields. */
export function fdeBodyHasChecksumFields(bodyWithTrailer: Buffer): boolean {
  const raw = bodyWithTrailer.subarray(2, 2 + SERVER_VERSION_LENGTH);
  const nul = raw.indexOf(0);
  return fdeHasChecksumFields(raw.subarray(0, nul < 0 ? raw.length : nul).toString("latin1"));
}

/** The reading context this FDE sets for the events after it. */
export function formatFromDescription(fde: FormatDescriptionBody): BinlogFormat {
  return {
    flavor: flavorOf(fde.serverVersion),
    serverVersion: fde.serverVersion,
    version: splitServerVersion(fde.serverVersion),
    checksum: checksumOfFollowingEvents(fde.checksumAlgorithm),
    postHeaderLengths: fde.postHeaderLengths,
  };
}

/** No algorithm byte (pre-checksum servers) and UNDEF both mean: events carry no checksum. */
function checksumOfFollowingEvents(alg: number | undefined): ChecksumAlgorithm {
  if (alg === undefined || alg === ChecksumAlgorithm.UNDEF || alg === ChecksumAlgorithm.OFF) return ChecksumAlgorithm.OFF;
  if (alg === ChecksumAlgorithm.CRC32) return ChecksumAlgorithm.CRC32;
  throw new BinlogError("BINLOG_UNSUPPORTED", `format description announces checksum algorithm ${alg} (known: 0 NONE, 1 CRC32)`);
}
