import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { Server, ServerCredentials, credentials, status } from "@grpc/grpc-js";
import { pino } from "pino";
import { ProposalDroppedError } from "../raft/errors.ts";
import { AdminCallError, AdminClient } from "../transport/admin-service.ts";
import type { AdminMethodName } from "../transport/admin-types.ts";
import type { ControlMember, NewLearner, NodeControl, NodeStatus, PurgeTarget } from "./control.ts";
import { AdminError } from "./errors.ts";
import { AdminGrpcClient, serveAdmin, type ServeAdminOptions } from "./grpc-admin.ts";

/** The StartSyncer fields beyond the original's: defaults (heartbeat from the backend, no TLS). */
const NO_TLS = { heartbeatPeriodMs: 0, mysqlTls: false, mysqlTlsCa: "", mysqlTlsCert: "", mysqlTlsKey: "", mysqlTlsSkipVerify: false };
import { FakeBackend } from "./testing/fake-backend.ts";

const PASSWORD = "s3cret-Pa55word";

/** A NodeControl that keeps a membership with roles and records every call with its arguments. */
class FakeControl implements NodeControl {
  readonly calls: [string, unknown][] = [];
  members_: ControlMember[] = [
    { id: 1, name: "kb-0", peerUrls: ["http://kb-0.peer:9696"], adminUrls: ["http://kb-0.peer:9595"], role: "voter", isLeader: true },
    { id: 2, name: "kb-1", peerUrls: ["http://kb-1.peer:9696"], adminUrls: [], role: "voter", isLeader: false, progress: { matchIndex: 40, nextIndex: 41, state: "replicate", reachable: true, messagesDropped: 3 } },
    { id: 3, name: "kb-2", peerUrls: ["http://kb-2.peer:9696"], adminUrls: [], role: "learner", isLeader: false, progress: { matchIndex: 7, nextIndex: 8, state: "snapshot", reachable: false, messagesDropped: 0 } },
  ];
  passwordSet = false;
  /** When set, the next call throws it. */
  failNext: unknown;
  /** When set, addLearner waits for it (to test that mutations do not overlap). */
  gate: Promise<void> | undefined;
  running = 0;
  maxRunning = 0;

  #enter(call: string, args: unknown): void {
    this.calls.push([call, args]);
    if (this.failNext !== undefined) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
  }

  status(): NodeStatus {
    this.#enter("status", undefined);
    return {
      id: 1, name: "kb-0", clusterId: "c-1", role: "leader", term: 7, leaderId: 1, commitIndex: 42, appliedIndex: 41, firstIndex: 3, lastIndex: 43,
      members: this.members_, executedGtidSet: "0-1-99", purgedGtidSet: "0-1-2", version: "0.1.0",
    };
  }

  members(): ControlMember[] {
    this.#enter("members", undefined);
    return this.members_;
  }

  async addLearner(learner: NewLearner): Promise<ControlMember[]> {
    this.#enter("addLearner", learner);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      if (this.gate !== undefined) await this.gate;
      if (this.members_.some((m) => m.id === learner.id)) throw new AdminError("MEMBER_EXISTS", `member ${learner.id} exists already`);
      this.members_ = [...this.members_, { id: learner.id, name: learner.name, peerUrls: [learner.peerUrl], adminUrls: learner.adminUrl === undefined ? [] : [learner.adminUrl], role: "learner", isLeader: false }];
      return this.members_;
    } finally {
      this.running--;
    }
  }

  promote(id: number): ControlMember[] {
    this.#enter("promote", id);
    this.members_ = this.members_.map((m) => (m.id === id ? { ...m, role: "voter" } : m));
    return this.members_;
  }

  remove(id: number): ControlMember[] {
    this.#enter("remove", id);
    this.members_ = this.members_.filter((m) => m.id !== id);
    return this.members_;
  }

  transferLeadership(toId: number): { leaderId: number; term: number } {
    this.#enter("transferLeadership", toId);
    return { leaderId: toId, term: 8 };
  }

  purge(target: PurgeTarget): { purgedThroughIndex: number; purgedGtidSet: string; segmentsRemoved: number } {
    this.#enter("purge", target);
    return { purgedThroughIndex: 1000, purgedGtidSet: "0-1-50", segmentsRemoved: 2 };
  }

  syncerPasswordSet(): boolean {
    this.#enter("syncerPasswordSet", undefined);
    return this.passwordSet;
  }
}

