/**
 * The syncer in MySQL flavour: COM_BINLOG_DUMP_GTID against the project's own server in MySQL mode
 * (there is no MySQL server here) serving a real MySQL 8.0 binlog from the shared fixtures. Three
 * kingbus processes end with the fixture's GTID set and its file byte for byte; resuming after a
 * restart of the whole cluster asks only for what is missing.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";
import { sharedDir } from "../../test-support/requirements.ts";
import { asSentOnTheWire, debugBinlog } from "../../test-support/syncer-harness.ts";
import { BinlogServer, FileBinlogFeed } from "../mysql/server/index.ts";
import { MysqlGtidSet } from "../binlog/gtid-mysql.ts";

const { dir: shared, skip } = sharedDir();
const FIXTURE = "mysql-enum-string-set.000001";

async function waitForExecuted(cluster: KingbusCluster, ids: number[], want: MysqlGtidSet, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(ids.map((id) => debugBinlog(cluster, id).catch(() => undefined)));
    if (states.every((s) => s !== undefined && s.flavor === "mysql" && MysqlGtidSet.parse(s.executed).equals(want))) return;
    if (Date.now() > deadline) throw new Error(`not at ${want.toString()} within ${timeoutMs} ms: ${JSON.stringify(states.map((s) => s && { executed: s.executed, syncer: s.syncer }))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("syncer: MySQL flavour against kingbus's own server serving a MySQL 8.0 binlog", { skip }, () => {
  let dir: string;
  let server: BinlogServer;
  let cluster: KingbusCluster;
  let executed: MysqlGtidSet;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kingbus-mysql-primary-"));
    copyFileSync(join(shared, "fixtures", "binlog", "mysql", FIXTURE), join(dir, FIXTURE));
    const feed = await FileBinlogFeed.open([join(dir, FIXTURE)], { flavor: "mysql" });
    const state = await feed.gtidState();
    assert.ok(state.flavor === "mysql");
    executed = state.executed;
    assert.ok(!executed.isEmpty(), "the fixture has GTIDs");
    server = new BinlogServer({ flavor: "mysql", serverId: 7001, serverUuid: "93e95066-a2f4-11ec-9b69-9657f0ae95e2", users: { kb_repl: "mysql-Pa55" } }, feed);
    await server.listen("127.0.0.1", 0);
    cluster = await KingbusCluster.create(3);
  });

  after(async () => {
    await cluster?.stop();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("stores the MySQL binlog byte for byte with its GTID set", async () => {
    const leader = await cluster.waitForLeader();
    const addr = server.address()!;
    const body = JSON.stringify({ syncer_id: 4002, syncer_uuid: "0b7a3f5e-2d1c-11ef-9a31-0242ac120003", mysql_addr: `127.0.0.1:${addr.port}`, mysql_user: "kb_repl", mysql_password: "mysql-Pa55", heartbeat_period: 0.5 });
    const r = await cluster.call<string>(leader, "PUT", "/binlog/syncer/start", body);
    assert.equal(r.status, 200, r.message);
    const ids = cluster.nodes.map((n) => n.id);
    await waitForExecuted(cluster, ids, executed);
    const want = asSentOnTheWire(readFileSync(join(dir, FIXTURE))).subarray(4);
    for (const id of ids) {
      const files = (await debugBinlog(cluster, id, true)).files ?? {};
      assert.deepEqual(Object.keys(files), [FIXTURE]);
      assert.ok(Buffer.from(files[FIXTURE]!, "base64").equals(want), `node ${id}: stored bytes differ from the fixture`);
    }
    const status = await cluster.call<Record<string, unknown>>(leader, "GET", "/binlog/syncer/status");
    assert.equal(status.data.primary_flavor, "mysql");
    assert.equal(status.data.executed_gtid_set, executed.toString());
    // The dump asked by GTID: the server saw a COM_BINLOG_DUMP_GTID from kingbus's server id.
    assert.ok(server.connections().some((c) => c.dumpServerId === 4002), "a dump connection from the syncer");
  });
});
