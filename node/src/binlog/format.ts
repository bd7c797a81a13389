/**
 * What the FORMAT_DESCRIPTION event tells a reader about the events that follow it: the server's
 * flavour and version, the checksum algorithm, and the post-header length of each event type.
 */
import { ChecksumAlgorithm } from "./checksum.ts";

export type Flavor = "mysql" | "mariadb";

export interface BinlogFormat {
  flavor: Flavor;
  serverVersion: string;
  /** major, minor, patch as the server's own version split reads them. */
  version: readonly [number, number, number];
  /** Algorithm of the events after the FDE. */
  checksum: ChecksumAlgorithm;
  /** post_header_len[type - 1], as the FDE lists them. */
  postHeaderLengths: Uint8Array;
}

/** Post-header lengths a v4 reader assumes before it has seen an FDE (MySQL 5.0's table). */
const V4_DEFAULT_POST_HEADERS = Uint8Array.from([56, 13, 0, 8, 0, 18, 0, 4, 4, 4, 12, 0, 0, 0, 84, 0, 4, 26, 8, 0, 0, 0]);

/** The format assumed before any FDE: no checksums, MySQL 5.0 post-header lengths. */
export function defaultFormat(checksum: ChecksumAlgorithm = ChecksumAlgorithm.OFF): BinlogFormat {
  return { flavor: "mysql", serverVersion: "", version: [5, 0, 0], checksum, postHeaderLengths: V4_DEFAULT_POST_HEADERS };
}

/** The server's version split: leading numbers of `x.y.z-suffix`, missing parts 0. */
export function splitServerVersion(serverVersion: string): [number, number, number] {
  const match = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(serverVersion);
  if (!match) return [0, 0, 0];
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
}

export function flavorOf(serverVersion: string): Flavor {
  return /mariadb/i.test(serverVersion) ? "mariadb" : "mysql";
}

/**
 * Whether an FDE written by this server ends in checksum algorithm + CRC bytes. MySQL added them in
 * 5.6.1 and MariaDB in 5.3.0; older FDEs end right after the post-header lengths.
 */
export function fdeHasChecksumFields(serverVersion: string): boolean {
  const [major, minor, patch] = splitServerVersion(serverVersion);
  const [sMajor, sMinor, sPatch] = flavorOf(serverVersion) === "mariadb" ? [5, 3, 0] : [5, 6, 1];
  return major * 10000 + minor * 100 + patch >= sMajor * 10000 + sMinor * 100 + sPatch;
}

export function postHeaderLength(format: BinlogFormat, type: number, fallback: number): number {
  return format.postHeaderLengths[type - 1] ?? fallback;
}