interface Running {
  server: Server;
  target: string;
  backend: FakeBackend;
  control: FakeControl;
  logs: string[];
  close(): Promise<void>;
}

async function start(options: Partial<ServeAdminOptions> & { backend?: FakeBackend; control?: FakeControl } = {}): Promise<Running> {
  const backend = options.backend ?? new FakeBackend({ members: [{ id: 1n, name: "kb-0", peerUrl: "http://kb-0.peer:9696" }, { id: 2n, name: "kb-1", peerUrl: "http://kb-1.peer:9696" }] });
  const control = options.control ?? new FakeControl();
  const logs: string[] = [];
  const logger = pino({ level: "trace" }, { write: (line: string) => void logs.push(line) });
  const server = new Server();
  const service = serveAdmin(server, { ...options, backend, control, logger });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    server, target: `127.0.0.1:${port}`, backend, control, logs,
    close: async () => {
      service.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<AdminCallError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof AdminCallError, `an AdminCallError, not ${String(e)}`);
    return e;
  }
  assert.fail("the call succeeded");
}

describe("admin gRPC service: every RPC maps to the backend or the control", () => {
  let s: Running;
  let client: AdminGrpcClient;
  before(async () => {
    s = await start();
    client = new AdminGrpcClient(s.target);
  });
  after(async () => {
    client.close();
    await s.close();
  });

  it("Status answers the control's status, with progress for the other members only", async () => {
    const r = await client.call("Status", {});
    assert.deepEqual(r, {
      nodeId: 1, clusterId: "c-1", role: "leader", term: 7, leaderId: 1, commitIndex: 42, appliedIndex: 41, firstIndex: 3, lastIndex: 43,
      members: [
        { id: 1, name: "kb-0", peerUrls: ["http://kb-0.peer:9696"], adminUrls: ["http://kb-0.peer:9595"], learner: false, isLeader: true },
        { id: 2, name: "kb-1", peerUrls: ["http://kb-1.peer:9696"], adminUrls: [], learner: false, isLeader: false },
        { id: 3, name: "kb-2", peerUrls: ["http://kb-2.peer:9696"], adminUrls: [], learner: true, isLeader: false },
      ],
      progress: [
        { id: 2, matchIndex: 40, nextIndex: 41, state: "replicate", reachable: true, messagesDropped: 3 },
        { id: 3, matchIndex: 7, nextIndex: 8, state: "snapshot", reachable: false, messagesDropped: 0 },
      ],
      executedGtidSet: "0-1-99", purgedGtidSet: "0-1-2", version: "0.1.0",
    });
  });

  it("ListMembers answers the control's members with their roles", async () => {
    const r = await client.call("ListMembers", {});
    assert.deepEqual(r.members.map((m) => [m.id, m.learner]), [[1, false], [2, false], [3, true]]);
  });

  it("AddLearner, PromoteMember and RemoveMember reach the control by id and answer the new membership", async () => {
    const added = await client.call("AddLearner", { id: 4, name: "kb-3", peerUrl: "http://kb-3.peer:9696", adminUrl: "" });
    assert.deepEqual(s.control.calls.at(-1), ["addLearner", { id: 4, name: "kb-3", peerUrl: "http://kb-3.peer:9696" }], "an empty admin URL is no admin URL");
    assert.deepEqual(added.members.at(-1), { id: 4, name: "kb-3", peerUrls: ["http://kb-3.peer:9696"], adminUrls: [], learner: true, isLeader: false });
    await client.call("AddLearner", { id: 5, name: "kb-4", peerUrl: "http://kb-4.peer:9696", adminUrl: "http://kb-4.peer:9595" });
    assert.deepEqual(s.control.calls.at(-1), ["addLearner", { id: 5, name: "kb-4", peerUrl: "http://kb-4.peer:9696", adminUrl: "http://kb-4.peer:9595" }]);
    const promoted = await client.call("PromoteMember", { id: 4 });
    assert.deepEqual(s.control.calls.at(-1), ["promote", 4]);
    assert.equal(promoted.members.find((m) => m.id === 4)?.learner, false);
    const removed = await client.call("RemoveMember", { id: 5 });
    assert.deepEqual(s.control.calls.at(-1), ["remove", 5]);
    assert.deepEqual(removed.members.map((m) => m.id), [1, 2, 3, 4]);
  });

  it("refuses bad requests with INVALID_ARGUMENT naming every wrong field, before reaching the control", async () => {
    const before = s.control.calls.length;
    const e = await refusal(client.call("AddLearner", { id: 0, name: "-bad", peerUrl: "kb-3:9696", adminUrl: "" }));
    assert.equal(e.code, "ADMIN_BAD_REQUEST");
    assert.equal(e.grpcStatus, status.INVALID_ARGUMENT);
    assert.match(e.message, /^id: must be an integer from 1 to 9007199254740991 \(got 0\); name: must be 1 to 63 letters.*; peer_url: /);
    const big = await refusal(client.call("PromoteMember", { id: 2 ** 60 }));
    assert.equal(big.code, "ADMIN_BAD_REQUEST");
    assert.match(big.message, /^id: must be an integer from 1 to 9007199254740991/);
    const purge = await refusal(client.call("Purge", {}));
    assert.equal(purge.code, "ADMIN_BAD_REQUEST");
    assert.match(purge.message, /one of binlog_file, before_unix_ms or retention is required/);
    assert.equal((await refusal(client.call("Purge", { retention: false }))).code, "ADMIN_BAD_REQUEST");
    assert.equal((await refusal(client.call("TransferLeadership", { targetId: 0 }))).code, "ADMIN_BAD_REQUEST");
    assert.equal(s.control.calls.length, before, "the control was never called");
  });

  it("UpdateMember finds the member's name by id for the backend, and refuses an unknown id with NOT_FOUND", async () => {
    const r = await client.call("UpdateMember", { id: 2, peerUrl: "http://kb-1.other:9696" });
    assert.deepEqual(s.backend.members().find((m) => m.id === 2n)?.peerUrls, ["http://kb-1.other:9696"]);
    assert.ok(r.members.length > 0);
    const e = await refusal(client.call("UpdateMember", { id: 99, peerUrl: "http://kb-9.peer:9696" }));
    assert.equal(e.code, "MEMBER_NOT_FOUND");
    assert.equal(e.grpcStatus, status.NOT_FOUND);
  });

  it("TransferLeadership reaches the control with the target and answers leader and term", async () => {
    assert.deepEqual(await client.call("TransferLeadership", { targetId: 2 }), { leaderId: 2, term: 8 });
    assert.deepEqual(s.control.calls.at(-1), ["transferLeadership", 2]);
  });

  it("StartSyncer hands the whole configuration to the backend and answers the status without the password", async () => {
    s.control.passwordSet = true;
    const r = await client.call("StartSyncer", { syncerId: 1001, syncerUuid: "f7e30637-f15a-11e8-accc-244427b6b60e", mysqlAddr: "10.0.0.5:3306", mysqlUser: "kb", mysqlPassword: PASSWORD, semiSync: true, ...NO_TLS });
    assert.deepEqual(s.backend.syncerConfig, { syncerId: 1001, syncerUuid: "f7e30637-f15a-11e8-accc-244427b6b60e", mysqlAddr: "10.0.0.5:3306", mysqlUser: "kb", mysqlPassword: PASSWORD, semiSync: true, heartbeatPeriodMs: 10_000 });
    assert.equal(r.status, "running");
    assert.equal(r.mysqlPasswordSet, true);
    assert.equal(r.mysqlAddr, "10.0.0.5:3306");
    assert.equal(r.lastBinlogFile, "mysql_bin.000006");
    assert.ok(!JSON.stringify(r).includes(PASSWORD));
    const again = await refusal(client.call("StartSyncer", { syncerId: 1001, syncerUuid: "f7e30637-f15a-11e8-accc-244427b6b60e", mysqlAddr: "10.0.0.5:3306", mysqlUser: "kb", mysqlPassword: PASSWORD, semiSync: true, ...NO_TLS }));
    assert.equal(again.code, "ALREADY_RUNNING");
    assert.equal(again.grpcStatus, status.ALREADY_EXISTS);
    assert.equal((await client.call("GetSyncerStatus", {})).status, "running");
    assert.equal((await client.call("StopSyncer", {})).status, "stopped");
    assert.deepEqual(s.backend.calls.filter((c) => c.includes("yncer")).slice(-3), ["syncerStatus", "stopSyncer", "syncerStatus"]);
    const bad = await refusal(client.call("StartSyncer", { syncerId: 0, syncerUuid: "nope", mysqlAddr: "10.0.0.5", mysqlUser: "", mysqlPassword: PASSWORD, semiSync: false, ...NO_TLS }));
    assert.equal(bad.code, "ADMIN_BAD_REQUEST");
    assert.match(bad.message, /^syncer_id: .*; syncer_uuid: .*; mysql_addr: .*; mysql_user: /);
  });

  it("StartServer, StopServer and GetServerStatus reach the backend; replicas are listed", async () => {
    s.backend.replicas = [{ serverId: 77, serverUuid: "u-77", hostName: "10.0.0.9", port: 41234, user: "repl", registered: true, connectTime: new Date(1_700_000_000_000), heartbeatPeriodNs: 0 }];
    const r = await client.call("StartServer", { addr: "0.0.0.0:3390", user: "kb", password: PASSWORD });
    assert.deepEqual(s.backend.serverConfig, { addr: "0.0.0.0:3390", user: "kb", password: PASSWORD });
    assert.equal(r.status, "running");
    assert.equal(r.passwordSet, true);
    assert.deepEqual(r.replicas, [{ serverId: 77, host: "10.0.0.9", port: 41234, uuid: "u-77", start: "", connectedUnixMs: 1_700_000_000_000 }]);
    assert.equal((await client.call("GetServerStatus", {})).addr, "0.0.0.0:3390");
    assert.equal((await client.call("StopServer", {})).status, "stopped");
    const bad = await refusal(client.call("StartServer", { addr: "0.0.0.0:3390", user: "kb", password: "" }));
    assert.equal(bad.code, "ADMIN_BAD_REQUEST");
    assert.match(bad.message, /^password: must not be empty/);
  });

  it("Purge passes each kind of point to the control", async () => {
    assert.deepEqual(await client.call("Purge", { binlogFile: "mysql-bin.000003" }), { purgedThroughIndex: 1000, purgedGtidSet: "0-1-50", segmentsRemoved: 2 });
    assert.deepEqual(s.control.calls.at(-1), ["purge", { kind: "binlogFile", binlogFile: "mysql-bin.000003" }]);
    await client.call("Purge", { beforeUnixMs: 1_700_000_000_000 });
    assert.deepEqual(s.control.calls.at(-1), ["purge", { kind: "before", beforeUnixMs: 1_700_000_000_000 }]);
    await client.call("Purge", { retention: true });
    assert.deepEqual(s.control.calls.at(-1), ["purge", { kind: "retention" }]);
  });

  it("runs the mutations of one group one at a time", async () => {
    let open!: () => void;
    s.control.gate = new Promise((resolve) => (open = resolve));
    s.control.maxRunning = 0;
    const calls = [10, 11, 12].map((id) => client.call("AddLearner", { id, name: `kb-${id}`, peerUrl: `http://kb-${id}.peer:9696`, adminUrl: "" }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    open();
    await Promise.all(calls);
    s.control.gate = undefined;
    assert.equal(s.control.maxRunning, 1);
  });
});

describe("admin gRPC service: errors keep their code", () => {
  it("Raft, admin and unexpected errors cross with their code and a matching gRPC status, for both clients", async () => {
    const s = await start();
    const client = new AdminGrpcClient(s.target);
    const plain = new AdminClient(s.target, credentials.createInsecure());
    try {
      s.control.failNext = new ProposalDroppedError("RAFT_NOT_LEADER", "node 1 is not the leader (leader: 2)", { term: 7, lead: 2 });
      let e = await refusal(client.call("RemoveMember", { id: 2 }));
      assert.deepEqual([e.code, e.grpcStatus, e.message], ["RAFT_NOT_LEADER", status.UNAVAILABLE, "node 1 is not the leader (leader: 2)"]);

      s.control.failNext = new ProposalDroppedError("RAFT_CONF_CHANGE_PENDING", "a membership change is pending", { term: 7, lead: 1 });
      e = await refusal(plain.call("PromoteMember", { id: 3 }));
      assert.deepEqual([e.code, e.grpcStatus], ["RAFT_CONF_CHANGE_PENDING", status.UNAVAILABLE], "the transport's AdminClient reads the same trailer");

      s.control.failNext = new AdminError("MEMBER_EXISTS", "member 2 exists already");
      e = await refusal(client.call("AddLearner", { id: 2, name: "kb-1", peerUrl: "http://kb-1.peer:9696", adminUrl: "" }));
      assert.deepEqual([e.code, e.grpcStatus], ["MEMBER_EXISTS", status.ALREADY_EXISTS]);

      s.backend.leader = { isLeader: false, leaderId: 2n, leaderAdminUrl: undefined };
      e = await refusal(client.call("GetSyncerStatus", {}));
      assert.deepEqual([e.code, e.grpcStatus], ["NOT_LEADER", status.UNAVAILABLE], "without forwarding the backend refuses leader-only calls");

      s.control.failNext = new TypeError("cannot read properties of undefined");
      e = await refusal(client.call("Status", {}));
      assert.deepEqual([e.code, e.grpcStatus], ["ADMIN_INTERNAL", status.INTERNAL]);
      assert.match(e.message, /^kingbus: internal error: cannot read properties of undefined$/);

      const nobody = new AdminGrpcClient("127.0.0.1:1");
      const codeless = await refusal(nobody.call("Status", {}, { deadlineMs: 2_000 }));
      nobody.close();
      assert.equal(codeless.code, "ADMIN_UNAVAILABLE", "no server: the code names the gRPC status");
    } finally {
      client.close();
      plain.close();
      await s.close();
    }
  });
});

describe("admin gRPC service: token", () => {
  const TOKEN = "t0ken-for-tests";
  let s: Running;
  before(async () => (s = await start({ token: TOKEN })));
  after(() => s.close());

  it("refuses calls without the token, or with another, with UNAUTHENTICATED before reaching anything", async () => {
    const calls = s.control.calls.length + s.backend.calls.length;
    for (const client of [new AdminGrpcClient(s.target), new AdminGrpcClient(s.target, { token: "wrong" }), new AdminGrpcClient(s.target, { token: `${TOKEN}x` })]) {
      for (const method of ["Status", "StopServer", "GetSyncerStatus"] as const satisfies AdminMethodName[]) {
        const e = await refusal(client.call(method, {}));
        assert.deepEqual([e.code, e.grpcStatus], ["ADMIN_UNAUTHORIZED", status.UNAUTHENTICATED], method);
      }
      client.close();
    }
    const plain = new AdminClient(s.target, credentials.createInsecure());
    assert.equal((await refusal(plain.call("ListMembers", {}))).grpcStatus, status.UNAUTHENTICATED);
    plain.close();
    assert.equal(s.control.calls.length + s.backend.calls.length, calls, "nothing was called");
  });

  it("accepts the token", async () => {
    const client = new AdminGrpcClient(s.target, { token: TOKEN });
    assert.equal((await client.call("Status", {})).nodeId, 1);
    assert.equal((await client.call("GetServerStatus", {})).status, "stopped");
    client.close();
  });
});

describe("admin gRPC service: passwords", () => {
  it("never appear in answers, error messages or log lines", async () => {
    const s = await start();
    const client = new AdminGrpcClient(s.target);
    try {
      // The backend's object carrying a password by mistake: only the proto's fields are copied.
      const original = s.backend.syncerStatus.bind(s.backend);
      s.backend.syncerStatus = async () => ({ ...(await original()), mysqlPassword: PASSWORD }) as Awaited<ReturnType<typeof original>>;
      s.backend.failNext = new AdminError("UNAVAILABLE", `cannot connect as kb:${PASSWORD}@10.0.0.5`);
      const start1 = { syncerId: 1, syncerUuid: "f7e30637-f15a-11e8-accc-244427b6b60e", mysqlAddr: "10.0.0.5:3306", mysqlUser: "kb", mysqlPassword: PASSWORD, semiSync: false, ...NO_TLS };
      const e = await refusal(client.call("StartSyncer", start1));
      assert.equal(e.message, "cannot connect as kb:******@10.0.0.5");
      const r = await client.call("StartSyncer", start1);
      assert.ok(!JSON.stringify(r).includes(PASSWORD));
      // A later call on another method quoting the password the backend still holds.
      s.backend.failNext = new Error(`status failed for password ${PASSWORD}`);
      const later = await refusal(client.call("GetSyncerStatus", {}));
      assert.equal(later.message, "kingbus: internal error: status failed for password ******");
      // Server passwords likewise.
      s.backend.failNext = new AdminError("UNAVAILABLE", `cannot listen for user kb/${PASSWORD}x`);
      assert.equal((await refusal(client.call("StartServer", { addr: "0.0.0.0:3390", user: "kb", password: `${PASSWORD}x` }))).message, "cannot listen for user kb/******");
      assert.ok(s.logs.length > 0);
      assert.ok(!s.logs.join("\n").includes(PASSWORD), "no log line holds a password");
    } finally {
      client.close();
      await s.close();
    }
  });
});

describe("admin gRPC service: forwarding to the leader", () => {
  it("forwards leader-only calls from a follower with the token, answers the others itself, and keeps the leader's codes", async () => {
    const TOKEN = "fwd-token";
    const leader = await start({ token: TOKEN });
    const followerBackend = new FakeBackend({ leadership: { isLeader: false, leaderId: 1n, leaderAdminUrl: undefined } });
    let leaderTarget: string | undefined = leader.target;
    const follower = await start({ token: TOKEN, backend: followerBackend, forward: { leaderTarget: (id) => (id === 1 ? leaderTarget : undefined), nodeName: "kb-1", timeoutMs: 2_000 } });
    const client = new AdminGrpcClient(follower.target, { token: TOKEN });
    try {
      const r = await client.call("AddLearner", { id: 4, name: "kb-3", peerUrl: "http://kb-3.peer:9696", adminUrl: "" });
      assert.equal(r.members.at(-1)?.id, 4);
      assert.deepEqual(leader.control.calls.at(-1), ["addLearner", { id: 4, name: "kb-3", peerUrl: "http://kb-3.peer:9696" }]);
      assert.ok(!follower.control.calls.some(([c]) => c === "addLearner"), "the follower's control was not asked");
      assert.ok(leader.logs.some((l) => /"method":"AddLearner"/.test(l)));

      await client.call("StartSyncer", { syncerId: 1, syncerUuid: "f7e30637-f15a-11e8-accc-244427b6b60e", mysqlAddr: "10.0.0.5:3306", mysqlUser: "kb", mysqlPassword: PASSWORD, semiSync: false, ...NO_TLS });
      assert.equal(leader.backend.syncerConfig?.mysqlPassword, PASSWORD, "the password reached the leader");
      assert.equal(followerBackend.syncerConfig, undefined);

      await client.call("Status", {});
      assert.equal(follower.control.calls.at(-1)?.[0], "status", "Status is answered by the follower itself");

      const dup = await refusal(client.call("AddLearner", { id: 4, name: "kb-3", peerUrl: "http://kb-3.peer:9696", adminUrl: "" }));
      assert.deepEqual([dup.code, dup.grpcStatus], ["MEMBER_EXISTS", status.ALREADY_EXISTS], "the leader's code comes back through the follower");

      const unauthorized = await refusal(new AdminGrpcClient(follower.target).call("PromoteMember", { id: 4 }));
      assert.equal(unauthorized.code, "ADMIN_UNAUTHORIZED");

      leader.backend.leader = { isLeader: false, leaderId: 1n, leaderAdminUrl: undefined };
      const leaderForward = await start({ token: TOKEN, backend: leader.backend, forward: { leaderTarget: () => follower.target } });
      leaderTarget = leaderForward.target;
      const loop = await refusal(client.call("PromoteMember", { id: 4 }));
      assert.deepEqual([loop.code, loop.grpcStatus], ["FORWARD_LOOP", status.UNAVAILABLE]);
      await leaderForward.close();

      leaderTarget = "127.0.0.1:1";
      const failed = await refusal(client.call("PromoteMember", { id: 4 }));
      assert.equal(failed.code, "FORWARD_FAILED");
      assert.match(failed.message, /forwarding to leader 1 at 127\.0\.0\.1:1 failed/);

      followerBackend.leader = { isLeader: false, leaderId: undefined, leaderAdminUrl: undefined };
      assert.equal((await refusal(client.call("Purge", { retention: true }))).code, "NO_LEADER");
      followerBackend.leader = { isLeader: false, leaderId: 9n, leaderAdminUrl: undefined };
      assert.equal((await refusal(client.call("TransferLeadership", { targetId: 2 }))).code, "NO_LEADER");
      assert.ok(!follower.control.calls.some(([c]) => c === "purge" || c === "transferLeadership" || c === "promote"));
    } finally {
      client.close();
      await follower.close();
      await leader.close();
    }
  });
});
