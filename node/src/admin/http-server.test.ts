import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdminError } from "./errors.ts";
import { parseJsonExact } from "./json.ts";
import { ADMIN_ROUTES, OPEN_PATHS } from "./routes.ts";
import { FakeBackend, type FakeMember } from "./testing/fake-backend.ts";
import { call, startAdmin, type Running } from "./testing/harness.ts";

// The members of the original document: ids above 2^53, kingbus_149 leads.
const K150: FakeMember = { id: 528926725760107877n, name: "kingbus_150", peerUrl: "http://192.168.1.150:9698", adminUrl: "http://192.168.1.150:9595" };
const K149: FakeMember = { id: 16330308290025680582n, name: "kingbus_149", peerUrl: "http://192.168.1.149:9697", adminUrl: "http://192.168.1.149:9595" };

function leaderBackend(): FakeBackend {
  return new FakeBackend({ members: [K150, K149], leadership: { isLeader: true, leaderId: K149.id, leaderAdminUrl: K149.adminUrl } });
}

const SYNCER_START = {
  syncer_id: 1001,
  syncer_uuid: "f7e30637-f15a-11e8-accc-244427b6b60e",
  mysql_addr: "192.168.1.150:3415",
  mysql_user: "kb",
  mysql_password: "kb",
  semi_sync: false,
};

