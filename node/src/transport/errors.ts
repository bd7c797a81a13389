import { KingbusError } from "../errors.ts";

export type TransportErrorCode =
  /** A message that cannot cross the wire: a value out of range, a type this build does not know. */
  | "TRANSPORT_BAD_MESSAGE"
  /** A message larger than the gRPC message limit: it could never be delivered, so it is dropped. */
  | "TRANSPORT_OVERSIZE"
  /** Unusable configuration: an address, a limit, TLS files. */
  | "TRANSPORT_BAD_CONFIG"
  /** A call about a peer the transport does not know (or already knows, for addPeer). */
  | "TRANSPORT_UNKNOWN_PEER"
  /** The peer answered but refused the stream: wrong node or cluster, a batch it could not decode. */
  | "TRANSPORT_REFUSED"
  /** The stream to or from a peer broke, or the peer could not be reached. */
  | "TRANSPORT_UNAVAILABLE"
  /** The transport is closed. */
  | "TRANSPORT_CLOSED"
  /** A received snapshot file fails its size or CRC32 check. */
  | "SNAPSHOT_CORRUPT"
  /** A snapshot stream that breaks the format: chunks out of order, an unsafe file name, a missing file. */
  | "SNAPSHOT_INVALID"
  /** A snapshot could not be sent: the source files, the stream, or the receiver failed. */
  | "SNAPSHOT_FAILED"
  /** A snapshot to this peer is already being sent. */
  | "SNAPSHOT_BUSY";

export class TransportError extends KingbusError {
  declare readonly code: TransportErrorCode;
  /** The peer the error is about, when there is one. */
  readonly peer: number | undefined;

  constructor(code: TransportErrorCode, message: string, options?: { peer?: number; cause?: unknown }) {
    super(code, options?.peer === undefined ? message : `peer ${options.peer}: ${message}`, options);
    this.peer = options?.peer;
  }
}
