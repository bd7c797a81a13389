import { test } from "node:test";
import assert from "node:assert/strict";
import { Server, ServerCredentials, credentials } from "@grpc/grpc-js";
import { KingbusError } from "../errors.ts";
import { AdminCallError, AdminClient, addAdminService, type AdminHandlers } from "./admin-service.ts";
import type { AdminMember, AdminMethods, AdminServerStatus, AdminSyncerStatus } from "./admin-types.ts";
import { kingbusProto } from "./proto.ts";
import type { WireMessageBatch, WireSnapshotChunk } from "./wire-types.ts";

// Fully populated values, no field at its default: a round trip through the .proto gives back
// exactly the value only if the hand-written type and the .proto name the same fields.

const member: AdminMember = { id: 3, name: "kingbus-2", peerUrls: ["http://kingbus-2.peer:9696"], adminUrls: ["http://kingbus-2.peer:9595"], learner: true, isLeader: true };
const syncer: AdminSyncerStatus = {
  status: "running", syncerId: 1001, syncerUuid: "f7e30637-f15a-11e8-accc-244427b6b60e", mysqlAddr: "10.0.0.5:3306", mysqlUser: "kb",
  mysqlPasswordSet: true, semiSync: true, currentGtid: "0-1-77", executedGtidSet: "0-1-77", purgedGtidSet: "0-1-10",
  lastBinlogFile: "mysql-bin.000006", lastFilePosition: 2 ** 40, lastError: "none",
  phase: "running", secondsBehindPrimary: -1, eventsReceived: 2 ** 40, bytesReceived: 7, transactionsCommitted: 3,
};
const server: AdminServerStatus = {
  status: "running", addr: "0.0.0.0:3390", user: "kb", passwordSet: true,
  replicas: [{ serverId: 77, host: "10.0.0.9", port: 41234, uuid: "u", start: "0-1-5", connectedUnixMs: 1_700_000_000_000 }],
  currentGtid: "0-1-77", lastBinlogFile: "mysql-bin.000006", lastFilePosition: 194, executedGtidSet: "0-1-77", purgedGtidSet: "0-1-3",
};

const admin: { [M in keyof AdminMethods]: AdminMethods[M] } = {
  Status: [{}, {
    nodeId: 1, clusterId: "c1", role: "leader", term: 9, leaderId: 1, commitIndex: 100, appliedIndex: 99, firstIndex: 5, lastIndex: 101,
    members: [member], progress: [{ id: 3, matchIndex: 98, nextIndex: 99, state: "replicate", reachable: true, messagesDropped: 4 }],
    executedGtidSet: "0-1-77", purgedGtidSet: "0-1-3", version: "0.1.0",
  }],
  ListMembers: [{}, { members: [member, { ...member, id: 2 ** 53 - 1 }] }],
  AddLearner: [{ id: 4, name: "kingbus-3", peerUrl: "http://kingbus-3.peer:9696", adminUrl: "http://kingbus-3.peer:9595" }, { members: [member] }],
  PromoteMember: [{ id: 4 }, { members: [member] }],
  RemoveMember: [{ id: 4 }, { members: [member] }],
  UpdateMember: [{ id: 4, peerUrl: "http://kingbus-3.peer:9699" }, { members: [member] }],
  TransferLeadership: [{ targetId: 2 }, { leaderId: 2, term: 10 }],
  StartSyncer: [{ syncerId: 1001, syncerUuid: "u", mysqlAddr: "10.0.0.5:3306", mysqlUser: "kb", mysqlPassword: "secret", semiSync: true, heartbeatPeriodMs: 500, mysqlTls: true, mysqlTlsCa: "ca", mysqlTlsCert: "cert", mysqlTlsKey: "key", mysqlTlsSkipVerify: true }, syncer],
  StopSyncer: [{}, syncer],
  GetSyncerStatus: [{}, syncer],
  StartServer: [{ addr: "0.0.0.0:3390", user: "kb", password: "pw" }, server],
  StopServer: [{}, server],
  GetServerStatus: [{}, server],
  Purge: [{ before: "binlogFile", binlogFile: "mysql-bin.000003" }, { purgedThroughIndex: 5000, purgedGtidSet: "0-1-3", segmentsRemoved: 2 }],
};

