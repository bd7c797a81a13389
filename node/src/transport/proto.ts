/**
 * node/proto/kingbus.proto, loaded at run time (no generated code). One load per process: the
 * definitions are immutable and shared by every transport, client and server.
 */
import { fileURLToPath } from "node:url";
import { loadSync, type Options } from "@grpc/proto-loader";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import type { WireMessageBatch, WireSendResponse, WireSnapshotChunk, WireSnapshotResponse } from "./wire-types.ts";

export const PROTO_PATH = fileURLToPath(new URL("../../proto/kingbus.proto", import.meta.url));

/**
 * uint64 as numbers: exact below 2^53, and anything larger decodes to a number that is not a safe
 * integer, which the codec refuses (kingbus ids, indexes and terms never reach 2^53). `defaults`
 * makes every scalar present, so a decoded value has the hand-written shape without optional
 * fields; `oneofs` names the set member of a oneof.
 */
export const LOADER_OPTIONS: Options = { keepCase: false, longs: Number, enums: Number, defaults: true, oneofs: true };

export interface KingbusProto {
  raftService: ServiceDefinition;
  send: MethodDefinition<WireMessageBatch, WireSendResponse>;
  sendSnapshot: MethodDefinition<WireSnapshotChunk, WireSnapshotResponse>;
  adminService: ServiceDefinition;
}

let loaded: KingbusProto | undefined;

export function kingbusProto(): KingbusProto {
  if (loaded !== undefined) return loaded;
  const definition = loadSync(PROTO_PATH, LOADER_OPTIONS);
  const raftService = definition["kingbus.v1.Raft"] as unknown as ServiceDefinition;
  const adminService = definition["kingbus.v1.Admin"] as unknown as ServiceDefinition;
  loaded = {
    raftService,
    send: raftService["Send"] as MethodDefinition<WireMessageBatch, WireSendResponse>,
    sendSnapshot: raftService["SendSnapshot"] as MethodDefinition<WireSnapshotChunk, WireSnapshotResponse>,
    adminService,
  };
  return loaded;
}
