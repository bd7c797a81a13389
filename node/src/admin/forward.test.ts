import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { FakeBackend, type FakeMember } from "./testing/fake-backend.ts";
import { call, startAdmin, type Running } from "./testing/harness.ts";

const LEADER: FakeMember = { id: 16330308290025680582n, name: "kingbus_149", peerUrl: "http://192.168.1.149:9697" };
const FOLLOWER: FakeMember = { id: 528926725760107877n, name: "kingbus_150", peerUrl: "http://192.168.1.150:9698" };
const PASSWORD = "Forwarded-Pa55-31d7";

function follower(leaderAdminUrl: string | undefined): FakeBackend {
  return new FakeBackend({ members: [LEADER, FOLLOWER], leadership: { isLeader: false, leaderId: leaderAdminUrl === undefined ? undefined : LEADER.id, leaderAdminUrl } });
}

describe("forwarding leader-only calls", () => {
  let leader: Running;
  let node: Running;
  before(async () => {
    leader = await startAdmin(new FakeBackend({ members: [LEADER, FOLLOWER], leadership: { isLeader: true, leaderId: LEADER.id, leaderAdminUrl: undefined } }), { nodeName: "kingbus_149" });
    node = await startAdmin(follower(leader.url), { nodeName: "kingbus_150" });
  });
  after(async () => {
    await node.close();
    await leader.close();
  });

  it("proxies member changes to the leader and relays its answer byte for byte (big ids intact)", async () => {
    const viaFollower = await call(node.url, "POST", "/members", { body: `{"id":11102851159674377966,"name":"kingbus_148","peer_url":"http://192.168.1.148:9696"}` });
    assert.equal(viaFollower.status, 200, viaFollower.text);
    assert.ok(viaFollower.text.includes(`"Id":11102851159674377966,`), viaFollower.text);
    assert.deepEqual(leader.backend.calls, ["addMember"]);
    assert.ok(!node.backend.calls.includes("addMember"), "the follower's backend is not asked");
    const direct = await call(leader.url, "GET", "/members");
    assert.equal(viaFollower.text, direct.text);
    // Errors come back with the leader's status and code.
    const duplicate = await call(node.url, "POST", "/members", { body: { name: "kingbus_148", peer_url: "http://192.168.1.147:9696" } });
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.headers.get("x-kingbus-error-code"), "MEMBER_EXISTS");
    assert.equal((await call(node.url, "PUT", "/members", { body: { name: "kingbus_148", new_peer_url: "http://192.168.1.148:9699" } })).status, 200);
    assert.equal((await call(node.url, "DELETE", "/members", { body: { name: "kingbus_148" } })).status, 200);
    assert.deepEqual(leader.backend.calls, ["addMember", "members", "addMember", "updateMember", "removeMember"]);
  });

  it("proxies the syncer calls, password delivered to the leader and logged by neither", async () => {
    const start = await call(node.url, "PUT", "/binlog/syncer/start", {
      body: { syncer_id: 1001, syncer_uuid: "f7e30637-f15a-11e8-accc-244427b6b60e", mysql_addr: "192.168.1.150:3415", mysql_user: "kb", mysql_password: PASSWORD, semi_sync: true },
    });
    assert.equal(start.text, `{"message":"success","data":""}`);
    assert.equal(leader.backend.syncerConfig?.mysqlPassword, PASSWORD);
    assert.equal(leader.backend.syncerConfig?.semiSync, true);
    const status = await call(node.url, "GET", "/binlog/syncer/status");
    assert.equal((status.json?.data as { status: string; mysql_password: string }).status, "running");
    assert.equal((status.json?.data as { mysql_password: string }).mysql_password, "******");
    assert.equal((await call(node.url, "PUT", "/binlog/syncer/stop")).status, 200);
    assert.equal(leader.backend.syncerRunning, false);
    assert.ok(!node.backend.calls.some((c) => c.includes("yncer")), "the follower's backend ran no syncer call");
    assert.ok(node.logs.some((l) => l.includes(`"forwardedTo":"${leader.url}"`)), "the follower logs where the call went");
    assert.ok(leader.logs.some((l) => l.includes('"forwardedBy":"kingbus_150"')), "the leader logs where the call came from");
    for (const line of [...node.logs, ...leader.logs]) assert.ok(!line.includes(PASSWORD), line);
    assert.ok(!status.text.includes(PASSWORD));
  });

  it("answers per-member calls locally, never forwarding them", async () => {
    const before = leader.backend.calls.length;
    assert.equal((await call(node.url, "PUT", "/binlog/server/start", { body: { addr: "192.168.1.150:3390", user: "kb", password: "kb" } })).status, 200);
    assert.equal((await call(node.url, "GET", "/binlog/server/status")).status, 200);
    assert.equal((await call(node.url, "PUT", "/binlog/server/stop")).status, 200);
    const cluster = await call(node.url, "GET", "/cluster");
    assert.equal(cluster.status, 200);
    assert.deepEqual(node.backend.calls.slice(-4), ["startServer", "serverStatus", "stopServer", "members"]);
    assert.equal(leader.backend.calls.length, before);
  });
});