test("the hand-written Admin types name exactly the fields of the .proto, for every RPC", () => {
  const service = kingbusProto().adminService;
  assert.deepEqual(Object.keys(service).sort(), Object.keys(admin).sort());
  for (const [name, [request, response]] of Object.entries(admin)) {
    const method = service[name]!;
    assert.deepEqual(method.requestDeserialize(method.requestSerialize(request)), request, `${name} request`);
    assert.deepEqual(method.responseDeserialize(method.responseSerialize(response)), response, `${name} response`);
  }
  const purge = service["Purge"]!;
  for (const request of [{ before: "beforeUnixMs", beforeUnixMs: 1_700_000_000_000 }, { before: "retention", retention: true }]) {
    assert.deepEqual(purge.requestDeserialize(purge.requestSerialize(request)), request);
  }
});

test("the hand-written Raft wire types name exactly the fields of the .proto", () => {
  const { send, sendSnapshot } = kingbusProto();
  const head = { from: 1, to: 2, term: 3 };
  const batch: WireMessageBatch = {
    messages: [
      { ...head, body: "app", app: { prevIndex: 4, prevTerm: 2, commit: 4, entries: [{ index: 5, term: 3, type: 1, data: Buffer.from([1, 2]) }] } },
      { ...head, body: "appResp", appResp: { index: 5, reject: true, hintIndex: 3, hintTerm: 1 } },
      { ...head, body: "vote", vote: { lastIndex: 5, lastTerm: 3, transfer: true } },
      { ...head, body: "preVote", preVote: { lastIndex: 5, lastTerm: 3, transfer: true } },
      { ...head, body: "voteResp", voteResp: { reject: true } },
      { ...head, body: "preVoteResp", preVoteResp: { reject: true } },
      { ...head, body: "heartbeat", heartbeat: { commit: 5 } },
      { ...head, body: "heartbeatResp", heartbeatResp: {} },
      { ...head, body: "snap", snap: { metadata: { index: 5, term: 3, conf: { voters: [1, 2], learners: [3] } } } },
      { ...head, body: "timeoutNow", timeoutNow: {} },
    ],
  };
  assert.deepEqual(send.requestDeserialize(send.requestSerialize(batch)), batch);
  const chunks: WireSnapshotChunk[] = [
    { part: "header", header: { message: batch.messages[8]!, files: [{ name: "a", size: 3 }] } },
    { part: "data", data: { name: "a", offset: 1, data: Buffer.from("bc") } },
    { part: "fileEnd", fileEnd: { name: "a", size: 3, crc32: 0xffff_fffe } },
  ];
  for (const chunk of chunks) assert.deepEqual(sendSnapshot.requestDeserialize(sendSnapshot.requestSerialize(chunk)), chunk);
  assert.deepEqual(sendSnapshot.responseDeserialize(sendSnapshot.responseSerialize({ bytes: 3, files: 1 })), { bytes: 3, files: 1 });
});

test("Admin stubs: a served handler answers a typed client; errors keep their kingbus code", async () => {
  const notImplemented = (): Promise<never> => Promise.reject(new Error("not implemented"));
  const handlers = Object.fromEntries(Object.keys(admin).map((name) => [name, notImplemented])) as unknown as AdminHandlers;
  handlers.Status = () => Promise.resolve(admin.Status[1]);
  handlers.AddLearner = (request) => Promise.resolve({ members: [{ ...member, id: request.id, name: request.name }] });
  handlers.RemoveMember = () => Promise.reject(new KingbusError("RAFT_NOT_LEADER", "node 1 is not the leader; node 2 is"));
  const grpcServer = new Server();
  addAdminService(grpcServer, handlers);
  const port = await new Promise<number>((resolve, reject) => grpcServer.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new AdminClient(`127.0.0.1:${port}`, credentials.createInsecure());
  try {
    assert.deepEqual(await client.call("Status", {}), admin.Status[1]);
    const added = await client.call("AddLearner", { id: 9, name: "kingbus-8", peerUrl: "p", adminUrl: "a" });
    assert.deepEqual(added.members.map((m) => [m.id, m.name]), [[9, "kingbus-8"]]);
    await assert.rejects(client.call("RemoveMember", { id: 2 }), (e: unknown) => e instanceof AdminCallError && e.code === "RAFT_NOT_LEADER" && /node 2 is/.test(e.message));
    await assert.rejects(client.call("Purge", { before: "retention", retention: true }), (e: unknown) => e instanceof AdminCallError && e.code === "ADMIN_INTERNAL");
  } finally {
    client.close();
    grpcServer.forceShutdown();
  }
  assert.throws(() => addAdminService(new Server(), { ...handlers, Purge: undefined } as unknown as AdminHandlers), (e: unknown) => e instanceof KingbusError && e.code === "ADMIN_HANDLER_MISSING");
});
