import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { ProposalDroppedError } from "../raft/errors.ts";
import type { ControlMember, NewLearner, NodeControl, NodeStatus, PurgeTarget } from "../admin/control.ts";
import { AdminError } from "../admin/errors.ts";
import { serveAdmin } from "../admin/grpc-admin.ts";
import { FakeBackend } from "../admin/testing/fake-backend.ts";
import { executable, repoRoot } from "../../test-support/requirements.ts";
import { runCtl } from "./ctl.ts";

const run = promisify(execFile);
const TOKEN = "ctl-test-token";
const PASSWORD = "my-Secret-pw-42";

const dir = mkdtempSync(join(tmpdir(), "kingbus-ctl-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Membership with roles; records calls; `failNext` and `hang` for the error paths. */
class FakeControl implements NodeControl {
  readonly calls: [string, unknown][] = [];
  list: ControlMember[] = [
    { id: 1, name: "kb-0", peerUrls: ["http://kb-0.peer:9696"], adminUrls: ["http://kb-0.peer:9595"], role: "voter", isLeader: true },
    { id: 2, name: "kb-1", peerUrls: ["http://kb-1.peer:9696"], adminUrls: [], role: "voter", isLeader: false, progress: { matchIndex: 40, nextIndex: 41, state: "replicate", reachable: true, messagesDropped: 0 } },
    { id: 3, name: "kb-2", peerUrls: ["http://kb-2.peer:9696"], adminUrls: [], role: "learner", isLeader: false, progress: { matchIndex: 9, nextIndex: 10, state: "probe", reachable: false, messagesDropped: 5 } },
  ];
  passwordSet = false;
  failNext: unknown;
  hang = false;

  async #enter(call: string, args: unknown): Promise<void> {
    this.calls.push([call, args]);
    if (this.hang) await new Promise(() => undefined);
    if (this.failNext !== undefined) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
  }

  async status(): Promise<NodeStatus> {
    await this.#enter("status", undefined);
    return {
      id: 1, name: "kb-0", clusterId: "prod", role: "leader", term: 7, leaderId: 1, commitIndex: 42, appliedIndex: 41, firstIndex: 3, lastIndex: 43,
      members: this.list, executedGtidSet: "0-1-99", purgedGtidSet: "", version: "0.1.0",
    };
  }

  async members(): Promise<ControlMember[]> {
    await this.#enter("members", undefined);
    return this.list;
  }

  async addLearner(l: NewLearner): Promise<ControlMember[]> {
    await this.#enter("addLearner", l);
    this.list = [...this.list, { id: l.id, name: l.name, peerUrls: [l.peerUrl], adminUrls: l.adminUrl === undefined ? [] : [l.adminUrl], role: "learner", isLeader: false }];
    return this.list;
  }

  async promote(id: number): Promise<ControlMember[]> {
    await this.#enter("promote", id);
    this.list = this.list.map((m) => (m.id === id ? { ...m, role: "voter" } : m));
    return this.list;
  }

  async remove(id: number): Promise<ControlMember[]> {
    await this.#enter("remove", id);
    this.list = this.list.filter((m) => m.id !== id);
    return this.list;
  }

  async transferLeadership(toId: number): Promise<{ leaderId: number; term: number }> {
    await this.#enter("transferLeadership", toId);
    return { leaderId: toId, term: 8 };
  }

  async purge(target: PurgeTarget): Promise<{ purgedThroughIndex: number; purgedGtidSet: string; segmentsRemoved: number }> {
    await this.#enter("purge", target);
    return target.kind === "retention" ? { purgedThroughIndex: 0, purgedGtidSet: "", segmentsRemoved: 0 } : { purgedThroughIndex: 1000, purgedGtidSet: "0-1-50", segmentsRemoved: 2 };
  }

  async syncerPasswordSet(): Promise<boolean> {
    await this.#enter("syncerPasswordSet", undefined);
    return this.passwordSet;
  }
}

interface Outcome {
  status: number;
  stdout: string;
  stderr: string;
}

async function ctl(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  const status = await runCtl(args, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
  return { status, stdout, stderr };
}

async function grpcServer(register: (server: Server) => void, credentials = ServerCredentials.createInsecure()): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = new Server();
  register(server);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", credentials, (e, p) => (e ? reject(e) : resolve(p))));
  return { endpoint: `127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

describe("kingbus ctl against the admin gRPC service", () => {
  const backend = new FakeBackend({ members: [{ id: 1n, name: "kb-0", peerUrl: "http://kb-0.peer:9696" }, { id: 2n, name: "kb-1", peerUrl: "http://kb-1.peer:9696" }] });
  const control = new FakeControl();
  let endpoint: string;
  let close: () => Promise<void>;
  let base: string[];
  before(async () => {
    ({ endpoint, close } = await grpcServer((server) => serveAdmin(server, { backend, control, token: TOKEN })));
    base = ["--endpoint", endpoint, "--token", TOKEN];
  });
  after(() => close());

  it("status: readable by default, the whole answer with --json", async () => {
    const human = await ctl([...base, "status"]);
    assert.equal(human.status, 0, human.stderr);
    assert.equal(human.stderr, "");
    assert.match(human.stdout, /^node: +1 \(kb-0\)$/m);
    assert.match(human.stdout, /^role: +leader$/m);
    assert.match(human.stdout, /^leader: +1 \(kb-0\)$/m);
    assert.match(human.stdout, /^log: +3\.\.43$/m);
    assert.match(human.stdout, /^purged GTID set: +-$/m);
    assert.match(human.stdout, /^ID +NAME +ROLE +LEADER +MATCH +NEXT +STATE +REACHABLE +PEER URLS$/m);
    assert.match(human.stdout, /^1 +kb-0 +voter +\* +- +- +- +- +http:\/\/kb-0\.peer:9696$/m);
    assert.match(human.stdout, /^2 +kb-1 +voter +40 +41 +replicate +yes +http:\/\/kb-1\.peer:9696$/m);
    assert.match(human.stdout, /^3 +kb-2 +learner +9 +10 +probe +no +http:\/\/kb-2\.peer:9696$/m);

    const json = await ctl(["status", "--json", ...base]);
    assert.equal(json.status, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(parsed.nodeId, 1);
    assert.equal(parsed.commitIndex, 42);
    assert.deepEqual(parsed.progress, [
      { id: 2, matchIndex: 40, nextIndex: 41, state: "replicate", reachable: true, messagesDropped: 0 },
      { id: 3, matchIndex: 9, nextIndex: 10, state: "probe", reachable: false, messagesDropped: 5 },
    ]);
  });

  it("takes the endpoint and the token from the environment, or the token from a file", async () => {
    const byEnv = await ctl(["members", "list"], { KINGBUS_ENDPOINT: endpoint, KINGBUS_ADMIN_TOKEN: TOKEN });
    assert.equal(byEnv.status, 0, byEnv.stderr);
    assert.match(byEnv.stdout, /^3 +kb-2 +learner/m);
    const file = join(dir, "token");
    writeFileSync(file, `${TOKEN}\n`);
    const byFile = await ctl(["--endpoint", endpoint, "--token-file", file, "members", "list", "--json"]);
    assert.equal(byFile.status, 0, byFile.stderr);
    assert.deepEqual((JSON.parse(byFile.stdout) as { members: { id: number; learner: boolean }[] }).members.map((m) => [m.id, m.learner]), [[1, false], [2, false], [3, true]]);
    const byEnvFile = await ctl(["status"], { KINGBUS_ENDPOINT: endpoint, KINGBUS_ADMIN_TOKEN_FILE: file });
    assert.equal(byEnvFile.status, 0, byEnvFile.stderr);
    const flagWins = await ctl(["--endpoint", endpoint, "--token", "wrong", "status"], { KINGBUS_ADMIN_TOKEN: TOKEN });
    assert.equal(flagWins.status, 1, "--token takes precedence over the environment");
  });

  it("a missing or wrong token fails with the server's code and status 1", async () => {
    for (const args of [["--endpoint", endpoint, "status"], ["--endpoint", endpoint, "--token", "nope", "syncer", "status"]]) {
      const r = await ctl(args);
      assert.equal(r.status, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^kingbus ctl: ADMIN_UNAUTHORIZED: kingbus: unauthorized .*\n$/);
    }
  });

  it("members add-learner, promote, update and remove reach the control and print the membership", async () => {
    const added = await ctl([...base, "members", "add-learner", "4", "--name", "kb-3", "--peer-url", "http://kb-3.peer:9696", "--admin-url", "http://kb-3.peer:9595"]);
    assert.equal(added.status, 0, added.stderr);
    assert.deepEqual(control.calls.at(-1), ["addLearner", { id: 4, name: "kb-3", peerUrl: "http://kb-3.peer:9696", adminUrl: "http://kb-3.peer:9595" }]);
    assert.match(added.stdout, /^member 4 \(kb-3\) added as a learner$/m);
    assert.match(added.stdout, /^4 +kb-3 +learner +http:\/\/kb-3\.peer:9696 +http:\/\/kb-3\.peer:9595$/m);

    const promoted = await ctl([...base, "members", "promote", "4"]);
    assert.equal(promoted.status, 0, promoted.stderr);
    assert.deepEqual(control.calls.at(-1), ["promote", 4]);
    assert.match(promoted.stdout, /^4 +kb-3 +voter /m);

    const updated = await ctl([...base, "members", "update", "2", "--peer-url", "http://kb-1.moved:9696"]);
    assert.equal(updated.status, 0, updated.stderr);
    assert.deepEqual(backend.members().find((m) => m.id === 2n)?.peerUrls, ["http://kb-1.moved:9696"]);

    const removed = await ctl([...base, "--json", "members", "remove", "4"]);
    assert.equal(removed.status, 0, removed.stderr);
    assert.deepEqual(control.calls.at(-1), ["remove", 4]);
    assert.ok(!(JSON.parse(removed.stdout) as { members: { id: number }[] }).members.some((m) => m.id === 4));
  });

  it("transfer-leadership names the new leader", async () => {
    const r = await ctl([...base, "transfer-leadership", "2"]);
    assert.deepEqual([r.status, r.stdout], [0, "leader is now 2 (term 8)\n"]);
    assert.deepEqual(control.calls.at(-1), ["transferLeadership", 2]);
  });

  it("syncer start, status and stop: the password reaches the backend and is never printed", async () => {
    const file = join(dir, "mysql-password");
    writeFileSync(file, `${PASSWORD}\n`);
    const started = await ctl([...base, "syncer", "start", "--syncer-id", "1001", "--syncer-uuid", "f7e30637-f15a-11e8-accc-244427b6b60e", "--mysql-addr", "10.0.0.5:3306", "--mysql-user", "repl", "--mysql-password-file", file, "--semi-sync"]);
    assert.equal(started.status, 0, started.stderr);
    assert.deepEqual(backend.syncerConfig, { syncerId: 1001, syncerUuid: "f7e30637-f15a-11e8-accc-244427b6b60e", mysqlAddr: "10.0.0.5:3306", mysqlUser: "repl", mysqlPassword: PASSWORD, semiSync: true, heartbeatPeriodMs: 10_000 });
    control.passwordSet = true;
    const status = await ctl([...base, "syncer", "status"]);
    assert.match(status.stdout, /^status: +running$/m);
    assert.match(status.stdout, /^mysql password: +\*{6}$/m);
    assert.match(status.stdout, /^binlog position: +mysql_bin\.000006:194$/m);
    const json = await ctl([...base, "syncer", "status", "--json"]);
    assert.equal((JSON.parse(json.stdout) as { mysqlPasswordSet: boolean }).mysqlPasswordSet, true);

    const again = await ctl([...base, "syncer", "start", "--syncer-id", "1001", "--syncer-uuid", "f7e30637-f15a-11e8-accc-244427b6b60e", "--mysql-addr", "10.0.0.5:3306", "--mysql-user", "repl"], { KINGBUS_MYSQL_PASSWORD: PASSWORD });
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^kingbus ctl: ALREADY_RUNNING: /);
    const stopped = await ctl([...base, "syncer", "stop"]);
    assert.match(stopped.stdout, /^status: +stopped$/m);
    for (const r of [started, status, json, again, stopped]) assert.ok(!(r.stdout + r.stderr).includes(PASSWORD));

    const bad = await ctl([...base, "syncer", "start", "--syncer-id", "1", "--syncer-uuid", "x", "--mysql-addr", "nowhere", "--mysql-user", "repl"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^kingbus ctl: ADMIN_BAD_REQUEST: syncer_uuid: must be a UUID.*; mysql_addr: must be host:port/);
  });

  it("server start, status and stop", async () => {
    backend.replicas = [{ serverId: 77, serverUuid: "u-77", hostName: "10.0.0.9", port: 41234, user: "repl", registered: true, connectTime: new Date(Date.UTC(2024, 4, 1)), heartbeatPeriodNs: 0 }];
    const started = await ctl([...base, "server", "start", "--addr", "0.0.0.0:3390", "--user", "repl"], { KINGBUS_SERVER_PASSWORD: PASSWORD });
    assert.equal(started.status, 0, started.stderr);
    assert.deepEqual(backend.serverConfig, { addr: "0.0.0.0:3390", user: "repl", password: PASSWORD });
    assert.match(started.stdout, /^password: +\*{6}$/m);
    assert.match(started.stdout, /^77 +10\.0\.0\.9 +41234 +u-77 +- +2024-05-01T00:00:00\.000Z$/m);
    assert.ok(!started.stdout.includes(PASSWORD));
    assert.match((await ctl([...base, "server", "status"])).stdout, /^status: +running$/m);
    assert.match((await ctl([...base, "server", "stop"])).stdout, /^status: +stopped$/m);
  });

  it("purge: exactly one of --to, --before, --retention", async () => {
    const to = await ctl([...base, "purge", "--to", "mysql-bin.000003"]);
    assert.equal(to.status, 0, to.stderr);
    assert.deepEqual(control.calls.at(-1), ["purge", { kind: "binlogFile", binlogFile: "mysql-bin.000003" }]);
    assert.match(to.stdout, /^purged through index: +1000$/m);
    assert.match(to.stdout, /^segments removed: +2$/m);
    const before = await ctl([...base, "purge", "--before", "2024-05-01T00:00:00Z"]);
    assert.equal(before.status, 0, before.stderr);
    assert.deepEqual(control.calls.at(-1), ["purge", { kind: "before", beforeUnixMs: Date.UTC(2024, 4, 1) }]);
    await ctl([...base, "purge", "--before", "1700000000000"]);
    assert.deepEqual(control.calls.at(-1), ["purge", { kind: "before", beforeUnixMs: 1_700_000_000_000 }]);
    const retention = await ctl([...base, "purge", "--retention"]);
    assert.match(retention.stdout, /^nothing to purge$/m);
    const calls = control.calls.length;
    for (const args of [["purge"], ["purge", "--retention", "--to", "x"]]) {
      const r = await ctl([...base, ...args]);
      assert.equal(r.status, 2, args.join(" "));
      assert.equal(r.stderr, "kingbus ctl: CTL_USAGE: purge needs exactly one of --to, --before or --retention\n");
    }
    assert.equal(control.calls.length, calls, "no call was made");
  });

  it("server errors print their code and exit 1", async () => {
    control.failNext = new ProposalDroppedError("RAFT_NOT_LEADER", "node 1 is not the leader (leader: 2)", { term: 7, lead: 2 });
    const r = await ctl([...base, "members", "promote", "3"]);
    assert.deepEqual(r, { status: 1, stdout: "", stderr: "kingbus ctl: RAFT_NOT_LEADER: node 1 is not the leader (leader: 2)\n" });
    control.failNext = new AdminError("MEMBER_NOT_FOUND", "no member 9");
    assert.equal((await ctl([...base, "--json", "members", "remove", "9"])).stderr, "kingbus ctl: MEMBER_NOT_FOUND: no member 9\n");
  });

  it("a call that gets no answer in --timeout fails with ADMIN_DEADLINE_EXCEEDED", async () => {
    control.hang = true;
    const started = performance.now();
    const r = await ctl([...base, "--timeout", "300ms", "status"]);
    control.hang = false;
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `kingbus ctl: ADMIN_DEADLINE_EXCEEDED: no answer from ${endpoint} within 300 ms\n`);
    assert.ok(performance.now() - started < 3_000);
  });

  it("usage errors exit 2 and make no call", async () => {
    const calls = control.calls.length + backend.calls.length;
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /^kingbus ctl: CTL_USAGE: unknown command 'frobnicate'/],
      [["status", "--bogus"], /^kingbus ctl: CTL_USAGE: unknown option '--bogus'/],
      [["members", "promote", "abc"], /^kingbus ctl: CTL_USAGE: command-argument value 'abc' is invalid for argument 'id'\. must be a node id/],
      [["members", "promote", "0"], /must be a node id/],
      [["members", "add-learner", "4", "--name", "kb-3"], /^kingbus ctl: CTL_USAGE: required option '--peer-url <url>' not specified/],
      [["transfer-leadership"], /^kingbus ctl: CTL_USAGE: missing required argument 'id'/],
      [["--timeout", "soon", "status"], /^kingbus ctl: CTL_USAGE: option '--timeout <duration>' argument 'soon' is invalid/],
      [["--token-file", join(dir, "token"), "status"], /^kingbus ctl: CTL_USAGE: --token and --token-file cannot be combined\n$/],
      [["--endpoint", "no-port", "status"], /^kingbus ctl: CTL_USAGE: the endpoint must be host:port/],
      [["--cert", "/c.pem", "status"], /^kingbus ctl: CTL_USAGE: --cert and --key go together/],
      [["server", "start", "--addr", "0.0.0.0:3390", "--user", "u", "--password", "a", "--password-file", "/p"], /^kingbus ctl: CTL_USAGE: --password and --password-file cannot be combined/],
      [["members"], /^Usage: kingbus ctl members/],
      [[], /^Usage: kingbus ctl/],
    ];
    for (const [args, stderr] of cases) {
      const r = await ctl([...base, ...args]);
      assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, stderr, args.join(" "));
      assert.equal(r.stdout, "", args.join(" "));
    }
    const missing = await ctl(["--endpoint", endpoint, "--token-file", join(dir, "missing"), "status"]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^kingbus ctl: CTL_USAGE: cannot read the token file .*missing \(ENOENT\)\n$/);
    const empty = join(dir, "empty-token");
    writeFileSync(empty, "\n");
    assert.equal((await ctl(["--endpoint", endpoint, "--token-file", empty, "status"])).stderr, `kingbus ctl: CTL_USAGE: the token from the token file ${empty} is empty\n`);
    assert.equal(control.calls.length + backend.calls.length, calls);
  });

  it("--help prints the usage on stdout and exits 0", async () => {
    const r = await ctl(["members", "add-learner", "--help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: kingbus ctl members add-learner \[options\] <id>/);
    assert.match(r.stdout, /--peer-url <url>/);
    const top = await ctl(["--help"]);
    assert.match(top.stdout, /--endpoint <host:port>/);
    assert.match(top.stdout, /transfer-leadership/);
  });

  it("an endpoint nobody listens on fails with ADMIN_UNAVAILABLE", async () => {
    const r = await ctl(["--endpoint", "127.0.0.1:1", "status"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^kingbus ctl: ADMIN_UNAVAILABLE: cannot reach 127\.0\.0\.1:1: /);
  });
});

describe("kingbus ctl as a process", () => {
  it("exits 0, 1 and 2 and writes its output before it ends", async () => {
    const backend = new FakeBackend();
    const control = new FakeControl();
    const { endpoint, close } = await grpcServer((server) => serveAdmin(server, { backend, control, token: TOKEN }));
    // The entry main.ts will have: ctl registered on a program, parsed from process.argv.
    const entry = `import { Command } from "commander"; import { registerCtl } from ${JSON.stringify(new URL("./ctl.ts", import.meta.url).href)};
      const program = new Command("kingbus").showHelpAfterError(); registerCtl(program); await program.parseAsync(process.argv.slice(1), { from: "user" });`;
    const node = process.execPath;
    const spawnCtl = async (args: string[], env: Record<string, string> = {}): Promise<Outcome> => {
      try {
        const { stdout, stderr } = await run(node, ["--disable-warning=ExperimentalWarning", "--input-type=module", "-e", entry, "ctl", ...args], { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", ...env } });
        return { status: 0, stdout, stderr };
      } catch (e) {
        const failed = e as { code: number; stdout: string; stderr: string };
        return { status: failed.code, stdout: failed.stdout, stderr: failed.stderr };
      }
    };
    try {
      const ok = await spawnCtl(["status", "--json"], { KINGBUS_ENDPOINT: endpoint, KINGBUS_ADMIN_TOKEN: TOKEN });
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal((JSON.parse(ok.stdout) as { role: string }).role, "leader");
      const refused = await spawnCtl(["--endpoint", endpoint, "status"]);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /^kingbus ctl: ADMIN_UNAUTHORIZED: /);
      const usage = await spawnCtl(["--endpoint", endpoint, "members", "promote", "x"]);
      assert.equal(usage.status, 2);
      assert.match(usage.stderr, /^kingbus ctl: CTL_USAGE: /);
      const help = await spawnCtl(["--help"]);
      assert.equal(help.status, 0);
      assert.match(help.stdout, /^Usage: kingbus ctl \[options\] \[command\]/);
    } finally {
      await close();
    }
  });
});

const openssl = executable("openssl", "openssl");

describe("kingbus ctl over TLS", () => {
  it("verifies the endpoint against --cacert and presents --cert/--key when the server requires a client certificate", { skip: openssl.skip ?? false }, async () => {
    const ca = { cert: join(dir, "ca.pem"), key: join(dir, "ca.key") };
    await run(openssl.path, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca.key, "-out", ca.cert, "-days", "2",
      "-subj", "/CN=kingbus ctl test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
    const ext = join(dir, "member.ext");
    writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n");
    const member = { cert: join(dir, "member.pem"), key: join(dir, "member.key"), csr: join(dir, "member.csr") };
    await run(openssl.path, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", member.key, "-out", member.csr, "-subj", "/CN=member"]);
    await run(openssl.path, ["x509", "-req", "-in", member.csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", member.cert, "-days", "2", "-extfile", ext]);
    const { readFileSync } = await import("node:fs");
    const mutual = ServerCredentials.createSsl(readFileSync(ca.cert), [{ cert_chain: readFileSync(member.cert), private_key: readFileSync(member.key) }], true);
    const { endpoint, close } = await grpcServer((server) => serveAdmin(server, { backend: new FakeBackend(), control: new FakeControl() }), mutual);
    try {
      const ok = await ctl(["--endpoint", endpoint, "--cacert", ca.cert, "--cert", member.cert, "--key", member.key, "status"]);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(ok.stdout, /^role: +leader$/m);
      const noCert = await ctl(["--endpoint", endpoint, "--cacert", ca.cert, "--timeout", "3s", "status"]);
      assert.equal(noCert.status, 1, "the server requires a client certificate");
      const plaintext = await ctl(["--endpoint", endpoint, "--timeout", "3s", "status"]);
      assert.equal(plaintext.status, 1);
    } finally {
      await close();
    }
  });
});
