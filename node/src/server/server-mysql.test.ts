/**
 * The binlog server of a kingbus pod in MySQL flavour, end to end: a MySQL 8.0 binlog (a shared
 * fixture, served as the primary by the project's own server, there being no MySQL server here)
 * is stored by three real `kingbus node` processes through the syncer; the binlog server started
 * on a follower pod then
 *  - looks like the primary's MySQL version and announces caching_sha2_password (mysql2 logs in);
 *  - answers the MySQL 8.0 replica's setup sequence (protocol notes, section 3);
 *  - serves COM_BINLOG_DUMP_GTID from every GTID set byte for byte as the primary's own files are
 *    served (the same server code over the fixture file, with kingbus's server id);
 *  - refuses GTID sets that lack what was never stored (1236).
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createConnection } from "mysql2/promise";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";
import { freePort } from "../../test-support/ports.ts";
import { sharedDir } from "../../test-support/requirements.ts";
import { debugBinlog } from "../../test-support/syncer-harness.ts";
import { MysqlGtidSet } from "../binlog/gtid-mysql.ts";
import { BinlogServer, FileBinlogFeed } from "../mysql/server/index.ts";
import { encodeBinlogDumpGtid, RawClient, readDumpEvents, ServerErrorReply } from "../mysql/server/testing/raw-client.ts";

const { dir: shared, skip } = sharedDir();
const FIXTURE = "mysql-enum-string-set.000001";
const SYNCER_ID = 4002;
const SYNCER_UUID = "0b7a3f5e-2d1c-11ef-9a31-0242ac120003";
const USER = "kb_down";
const PASSWORD = "mysql-Down-9";

describe("binlog server, MySQL flavour: a MySQL 8.0 binlog stored by 3 kingbus nodes, served by a pod", { skip }, () => {
  let dir: string;
  let primary: BinlogServer;
  let reference: BinlogServer;
  let cluster: KingbusCluster;
  let executed: MysqlGtidSet;
  let pod: number;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kingbus-mysql-serve-"));
    copyFileSync(join(shared, "fixtures", "binlog", "mysql", FIXTURE), join(dir, FIXTURE));
    const feed = await FileBinlogFeed.open([join(dir, FIXTURE)], { flavor: "mysql" });
    const state = await feed.gtidState();
    assert.ok(state.flavor === "mysql");
    executed = state.executed;
    primary = new BinlogServer({ flavor: "mysql", serverId: 7001, serverUuid: "93e95066-a2f4-11ec-9b69-9657f0ae95e2", users: { kb_repl: "mysql-Pa55" } }, feed);
    await primary.listen("127.0.0.1", 0);
    // What the files give when served with kingbus's identity: the expected dumps.
    reference = new BinlogServer({ flavor: "mysql", serverId: SYNCER_ID, serverUuid: SYNCER_UUID, users: { [USER]: PASSWORD } }, feed);
    await reference.listen("127.0.0.1", 0);
    cluster = await KingbusCluster.create(3);
    const leader = await cluster.waitForLeader();
    pod = cluster.nodes.map((n) => n.id).find((id) => id !== leader)!;
    const body = JSON.stringify({ syncer_id: SYNCER_ID, syncer_uuid: SYNCER_UUID, mysql_addr: `127.0.0.1:${primary.address()!.port}`, mysql_user: "kb_repl", mysql_password: "mysql-Pa55", heartbeat_period: 0.5 });
    assert.equal((await cluster.call<string>(leader, "PUT", "/binlog/syncer/start", body)).status, 200);
    const deadline = Date.now() + 30_000;
    while (!MysqlGtidSet.parse((await debugBinlog(cluster, pod)).executed || "").equals(executed)) {
      assert.ok(Date.now() < deadline, "the pod stored the fixture");
      await new Promise((r) => setTimeout(r, 100));
    }
    port = await freePort();
    const r = await cluster.call<string>(pod, "PUT", "/binlog/server/start", JSON.stringify({ addr: `127.0.0.1:${port}`, user: USER, password: PASSWORD }));
    assert.equal(r.status, 200, r.message);
  });

  after(async () => {
    await cluster?.stop();
    await primary?.close();
    await reference?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("looks like the primary's MySQL, logs in with caching_sha2_password and answers a MySQL 8.0 replica's setup", async () => {
    const c = await RawClient.connect({ host: "127.0.0.1", port, user: USER, password: PASSWORD, authPlugin: "caching_sha2_password" });
    assert.equal(c.handshake.authPlugin, "caching_sha2_password");
    assert.doesNotMatch(c.handshake.serverVersion, /MariaDB/);
    assert.match(c.handshake.serverVersion, /^8\.0\./);
    assert.match(String(await c.value("SELECT UNIX_TIMESTAMP()")), /^\d+$/);
    assert.equal(await c.value("SELECT @@GLOBAL.SERVER_ID"), String(SYNCER_ID));
    await c.query("SET @master_heartbeat_period = 30000001024, @source_heartbeat_period = 30000001024");
    await c.query("SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum");
    assert.equal(await c.value("SELECT @source_binlog_checksum"), "CRC32");
    assert.equal(await c.value("SELECT @@GLOBAL.GTID_MODE"), "ON");
    assert.equal(await c.value("SELECT @@GLOBAL.SERVER_UUID"), SYNCER_UUID);
    await c.query("SET @slave_uuid = 'aaaaaaaa-0000-0000-0000-000000000001', @replica_uuid = 'aaaaaaaa-0000-0000-0000-000000000001'");
    assert.equal(await c.value("SELECT @@global.rpl_semi_sync_source_enabled"), "1");
    assert.equal(await c.value("SELECT @@GLOBAL.gtid_executed"), executed.toString());
    assert.deepEqual((await c.query("SHOW BINARY LOGS"))!.rows.map((r) => r[0]), [FIXTURE]);
    assert.equal((await c.query("SHOW MASTER STATUS"))!.rows[0]![4], executed.toString());
    await c.close();
    const conn = await createConnection({ host: "127.0.0.1", port, user: USER, password: PASSWORD });
    const [rows] = await conn.query("SELECT @@version_comment AS v");
    assert.equal((rows as Array<{ v: string }>)[0]!.v, "kingbus binlog server");
    await conn.end();
    await assert.rejects(createConnection({ host: "127.0.0.1", port, user: USER, password: "wrong" }), (e: { errno?: number }) => e.errno === 1045);
  });

  it("serves COM_BINLOG_DUMP_GTID from every GTID set as the primary's files are served", async () => {
    const dump = async (p: number, set: MysqlGtidSet): Promise<Buffer[] | string> => {
      const c = await RawClient.connect({ host: "127.0.0.1", port: p, user: USER, password: PASSWORD });
      try {
        await c.query("SET @source_binlog_checksum = 'CRC32', @master_binlog_checksum = 'CRC32'");
        await c.command(encodeBinlogDumpGtid(set, 0x01 | 0x02, 99));
        return await readDumpEvents(c);
      } catch (e) {
        if (e instanceof ServerErrorReply) return `ERR ${e.errno}`;
        throw e;
      } finally {
        c.destroy();
      }
    };
    const [source] = [...executed];
    const last = source!.intervals.at(-1)!.last;
    const sets = [MysqlGtidSet.empty(), executed];
    for (let n = 1n; n <= last; n++) {
      sets.push(MysqlGtidSet.parse(`${source!.uuid}:1-${n}`), executed.subtract(MysqlGtidSet.parse(`${source!.uuid}:${n}`)));
    }
    for (const set of sets) {
      const want = await dump(reference.address()!.port, set);
      const got = await dump(port, set);
      assert.ok(Array.isArray(want), `${set.toString()}: ${String(want)}`);
      assert.ok(Array.isArray(got), `${set.toString()}: ${String(got)}`);
      assert.equal(got.length, want.length, `from {${set.toString()}}`);
      got.forEach((e, i) => assert.ok(e.equals(want[i]!), `from {${set.toString()}}: event ${i} (type ${e[4]})`));
    }
    // More GTIDs of the stored source than were ever stored: refused.
    assert.equal(await dump(port, MysqlGtidSet.parse(`${source!.uuid}:1-${last + 10n}`)), "ERR 1236");
  });
});
