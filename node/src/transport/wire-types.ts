/**
 * The JavaScript shapes of the Raft service's protobuf messages (node/proto/kingbus.proto) as
 * @grpc/proto-loader reads and writes them with the options in proto.ts: camelCase field names,
 * uint64 as numbers, enums as numbers, bytes as Buffers, every scalar present, the name of the set
 * oneof member in `body` / `part`. Written by hand; proto.test.ts checks them against the .proto.
 */

/**
 * A uint64 field. Decoding turns it into a number, and a value of 2^53 or more comes out rounded
 * to a number that is not a safe integer, which is how the codec tells it was out of range.
 */
export type U64 = number;

export interface WireEntry {
  index: U64;
  term: U64;
  /** EntryType: 0 normal, 1 conf change, 2 empty. A proto3 enum keeps unknown values as numbers. */
  type: number;
  data: Uint8Array;
}

export interface WireConfState {
  voters: U64[];
  learners: U64[];
}

export interface WireSnapshotMetadata {
  index: U64;
  term: U64;
  /** Absent sub-messages decode as null. */
  conf: WireConfState | null;
}

export interface WireAppend {
  prevIndex: U64;
  prevTerm: U64;
  entries: WireEntry[];
  commit: U64;
}

export interface WireAppendResponse {
  index: U64;
  reject: boolean;
  hintIndex: U64;
  hintTerm: U64;
}

export interface WireVoteRequest {
  lastIndex: U64;
  lastTerm: U64;
  transfer: boolean;
}

export interface WireVoteResponse {
  reject: boolean;
}

export interface WireHeartbeat {
  commit: U64;
}

/** HeartbeatResponse and TimeoutNow have no fields of their own. */
export type WireEmpty = Record<string, never>;

export interface WireSnapshot {
  metadata: WireSnapshotMetadata | null;
}

export interface WireRaftMessageBodies {
  app: WireAppend;
  appResp: WireAppendResponse;
  vote: WireVoteRequest;
  voteResp: WireVoteResponse;
  preVote: WireVoteRequest;
  preVoteResp: WireVoteResponse;
  heartbeat: WireHeartbeat;
  heartbeatResp: WireEmpty;
  snap: WireSnapshot;
  timeoutNow: WireEmpty;
}
export type WireBodyName = keyof WireRaftMessageBodies;

/** Exactly one body member is set; `body` names it on decode and is ignored on encode. */
export type WireRaftMessage = {
  from: U64;
  to: U64;
  term: U64;
  body?: WireBodyName;
} & { [K in WireBodyName]?: WireRaftMessageBodies[K] };

export interface WireMessageBatch {
  messages: WireRaftMessage[];
}

export type WireSendResponse = WireEmpty;

export interface WireSnapshotFile {
  name: string;
  size: U64;
}

export interface WireSnapshotHeader {
  message: WireRaftMessage | null;
  files: WireSnapshotFile[];
}

export interface WireFileData {
  name: string;
  offset: U64;
  data: Uint8Array;
}

export interface WireFileEnd {
  name: string;
  size: U64;
  crc32: number;
}

export interface WireSnapshotChunk {
  part?: "header" | "data" | "fileEnd";
  header?: WireSnapshotHeader;
  data?: WireFileData;
  fileEnd?: WireFileEnd;
}

export interface WireSnapshotResponse {
  bytes: U64;
  files: number;
}
