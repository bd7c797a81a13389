/**
 * The JavaScript shapes of the Admin service's messages (node/proto/kingbus.proto), read and
 * written by @grpc/proto-loader with the options in proto.ts. Written by hand; proto.test.ts
 * round-trips a fully populated value of each through the .proto, which fails on any field that
 * is missing on either side.
 */
import type { U64 } from "./wire-types.ts";

export type AdminEmpty = Record<string, never>;

export interface AdminMember {
  id: U64;
  name: string;
  peerUrls: string[];
  adminUrls: string[];
  learner: boolean;
  isLeader: boolean;
}

export interface AdminPeerProgress {
  id: U64;
  matchIndex: U64;
  nextIndex: U64;
  state: string;
  reachable: boolean;
  messagesDropped: U64;
}

export interface AdminStatusResponse {
  nodeId: U64;
  clusterId: string;
  role: string;
  term: U64;
  leaderId: U64;
  commitIndex: U64;
  appliedIndex: U64;
  firstIndex: U64;
  lastIndex: U64;
  members: AdminMember[];
  progress: AdminPeerProgress[];
  executedGtidSet: string;
  purgedGtidSet: string;
  version: string;
}

export interface AdminMembersResponse {
  members: AdminMember[];
}

export interface AdminAddLearnerRequest {
  id: U64;
  name: string;
  peerUrl: string;
  adminUrl: string;
}

export interface AdminMemberIdRequest {
  id: U64;
}

export interface AdminUpdateMemberRequest {
  id: U64;
  peerUrl: string;
}

export interface AdminTransferLeadershipRequest {
  targetId: U64;
}

export interface AdminTransferLeadershipResponse {
  leaderId: U64;
  term: U64;
}

export interface AdminStartSyncerRequest {
  syncerId: number;
  syncerUuid: string;
  mysqlAddr: string;
  mysqlUser: string;
  mysqlPassword: string;
  semiSync: boolean;
  heartbeatPeriodMs: number;
  mysqlTls: boolean;
  mysqlTlsCa: string;
  mysqlTlsCert: string;
  mysqlTlsKey: string;
  mysqlTlsSkipVerify: boolean;
}

export interface AdminSyncerStatus {
  status: string;
  syncerId: number;
  syncerUuid: string;
  mysqlAddr: string;
  mysqlUser: string;
  mysqlPasswordSet: boolean;
  semiSync: boolean;
  currentGtid: string;
  executedGtidSet: string;
  purgedGtidSet: string;
  lastBinlogFile: string;
  lastFilePosition: U64;
  lastError: string;
  phase: string;
  secondsBehindPrimary: number;
  eventsReceived: U64;
  bytesReceived: U64;
  transactionsCommitted: U64;
}

export interface AdminStartServerRequest {
  addr: string;
  user: string;
  password: string;
}

export interface AdminReplica {
  serverId: number;
  host: string;
  port: number;
  uuid: string;
  start: string;
  connectedUnixMs: U64;
}

export interface AdminServerStatus {
  status: string;
  addr: string;
  user: string;
  passwordSet: boolean;
  replicas: AdminReplica[];
  currentGtid: string;
  lastBinlogFile: string;
  lastFilePosition: U64;
  executedGtidSet: string;
  purgedGtidSet: string;
}

/** Exactly one of the three is set; `before` names it on decode. */
export interface AdminPurgeRequest {
  before?: "binlogFile" | "beforeUnixMs" | "retention";
  binlogFile?: string;
  beforeUnixMs?: U64;
  retention?: boolean;
}

export interface AdminPurgeResponse {
  purgedThroughIndex: U64;
  purgedGtidSet: string;
  segmentsRemoved: number;
}

/** Every Admin RPC: its request and response shapes, keyed by the RPC name in the .proto. */
export interface AdminMethods {
  Status: [AdminEmpty, AdminStatusResponse];
  ListMembers: [AdminEmpty, AdminMembersResponse];
  AddLearner: [AdminAddLearnerRequest, AdminMembersResponse];
  PromoteMember: [AdminMemberIdRequest, AdminMembersResponse];
  RemoveMember: [AdminMemberIdRequest, AdminMembersResponse];
  UpdateMember: [AdminUpdateMemberRequest, AdminMembersResponse];
  TransferLeadership: [AdminTransferLeadershipRequest, AdminTransferLeadershipResponse];
  StartSyncer: [AdminStartSyncerRequest, AdminSyncerStatus];
  StopSyncer: [AdminEmpty, AdminSyncerStatus];
  GetSyncerStatus: [AdminEmpty, AdminSyncerStatus];
  StartServer: [AdminStartServerRequest, AdminServerStatus];
  StopServer: [AdminEmpty, AdminServerStatus];
  GetServerStatus: [AdminEmpty, AdminServerStatus];
  Purge: [AdminPurgeRequest, AdminPurgeResponse];
}
export type AdminMethodName = keyof AdminMethods;
export type AdminRequest<M extends AdminMethodName> = AdminMethods[M][0];
export type AdminResponse<M extends AdminMethodName> = AdminMethods[M][1];