describe("admin HTTP API: shapes of the original kingbus", () => {
  let admin: Running;
  before(async () => {
    admin = await startAdmin(leaderBackend());
  });
  after(() => admin.close());

  it("GET /cluster lists members with hex Id and isLeader", async () => {
    const a = await call(admin.url, "GET", "/cluster");
    assert.equal(a.status, 200);
    assert.match(a.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(a.json, {
      message: "success",
      data: [
        { Id: "757200e01244565", peerURLs: ["http://192.168.1.150:9698"], name: "kingbus_150", adminURLs: ["http://192.168.1.150:9595"], isLeader: false },
        { Id: "e2a0e8de3b98eec6", peerURLs: ["http://192.168.1.149:9697"], name: "kingbus_149", adminURLs: ["http://192.168.1.149:9595"], isLeader: true },
      ],
    });
  });

  it("POST /members adds a member and answers the list with decimal Ids written exactly, no isLeader", async () => {
    const a = await call(admin.url, "POST", "/members", { body: { name: "kingbus_148", peer_url: "http://192.168.1.148:9696" } });
    assert.equal(a.status, 200, a.text);
    const parsed = parseJsonExact(a.text);
    assert.ok(parsed.ok);
    const { message, data } = parsed.value as { message: string; data: Record<string, unknown>[] };
    assert.equal(message, "success");
    const added = data.find((m) => m.name === "kingbus_148")!;
    assert.equal(typeof added.Id, "bigint");
    // The member added without an admin URL has no adminURLs key, as Go's omitempty wrote it.
    assert.deepEqual(Object.keys(added), ["Id", "peerURLs", "name"]);
    assert.ok(a.text.includes(`{"Id":528926725760107877,"peerURLs":["http://192.168.1.150:9698"],"name":"kingbus_150","adminURLs":["http://192.168.1.150:9595"]}`), a.text);
    assert.ok(a.text.includes(`{"Id":16330308290025680582,"peerURLs":["http://192.168.1.149:9697"],"name":"kingbus_149","adminURLs":["http://192.168.1.149:9595"]}`), a.text);
    assert.ok(a.text.includes(`"Id":${String(added.Id)},`), a.text);
    assert.ok(!a.text.includes("isLeader"));
    await call(admin.url, "DELETE", "/members", { body: { name: "kingbus_148" } });
  });

  it("an Id above 2^53 round-trips exactly: request number -> decimal list -> hex cluster view", async () => {
    const big = 11102851159674377966n;
    assert.ok(big > BigInt(Number.MAX_SAFE_INTEGER));
    const a = await call(admin.url, "POST", "/members", { body: `{"id":${big},"name":"kingbus_148","peer_url":"http://192.168.1.148:9696"}` });
    assert.equal(a.status, 200, a.text);
    assert.ok(a.text.includes(`{"Id":11102851159674377966,"peerURLs":["http://192.168.1.148:9696"],"name":"kingbus_148"}`), a.text);
    // Through a double it would read 11102851159674378000.
    assert.ok(!a.text.includes("11102851159674378000"));
    const cluster = await call(admin.url, "GET", "/cluster");
    const row = (cluster.json!.data as { Id: string; name: string }[]).find((m) => m.name === "kingbus_148")!;
    assert.equal(row.Id, "9a15404de66cd6ee");
    assert.equal(BigInt(`0x${row.Id}`), big);
    const list = await call(admin.url, "GET", "/members");
    const exact = parseJsonExact(list.text);
    assert.ok(exact.ok);
    assert.ok((exact.value as { data: { Id: bigint }[] }).data.some((m) => m.Id === big));
    // The same id given as a decimal string is the same member.
    const again = await call(admin.url, "POST", "/members", { body: { id: big.toString(), name: "kingbus_147", peer_url: "http://192.168.1.147:9696" } });
    assert.equal(again.status, 409);
    assert.equal(again.headers.get("x-kingbus-error-code"), "MEMBER_EXISTS");
    await call(admin.url, "DELETE", "/members", { body: { name: "kingbus_148" } });
  });

  it("refuses a duplicate name with 409 in the envelope", async () => {
    const a = await call(admin.url, "POST", "/members", { body: { name: "kingbus_150", peer_url: "http://192.168.1.151:9696" } });
    assert.equal(a.status, 409);
    assert.deepEqual(a.json, { message: "a member named kingbus_150 exists already", data: null });
    assert.equal(a.headers.get("x-kingbus-error-code"), "MEMBER_EXISTS");
  });

  it("PUT /members changes a peer URL and answers the list; an unknown name is 404", async () => {
    const a = await call(admin.url, "PUT", "/members", { body: { name: "kingbus_149", new_peer_url: "http://192.168.1.149:9699" } });
    assert.equal(a.status, 200, a.text);
    assert.ok(a.text.includes(`{"Id":16330308290025680582,"peerURLs":["http://192.168.1.149:9699"],"name":"kingbus_149","adminURLs":["http://192.168.1.149:9595"]}`), a.text);
    const missing = await call(admin.url, "PUT", "/members", { body: { name: "kingbus_999", new_peer_url: "http://192.168.1.9:9699" } });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, { message: "no such member: kingbus_999", data: null });
    await call(admin.url, "PUT", "/members", { body: { name: "kingbus_149", new_peer_url: "http://192.168.1.149:9697" } });
  });

  it("DELETE /members removes by name; a wrong peer_url, an unknown name and a removed id are refused", async () => {
    await call(admin.url, "POST", "/members", { body: { id: 42, name: "kingbus_142", peer_url: "http://192.168.1.142:9696" } });
    const wrong = await call(admin.url, "DELETE", "/members", { body: { name: "kingbus_142", peer_url: "http://192.168.1.143:9696" } });
    assert.equal(wrong.status, 409);
    assert.equal(wrong.headers.get("x-kingbus-error-code"), "MEMBER_MISMATCH");
    const a = await call(admin.url, "DELETE", "/members", { body: { name: "kingbus_142", peer_url: "http://192.168.1.142:9696" } });
    assert.equal(a.status, 200);
    assert.deepEqual((a.json!.data as { name: string }[]).map((m) => m.name), ["kingbus_150", "kingbus_149"]);
    const again = await call(admin.url, "DELETE", "/members", { body: { name: "kingbus_142" } });
    assert.equal(again.status, 404);
    const back = await call(admin.url, "POST", "/members", { body: { id: 42, name: "kingbus_142", peer_url: "http://192.168.1.142:9696" } });
    assert.equal(back.status, 410);
    assert.equal(back.headers.get("x-kingbus-error-code"), "MEMBER_REMOVED");
  });

  it("syncer start, status and stop answer as the original, the password masked", async () => {
    const start = await call(admin.url, "PUT", "/binlog/syncer/start", { body: { ...SYNCER_START, heartbeat_period: 0.5 } });
    assert.equal(start.status, 200, start.text);
    assert.equal(start.text, `{"message":"success","data":""}`);
    assert.equal(admin.backend.syncerConfig?.mysqlPassword, "kb");
    assert.equal(admin.backend.syncerConfig?.heartbeatPeriodMs, 500);
    const status = await call(admin.url, "GET", "/binlog/syncer/status");
    assert.equal(status.status, 200);
    assert.deepEqual(status.json, {
      message: "success",
      data: {
        syncer_id: 1001,
        syncer_uuid: "f7e30637-f15a-11e8-accc-244427b6b60e",
        mysql_addr: "192.168.1.150:3415",
        mysql_user: "kb",
        mysql_password: "******",
        semi_sync: false,
        current_gtid: "",
        last_binlog_file: "mysql_bin.000006",
        last_file_position: 194,
        executed_gtid_set: "214eb71f-96ec-11e8-ab4f-fa163e72d4ae:1-9257530",
        purged_gtid_set: "",
        status: "running",
      },
    });
    const twice = await call(admin.url, "PUT", "/binlog/syncer/start", { body: SYNCER_START });
    assert.equal(twice.status, 409);
    assert.equal(twice.headers.get("x-kingbus-error-code"), "ALREADY_RUNNING");
    // The original's curl sends a content type and no body.
    const stop = await call(admin.url, "PUT", "/binlog/syncer/stop", { headers: { "content-type": "application/json" } });
    assert.equal(stop.text, `{"message":"success","data":""}`);
    const stopped = await call(admin.url, "GET", "/binlog/syncer/status");
    assert.equal((stopped.json!.data as { status: string }).status, "stopped");
  });

  it("syncer start defaults semi_sync, mysql_password and a 10 s heartbeat as the original did", async () => {
    const { mysql_password: _p, semi_sync: _s, ...minimal } = SYNCER_START;
    const a = await call(admin.url, "PUT", "/binlog/syncer/start", { body: minimal });
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(admin.backend.syncerConfig, {
      syncerId: 1001,
      syncerUuid: "f7e30637-f15a-11e8-accc-244427b6b60e",
      mysqlAddr: "192.168.1.150:3415",
      mysqlUser: "kb",
      mysqlPassword: "",
      semiSync: false,
      heartbeatPeriodMs: 10_000,
    });
    await call(admin.url, "PUT", "/binlog/syncer/stop");
  });

  it("server start, status and stop answer as the original, passwords masked", async () => {
    const start = await call(admin.url, "PUT", "/binlog/server/start", { body: { addr: "192.168.1.149:3390", user: "kb", password: "kb" } });
    assert.equal(start.text, `{"message":"success","data":""}`);
    admin.backend.replicas = [
      { serverId: 7, serverUuid: "2e5a8c9c-0000-11e8-aaaa-244427b6b60e", hostName: "10.0.0.7", port: 3306, user: "repl", registered: true, connectTime: new Date("2024-01-02T03:04:05.000Z"), heartbeatPeriodNs: 30_000_000_000 },
    ];
    const status = await call(admin.url, "GET", "/binlog/server/status");
    assert.deepEqual(status.json, {
      message: "success",
      data: {
        addr: "192.168.1.149:3390",
        user: "kb",
        password: "******",
        slaves: [
          {
            replication_state: 1,
            server_id: 7,
            server_uuid: "2e5a8c9c-0000-11e8-aaaa-244427b6b60e",
            host_name: "10.0.0.7",
            port: 3306,
            user: "repl",
            password: "******",
            connect_time: "2024-01-02T03:04:05.000Z",
            heartbeat: 30_000_000_000,
            stats: {},
          },
        ],
        current_gtid: "",
        last_binlog_file: "mysql_bin.000006",
        last_file_position: 194,
        executed_gtid_set: "214eb71f-96ec-11e8-ab4f-fa163e72d4ae:1-9257530",
        purged_gtid_set: "",
        status: "running",
      },
    });
    const stop = await call(admin.url, "PUT", "/binlog/server/stop");
    assert.equal(stop.text, `{"message":"success","data":""}`);
    admin.backend.replicas = [];
  });

  it("answers HEAD on GET routes without a body", async () => {
    const res = await fetch(`${admin.url}/cluster`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "");
  });

  it("answers a backend's unexpected error with 500 in the envelope", async () => {
    admin.backend.failNext = new Error("disk on fire");
    const a = await call(admin.url, "GET", "/binlog/server/status");
    assert.equal(a.status, 500);
    assert.deepEqual(a.json, { message: "kingbus: internal error: disk on fire", data: null });
    assert.equal(a.headers.get("x-kingbus-error-code"), "ADMIN_INTERNAL");
  });
});

