/** The Raft core's public surface: what a node loop, a storage and a transport need. */
export { RawNode, type Ready, type SoftState, type Status, type ProgressStatus, type ProposeOptions, type Proposed } from "./raw-node.ts";
export { Role, type RaftConfig, type UnsafeFaults } from "./raft.ts";
export { MessageType, describeMessage, mustFollowPersistence, type Message } from "./messages.ts";
export type { AppendMessage, AppendResponse, VoteRequest, VoteResponse, HeartbeatMessage, HeartbeatResponse, SnapshotMessage, TimeoutNowMessage } from "./messages.ts";
export { ConfChangeType, applyConfChange, decodeConfChange, encodeConfChange, type ConfChange, type ConfChangeRecord } from "./conf-change.ts";
export { type Storage, payloadBytes } from "./storage.ts";
export { MemoryStorage, type PersistUpdate } from "./memory-storage.ts";
export { SeededRandom, type RandomSource } from "./random.ts";
export { ProgressState } from "./progress.ts";
export { RaftError, ProposalDroppedError, ConfChangeError, LogCompactedError, LogUnavailableError, type RaftErrorCode, type ProposalDroppedCode } from "./errors.ts";
export { EntryType, type Entry, type HardState, type ConfState, type SnapshotMetadata } from "./types.ts";
