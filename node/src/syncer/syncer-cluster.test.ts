/**
 * The syncer end to end: a real MariaDB 10.11 primary, three real `kingbus node` processes. The
 * syncer is started through the admin API of a follower (forwarded to the leader), the primary
 * runs DML, DDL, JSON, BLOBs, multi-statement and XA transactions under several gtid_domain_ids
 * and one row event over 16 MiB; every node ends with the primary's @@gtid_binlog_pos and with
 * the primary's binlog files byte for byte. Then the leader is killed while a large transaction
 * is being stored, and the primary is killed and restarted mid-stream: nothing is lost, nothing
 * is stored twice, nothing is stored half.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../test-support/mariadb.ts";
import { runMixedWorkload } from "../../test-support/workload.ts";
import { MariadbGtidPosition, parseMariadbGtid } from "../binlog/gtid-mariadb.ts";
import { REPL_PASSWORD, assertFilesIdentical, createReplicationUser, debugBinlog, startSyncer, waitForPosition } from "../../test-support/syncer-harness.ts";

const skip = mariadbSkip();

describe("syncer: a real MariaDB primary into a 3-node kingbus cluster", { skip }, () => {
  let primary: MariadbServer;
  let cluster: KingbusCluster;

  before(async () => {
    primary = await startMariadb({ name: "syncer-primary", extraArgs: ["--max-allowed-packet=256M"] });
    await createReplicationUser(primary);
    cluster = await KingbusCluster.create(3);
  });

  after(async () => {
    await cluster?.stop();
    await stopAllMariadb();
  });

  it("stores the primary's binlog whole: GTID position equal, files byte-identical, on every node", async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((n) => n.id !== leader)!.id;
    await startSyncer(cluster, follower, primary);

    const summary = await runMixedWorkload(primary, { domains: [0, 3, 7], database: "kb_sync" });
    await primary.flushBinaryLogs();
    // One row event over 16 MiB: it reaches kingbus over several packets and is stored in fragments.
    await primary.query("CREATE TABLE kb_sync.t_huge (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB");
    await primary.query("INSERT INTO kb_sync.t_huge VALUES (1, REPEAT('k', 20 * 1024 * 1024))");
    await primary.query("SET SESSION gtid_domain_id = 3; INSERT INTO kb_sync.t_rows (k, name, color, tags, bits, at) VALUES (999999, 'after-huge', 'red', '', 1, NOW())");
    const target = await primary.gtidBinlogPos();
    assert.notEqual(target, summary.gtidBinlogPos, "the workload went on after the summary");

    const ids = cluster.nodes.map((n) => n.id);
    await waitForPosition(cluster, ids, target);
    for (const id of ids) {
      const files = await assertFilesIdentical(cluster, id, primary);
      assert.ok(files >= 2, `node ${id} compared ${files} files`);
    }

    // The status, through a follower, in the original's shape, with the password masked.
    const status = await cluster.call<Record<string, unknown>>(follower, "GET", "/binlog/syncer/status");
    assert.equal(status.status, 200);
    assert.equal(status.data.status, "running");
    assert.equal(status.data.mysql_password, "******");
    assert.equal(status.data.executed_gtid_set, (await debugBinlog(cluster, leader)).executed);
    assert.equal(typeof status.data.last_binlog_file, "string");
    assert.ok(Number(status.data.last_file_position) > 4);
    assert.equal(status.data.seconds_behind_primary, 0);
    for (const n of cluster.nodes) assert.ok(!n.stderr.join("").includes(REPL_PASSWORD), `node ${n.id} logged the password`);

    // Prometheus: the leader's syncer counts what it received; every node counts what it applied.
    const metric = async (id: number, name: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${cluster.node(id).httpPort}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`${name} `));
      assert.ok(line, `node ${id} exports ${name}`);
      return Number(line.split(" ")[1]);
    };
    assert.ok((await metric(leader, "kingbus_syncer_received_events_total")) > 100);
    assert.ok((await metric(leader, "kingbus_syncer_received_bytes_total")) > 20 * 1024 * 1024);
    assert.equal(await metric(leader, "kingbus_syncer_running"), 1);
    assert.equal(await metric(follower, "kingbus_syncer_running"), 0);
    assert.equal(await metric(follower, "kingbus_binlog_transactions"), await metric(leader, "kingbus_binlog_transactions"));
  });

  it("a leader killed while storing a large transaction: the new leader resumes, nothing partial or doubled", async () => {
    const leader = await cluster.waitForLeader();
    const inserting = primary.query("INSERT INTO kb_sync.t_huge VALUES (2, REPEAT('x', 40 * 1024 * 1024))");
    // Kill the leader as soon as its syncer has begun receiving the big event.
    const before = (await debugBinlog(cluster, leader)).syncer as unknown as { bytesReceived: number };
    const deadline = Date.now() + 20_000;
    let partial = false;
    while (!partial && Date.now() < deadline) {
      const s = (await debugBinlog(cluster, leader)).syncer as unknown as { bytesReceived: number };
      partial = s.bytesReceived > before.bytesReceived + 1024 * 1024;
      if (!partial) await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(partial, "the leader's syncer was receiving the 40 MiB transaction when killed");
    const killedAt = Date.now();
    await cluster.kill(leader);
    const newLeader = await cluster.waitForLeader(10_000, [leader]);
    const electedBy = Date.now();
    // The new leader's syncer resumes by itself: configuration and position come from the log.
    while ((await debugBinlog(cluster, newLeader)).syncer.phase !== "running") {
      assert.ok(Date.now() - electedBy < 2000, "the new leader's syncer did not resume within 2 s of its election");
      await new Promise((r) => setTimeout(r, 10));
    }
    const resumedAfterElectionMs = Date.now() - electedBy;
    await inserting;
    await primary.query("INSERT INTO kb_sync.t_huge VALUES (3, 'small after')");
    const target = await primary.gtidBinlogPos();
    const others = cluster.nodes.map((n) => n.id).filter((id) => id !== leader);
    await waitForPosition(cluster, others, target);
    const resumedWithinMs = Date.now() - killedAt;
    for (const id of others) await assertFilesIdentical(cluster, id, primary);
    assert.ok(newLeader !== leader);
    // The killed node comes back and catches up to the same bytes.
    cluster.start(leader);
    await waitForPosition(cluster, [leader], target);
    await assertFilesIdentical(cluster, leader, primary);
    assert.ok(resumedWithinMs < 30_000, `caught up ${resumedWithinMs} ms after the kill`);
    process.stderr.write(`# leader killed: new leader elected ${electedBy - killedAt} ms after the kill (as seen by polling), its syncer dumping ${resumedAfterElectionMs} ms after that\n`);
  });

  it("the primary killed and restarted mid-stream: the syncer reconnects and loses nothing", async () => {
    const leader = await cluster.waitForLeader();
    let stopWrites = false;
    // A connection of its own: the harness's shared one is destroyed (not failed) by kill(), which
    // would leave a query in flight on it unanswered forever.
    const writer = await primary.connect();
    const writes = (async () => {
      for (let i = 0; !stopWrites; i++) {
        try {
          await writer.query(`INSERT INTO kb_sync.t_huge VALUES (${1000 + i}, REPEAT('p', ${1000 + (i % 500) * 97}))`);
        } catch {
          return i; // the primary died under us
        }
      }
      return -1;
    })();
    await new Promise((r) => setTimeout(r, 300));
    await primary.kill();
    stopWrites = true;
    const done = await writes;
    writer.destroy();
    assert.ok(done > 0, `the primary died during the writes (${done} inserts before)`);
    await primary.restart();
    await primary.query(`INSERT INTO kb_sync.t_huge VALUES (5000, 'after restart')`);
    const target = await primary.gtidBinlogPos();
    const ids = cluster.nodes.map((n) => n.id);
    await waitForPosition(cluster, ids, target, 90_000);
    for (const id of ids) await assertFilesIdentical(cluster, id, primary);
    const s = await debugBinlog(cluster, leader);
    assert.ok(s.syncer.connects >= 2, `the syncer reconnected (${s.syncer.connects} connections)`);

    // A clean restart: the primary ends its file with a STOP event after the dump connection is
    // gone, and a GTID dump resumes in the next file. The stored file must still be whole.
    await primary.restart();
    await primary.query(`INSERT INTO kb_sync.t_huge VALUES (5001, 'after a clean restart')`);
    const afterClean = await primary.gtidBinlogPos();
    await waitForPosition(cluster, ids, afterClean, 90_000);
    for (const id of ids) await assertFilesIdentical(cluster, id, primary);
  });
});

describe("syncer: semi-sync with a real MariaDB primary", { skip }, () => {
  let primary: MariadbServer;
  let cluster: KingbusCluster;

  before(async () => {
    // A short timeout until kingbus is attached: with no semi-sync replica yet, the first commits
    // (the replication user) wait that long, then the primary turns semi-sync off until one acks.
    primary = await startMariadb({ name: "semisync-primary", extraArgs: ["--rpl-semi-sync-master-enabled=ON", "--rpl-semi-sync-master-timeout=200"] });
    await createReplicationUser(primary);
    cluster = await KingbusCluster.create(3);
  });

  after(async () => {
    for (const n of cluster?.nodes ?? []) if (n.child?.pid) process.kill(n.child.pid, "SIGCONT");
    await cluster?.stop();
    await stopAllMariadb();
  });

  const semiStatus = async (name: string): Promise<string> => {
    const rows = await primary.query(`SHOW GLOBAL STATUS LIKE '${name}'`);
    return String((rows[0] as { Value?: unknown } | undefined)?.Value ?? "");
  };

  it("the primary's commit returns only once the transaction is committed in Raft", async () => {
    const leader = await cluster.waitForLeader();
    await startSyncer(cluster, leader, primary, { semi_sync: true });
    await primary.query("CREATE DATABASE kb_semi; CREATE TABLE kb_semi.t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB");
    await waitForPosition(cluster, [leader], await primary.gtidBinlogPos());
    // kingbus is attached and acking: from now on a commit waits for it (up to a minute).
    await primary.query("SET GLOBAL rpl_semi_sync_master_timeout = 60000");
    await primary.query("INSERT INTO kb_semi.t VALUES (0, 'turns semi-sync back on')");
    assert.equal(await semiStatus("Rpl_semi_sync_master_status"), "ON");
    assert.equal(await semiStatus("Rpl_semi_sync_master_clients"), "1");
    const yesBefore = Number(await semiStatus("Rpl_semi_sync_master_yes_tx"));
    const noBefore = Number(await semiStatus("Rpl_semi_sync_master_no_tx"));
    const conn = await primary.connect();
    try {
      for (let i = 1; i <= 20; i++) {
        await conn.query(`INSERT INTO kb_semi.t VALUES (${i}, 'semi ${i}')`);
        const [rows] = await conn.query("SELECT @@last_gtid AS g");
        const gtid = (rows as Array<{ g: string }>)[0]!.g;
        // The commit returned: the leader has applied it, so it is on a majority already.
        const stored = await debugBinlog(cluster, leader);
        assert.ok(MariadbGtidPosition.parse(stored.executed).contains(parseMariadbGtid(gtid)), `${gtid} acked before kingbus committed it (kingbus at ${stored.executed})`);
      }
      assert.ok(Number(await semiStatus("Rpl_semi_sync_master_yes_tx")) >= yesBefore + 20, "the primary counted the acks");
      assert.equal(Number(await semiStatus("Rpl_semi_sync_master_no_tx")), noBefore, "no commit went ahead without an ack");

      // Without a Raft majority nothing can commit: the primary's commit must wait.
      const followers = cluster.nodes.filter((n) => n.id !== leader);
      for (const f of followers) process.kill(f.child!.pid!, "SIGSTOP");
      let returned = false;
      const insert = conn.query("INSERT INTO kb_semi.t VALUES (100, 'waits for raft')").then(() => (returned = true));
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(returned, false, "the primary's commit returned while kingbus could not commit");
      for (const f of followers) process.kill(f.child!.pid!, "SIGCONT");
      await insert;
      const [rows] = await conn.query("SELECT @@last_gtid AS g");
      const gtid = parseMariadbGtid((rows as Array<{ g: string }>)[0]!.g);
      const now = await cluster.waitForLeader();
      const stored = await debugBinlog(cluster, now);
      assert.ok(MariadbGtidPosition.parse(stored.executed).contains(gtid), "stored on the leader when the commit returned");
      assert.equal(Number(await semiStatus("Rpl_semi_sync_master_no_tx")), noBefore, "the waiting commit was acked, not timed out");
    } finally {
      await conn.end();
    }
  });
});