describe("admin HTTP API: bad requests", () => {
  let admin: Running;
  before(async () => {
    admin = await startAdmin(leaderBackend(), { maxBodyBytes: 4096 });
  });
  after(() => admin.close());

  const cases: [string, string, string | object, RegExp][] = [
    ["POST", "/members", `{"name":"kingbus_148",`, /^request body: not valid JSON/],
    ["POST", "/members", "", /^request body: is required/],
    ["POST", "/members", [], /^request body: must be a JSON object \(got array\)/],
    ["POST", "/members", { peer_url: "http://10.0.0.1:9696" }, /^name: is required$/],
    ["POST", "/members", { name: "kingbus_148" }, /^peer_url: is required$/],
    ["POST", "/members", { name: 148, peer_url: "http://10.0.0.1:9696" }, /^name: must be a string \(got number\)$/],
    ["POST", "/members", { name: "a b", peer_url: "http://10.0.0.1:9696" }, /^name: must be 1 to 63 letters/],
    ["POST", "/members", { name: "kb", peer_url: "10.0.0.1:9696" }, /^peer_url: must be a URL such as http:\/\/10.0.0.1:9696$/],
    ["POST", "/members", { name: "kb", peer_url: "ftp://10.0.0.1:9696" }, /^peer_url: must be an http:\/\/ or https:\/\/ URL$/],
    ["POST", "/members", { name: "kb", peer_url: "http://u:p@10.0.0.1:9696" }, /^peer_url: must not contain a user name or password$/],
    ["POST", "/members", { name: "kb", peer_url: "http://10.0.0.1:9696/x" }, /^peer_url: must be a base URL without a path/],
    ["POST", "/members", { name: "kb", peer_url: "http://10.0.0.1" }, /^peer_url: must name its port explicitly/],
    ["POST", "/members", { name: "kb", peer_url: "http://10.0.0.1:1", id: 0 }, /^id: must be an integer from 1 to 18446744073709551615$/],
    ["POST", "/members", { name: "kb", peer_url: "http://10.0.0.1:1", id: "18446744073709551616" }, /^id: must be an integer from 1/],
    ["POST", "/members", { name: "kb", peer_url: "http://10.0.0.1:1", id: true }, /^id: must be a positive integer \(got boolean\)$/],
    ["PUT", "/members", { name: "kingbus_149" }, /^new_peer_url: is required$/],
    ["DELETE", "/members", {}, /^name: is required$/],
    ["PUT", "/binlog/syncer/start", { ...SYNCER_START, syncer_id: "1001" }, /^syncer_id: must be an integer \(got string\)$/],
    ["PUT", "/binlog/syncer/start", { ...SYNCER_START, syncer_id: 0 }, /^syncer_id: must be an integer from 1 to 4294967295 \(got 0\)$/],
    ["PUT", "/binlog/syncer/start", { ...SYNCER_START, syncer_uuid: "nope" }, /^syncer_uuid: must be a UUID/],
    ["PUT", "/binlog/syncer/start", { ...SYNCER_START, mysql_addr: "192.168.1.150" }, /^mysql_addr: must be host:port/],
    ["PUT", "/binlog/syncer/start", { ...SYNCER_START, mysql_user: undefined }, /^mysql_user: is required$/],
    ["PUT", "/binlog/syncer/start", { ...SYNCER_START, semi_sync: "no" }, /^semi_sync: must be true or false \(got string\)$/],
    ["PUT", "/binlog/syncer/start", { ...SYNCER_START, heartbeat_period: 0 }, /^heartbeat_period: must be from 0.001 to 4294967 seconds \(got 0\)$/],
    ["PUT", "/binlog/syncer/start", { ...SYNCER_START, mysql_password: 12 }, /^mysql_password: must be a string \(got number\)$/],
    ["PUT", "/binlog/server/start", { addr: "192.168.1.149:3390", user: "kb" }, /^password: is required$/],
    ["PUT", "/binlog/server/start", { addr: "192.168.1.149:3390", user: "kb", password: "" }, /^password: must not be empty/],
    ["PUT", "/binlog/server/start", { addr: ":3390", user: "", password: "x" }, /^addr: must be host:port.*; user: must be a non-empty user name$/],
  ];
  for (const [method, path, body, expected] of cases) {
    it(`${method} ${path} ${typeof body === "string" ? JSON.stringify(body) : JSON.stringify(body)} -> 400 ${expected.source}`, async () => {
      const callsBefore = admin.backend.calls.length;
      const a = await call(admin.url, method, path, { body });
      assert.equal(a.status, 400, a.text);
      assert.equal(a.headers.get("x-kingbus-error-code"), "ADMIN_BAD_REQUEST");
      assert.equal(a.json?.data, null);
      assert.match(String(a.json?.message), expected);
      assert.equal(admin.backend.calls.length, callsBefore, "a refused request must not reach the backend");
    });
  }

  it("unknown paths are 404 in the envelope", async () => {
    for (const path of ["/nope", "/cluster/", "/binlog/syncer", "/members/kingbus_149"]) {
      const a = await call(admin.url, "GET", path);
      assert.equal(a.status, 404, path);
      assert.deepEqual(a.json, { message: `kingbus: no such path: ${path}`, data: null });
    }
  });

  it("wrong verbs are 405 in the envelope, with Allow", async () => {
    const cases: [string, string, string][] = [
      ["GET", "/binlog/syncer/start", "PUT"],
      ["POST", "/binlog/syncer/status", "GET, HEAD"],
      ["DELETE", "/cluster", "GET, HEAD"],
      ["PATCH", "/members", "GET, POST, PUT, DELETE, HEAD"],
      ["POST", "/healthz", "GET, HEAD"],
      ["PUT", "/metrics", "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const a = await call(admin.url, method, path);
      assert.equal(a.status, 405, `${method} ${path}`);
      assert.equal(a.headers.get("allow"), allow);
      assert.match(String(a.json?.message), new RegExp(`^kingbus: method ${method} is not allowed on ${path}`));
      assert.equal(a.json?.data, null);
    }
  });

  it("a body over the limit is 413", async () => {
    const a = await call(admin.url, "POST", "/members", { body: { name: "kb", peer_url: "http://10.0.0.1:1", pad: "x".repeat(5000) } });
    assert.equal(a.status, 413);
    assert.equal(a.headers.get("x-kingbus-error-code"), "ADMIN_BODY_TOO_LARGE");
  });
});

describe("admin HTTP API: token", () => {
  const TOKEN = "t0ken-for-tests";
  let admin: Running;
  before(async () => {
    admin = await startAdmin(leaderBackend(), { token: TOKEN });
  });
  after(() => admin.close());

  const adminCalls = Object.entries(ADMIN_ROUTES).flatMap(([path, methods]) => Object.keys(methods).map((method) => [method, path] as const));

  it("refuses every admin route without the token, or with a wrong one, with 401 in the envelope", async () => {
    assert.ok(adminCalls.length >= 11);
    for (const [method, path] of adminCalls) {
      for (const headers of [{}, { authorization: "Bearer wrong" } as Record<string, string>, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }]) {
        const a = await call(admin.url, method, path, { headers });
        assert.equal(a.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.deepEqual(a.json, { message: "kingbus: unauthorized (this API needs Authorization: Bearer <token>)", data: null });
        assert.equal(a.headers.get("www-authenticate"), 'Bearer realm="kingbus"');
      }
    }
    assert.deepEqual(admin.backend.calls, [], "no refused call reached the backend");
    // Unknown paths are refused the same way: no route is revealed without the token.
    assert.equal((await call(admin.url, "GET", "/nope")).status, 401);
  });

  it("accepts every admin route with the token", async () => {
    for (const [method, path] of adminCalls) {
      const a = await call(admin.url, method, path, { token: TOKEN });
      assert.notEqual(a.status, 401, `${method} ${path}`);
    }
    assert.equal((await call(admin.url, "GET", "/cluster", { token: TOKEN })).status, 200);
  });

  it("leaves /metrics, /healthz and /readyz open", async () => {
    for (const path of OPEN_PATHS) {
      const a = await call(admin.url, "GET", path);
      assert.equal(a.status, 200, path);
    }
  });
});

describe("admin HTTP API: passwords", () => {
  const SYNCER_PASSWORD = "Syncer-Pa55-9f3e1c";
  const SERVER_PASSWORD = "Server-Pa55-7b2d4a";

  it("never appear in a response body or a log line, through success and failure", async () => {
    const admin = await startAdmin(leaderBackend());
    try {
      const bodies: string[] = [];
      const record = async (method: string, path: string, body?: string | object) => {
        const a = await call(admin.url, method, path, body === undefined ? {} : { body });
        bodies.push(a.text);
        return a;
      };
      assert.equal((await record("PUT", "/binlog/syncer/start", { ...SYNCER_START, mysql_password: SYNCER_PASSWORD })).status, 200);
      assert.equal((await record("PUT", "/binlog/server/start", { addr: "192.168.1.149:3390", user: "kb", password: SERVER_PASSWORD })).status, 200);
      assert.equal(admin.backend.syncerConfig?.mysqlPassword, SYNCER_PASSWORD, "the backend gets the password");
      assert.equal(admin.backend.serverConfig?.password, SERVER_PASSWORD);
      await record("GET", "/binlog/syncer/status");
      await record("GET", "/binlog/server/status");
      await record("GET", "/cluster");
      // Refusals: a second start, a bad field beside the password, malformed JSON around it.
      assert.equal((await record("PUT", "/binlog/syncer/start", { ...SYNCER_START, mysql_password: SYNCER_PASSWORD })).status, 409);
      assert.equal((await record("PUT", "/binlog/syncer/start", { ...SYNCER_START, syncer_id: -1, mysql_password: SYNCER_PASSWORD })).status, 400);
      assert.equal((await record("PUT", "/binlog/syncer/start", `{"mysql_password":"${SYNCER_PASSWORD}" "x"}`)).status, 400);
      assert.equal((await record("PUT", "/binlog/server/start", `{"password":"${SERVER_PASSWORD}", oops}`)).status, 400);
      assert.equal((await record("PUT", "/binlog/server/start", `{"addr": 5, "password": "${SERVER_PASSWORD}"}`)).status, 400);
      // A backend whose error quotes the password (a driver might): scrubbed from the answer and the log.
      await record("PUT", "/binlog/server/stop");
      admin.backend.failNext = new AdminError("UNAVAILABLE", `cannot bind as kb:${SERVER_PASSWORD}`);
      const failed = await record("PUT", "/binlog/server/start", { addr: "192.168.1.149:3390", user: "kb", password: SERVER_PASSWORD });
      assert.equal(failed.json?.message, "cannot bind as kb:******");
      admin.backend.failNext = new Error(`access denied for ${SYNCER_PASSWORD}`);
      await record("PUT", "/binlog/syncer/stop");
      await record("PUT", "/binlog/syncer/start", { ...SYNCER_START, mysql_password: SYNCER_PASSWORD });

      for (const text of bodies) {
        assert.ok(!text.includes(SYNCER_PASSWORD) && !text.includes(SERVER_PASSWORD), text);
      }
      assert.ok(admin.logs.length >= bodies.length, "every request was logged");
      assert.ok(admin.logs.some((l) => l.includes('"syncerUuid":"f7e30637-f15a-11e8-accc-244427b6b60e"')), "the syncer start is logged, without its password");
      assert.ok(admin.logs.some((l) => l.includes("cannot bind as kb:******")), "the failure is logged, scrubbed");
      for (const line of admin.logs) {
        assert.ok(!line.includes(SYNCER_PASSWORD) && !line.includes(SERVER_PASSWORD), line);
      }
    } finally {
      await admin.close();
    }
  });
});

describe("admin HTTP API: probes", () => {
  let admin: Running;
  before(async () => {
    admin = await startAdmin(leaderBackend());
  });
  after(() => admin.close());

  it("/healthz answers 200 while the process runs", async () => {
    const a = await call(admin.url, "GET", "/healthz");
    assert.equal(a.status, 200);
    assert.deepEqual(a.json, { message: "success", data: { status: "up" } });
  });

  it("/readyz is 200 for a member with a leader that applied up to the commit index seen at start", async () => {
    admin.backend.ready = { isMember: true, leaderId: K149.id, appliedIndex: 12, startupCommitIndex: 10 };
    const a = await call(admin.url, "GET", "/readyz");
    assert.equal(a.status, 200);
    assert.deepEqual(a.json, {
      message: "success",
      data: { ready: true, is_member: true, leader_id: "16330308290025680582", applied_index: 12, startup_commit_index: 10 },
    });
  });

  const notReady: [string, { isMember: boolean; leaderId: bigint | undefined; appliedIndex: number; startupCommitIndex: number | undefined }, string][] = [
    ["not a member", { isMember: false, leaderId: K149.id, appliedIndex: 10, startupCommitIndex: 10 }, "not a member of the cluster"],
    ["no leader", { isMember: true, leaderId: undefined, appliedIndex: 10, startupCommitIndex: 10 }, "no leader is known"],
    ["commit index unknown", { isMember: true, leaderId: K149.id, appliedIndex: 0, startupCommitIndex: undefined }, "waiting to learn the commit index"],
    ["behind", { isMember: true, leaderId: K149.id, appliedIndex: 5, startupCommitIndex: 10 }, "catching up: applied 5 of 10"],
  ];
  for (const [what, facts, reason] of notReady) {
    it(`/readyz is 503 with the reason when ${what}`, async () => {
      admin.backend.ready = facts;
      const a = await call(admin.url, "GET", "/readyz");
      assert.equal(a.status, 503);
      assert.equal(a.json?.message, `not ready: ${reason}`);
      assert.equal((a.json?.data as { ready: boolean; reason: string }).ready, false);
      assert.equal((a.json?.data as { ready: boolean; reason: string }).reason, reason);
    });
  }
});