describe("forwarding failures", () => {
  it("refuses a forwarded call that reaches another follower (loop guard) instead of bouncing it", async () => {
    // Two followers that each believe the other leads.
    const a = await startAdmin(follower(undefined), { nodeName: "a" });
    const b = await startAdmin(follower(a.url), { nodeName: "b" });
    a.backend.leader = { isLeader: false, leaderId: LEADER.id, leaderAdminUrl: b.url };
    try {
      const answer = await call(a.url, "POST", "/members", { body: { name: "kingbus_148", peer_url: "http://192.168.1.148:9696" } });
      assert.equal(answer.status, 503);
      assert.equal(answer.headers.get("x-kingbus-error-code"), "FORWARD_LOOP");
      assert.equal(answer.json?.data, null);
      assert.match(String(answer.json?.message), /not the leader either/);
      assert.ok(!a.backend.calls.includes("addMember") && !b.backend.calls.includes("addMember"));
      // b saw exactly one hop, marked by a; nothing went back to a.
      assert.equal(b.logs.filter((l) => l.includes('"forwardedBy":"a"')).length, 1);
      assert.equal(a.logs.filter((l) => l.includes('"forwardedBy"')).length, 0);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it("refuses a call that arrives marked as forwarded at a follower, without forwarding it again", async () => {
    const leader = await startAdmin(new FakeBackend({ members: [LEADER] }));
    const node = await startAdmin(follower(leader.url));
    try {
      const answer = await call(node.url, "PUT", "/binlog/syncer/stop", { headers: { "x-kingbus-forwarded-by": "elsewhere" } });
      assert.equal(answer.status, 503);
      assert.equal(answer.headers.get("x-kingbus-error-code"), "FORWARD_LOOP");
      assert.deepEqual(leader.backend.calls, []);
    } finally {
      await node.close();
      await leader.close();
    }
  });

  it("answers 503 'kingbus: no leader' when no leader is known", async () => {
    const node = await startAdmin(follower(undefined));
    try {
      for (const [method, path] of [["GET", "/binlog/syncer/status"], ["PUT", "/binlog/syncer/stop"]] as const) {
        const answer = await call(node.url, method, path);
        assert.equal(answer.status, 503);
        assert.deepEqual(answer.json, { message: "kingbus: no leader", data: null });
        assert.equal(answer.headers.get("x-kingbus-error-code"), "NO_LEADER");
        assert.equal(answer.headers.get("retry-after"), "1");
      }
      // Calls that are not leader-only still work without a leader.
      assert.equal((await call(node.url, "GET", "/cluster")).status, 200);
    } finally {
      await node.close();
    }
  });

  it("answers 502 when the leader cannot be reached", async () => {
    const gone = http.createServer();
    await new Promise<void>((resolve) => gone.listen(0, "127.0.0.1", resolve));
    const deadUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    const node = await startAdmin(follower(deadUrl));
    try {
      const answer = await call(node.url, "GET", "/binlog/syncer/status");
      assert.equal(answer.status, 502);
      assert.equal(answer.headers.get("x-kingbus-error-code"), "FORWARD_FAILED");
      assert.equal(answer.json?.message, `kingbus: cannot reach the leader at ${deadUrl} (ECONNREFUSED)`);
    } finally {
      await node.close();
    }
  });

  it("answers 504 when the leader does not answer in time", async () => {
    const silent = http.createServer(() => {
      // Never answers.
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const node = await startAdmin(follower(url), { forwardTimeoutMs: 200 });
    try {
      const started = Date.now();
      const answer = await call(node.url, "GET", "/binlog/syncer/status");
      assert.equal(answer.status, 504);
      assert.equal(answer.headers.get("x-kingbus-error-code"), "FORWARD_TIMEOUT");
      assert.ok(Date.now() - started < 5000);
    } finally {
      await node.close();
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it("carries the caller's token to the leader, and refuses a call without it before forwarding", async () => {
    const token = "shared-cluster-token";
    const leader = await startAdmin(new FakeBackend({ members: [LEADER] }), { token });
    const node = await startAdmin(follower(leader.url), { token });
    try {
      assert.equal((await call(node.url, "GET", "/binlog/syncer/status", { token })).status, 200);
      assert.deepEqual(leader.backend.calls, ["syncerStatus"]);
      assert.equal((await call(node.url, "GET", "/binlog/syncer/status")).status, 401);
      assert.deepEqual(leader.backend.calls, ["syncerStatus"], "the refused call never reached the leader");
    } finally {
      await node.close();
      await leader.close();
    }
  });

  it("forwards to the leader only, whatever host an absolute-form request line names", async () => {
    const token = "never-leaves-the-cluster";
    const elsewhereHits: string[] = [];
    const elsewhere = http.createServer((req, res) => {
      elsewhereHits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ""}`);
      res.end("{}");
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
    const elsewhereHost = `127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    const leader = await startAdmin(new FakeBackend({ members: [LEADER] }), { token });
    const node = await startAdmin(follower(leader.url), { token });
    try {
      const { port } = new URL(node.url);
      for (const path of [`http://${elsewhereHost}/binlog/syncer/status`, `//${elsewhereHost}/binlog/syncer/status`]) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = http.request({ host: "127.0.0.1", port: Number(port), method: "GET", path, headers: { authorization: `Bearer ${token}` } }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
          });
          req.on("error", reject);
          req.end();
        });
        assert.equal(status, 200, path);
      }
      assert.deepEqual(leader.backend.calls, ["syncerStatus", "syncerStatus"]);
      assert.deepEqual(elsewhereHits, []);
    } finally {
      await node.close();
      await leader.close();
      await new Promise<void>((resolve) => elsewhere.close(() => resolve()));
    }
  });

  it("validates the body before forwarding: a bad request is 400 at the follower", async () => {
    const leader = await startAdmin(new FakeBackend({ members: [LEADER] }));
    const node = await startAdmin(follower(leader.url));
    try {
      const answer = await call(node.url, "POST", "/members", { body: { name: "kingbus_148" } });
      assert.equal(answer.status, 400);
      assert.equal(answer.json?.message, "peer_url: is required");
      assert.deepEqual(leader.backend.calls, []);
    } finally {
      await node.close();
      await leader.close();
    }
  });
});
