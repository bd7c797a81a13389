/**
 * The binlog server end to end: a real MariaDB 10.11 primary, three real `kingbus node` processes
 * storing its binlog through the syncer, the binlog server started on every pod through the admin
 * API, and real MariaDB 10.11 replicas and `mariadb-binlog` reading from the pods:
 *  - a replica with MASTER_USE_GTID=slave_pos on a follower pod replicates a mixed workload (DDL,
 *    InnoDB/MyISAM DML, JSON, BLOBs up to 1 MiB stored as fragments, XA, three GTID domains) and
 *    ends with the primary's checksums and gtid_binlog_pos; a commit on the primary reaches it
 *    while it waits; the pod's status lists it, without the password;
 *  - stopped, and started again against another pod, it goes on with nothing lost or repeated
 *    (strict GTID mode and primary keys would stop it on a duplicate);
 *  - a second replica with MASTER_USE_GTID=no (file and position) replicates the same, and moves
 *    between pods by file and position;
 *  - mariadb-binlog --read-from-remote-server --raw --stop-never writes files byte-identical to
 *    the primary's, following a rotation live.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";
import { mariadbBinlogSkip } from "../../test-support/mariadb-binlog.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../test-support/mariadb.ts";
import { executable } from "../../test-support/requirements.ts";
import { asSentOnTheWire, createReplicationUser, REPL_PASSWORD, startSyncer, waitForPosition } from "../../test-support/syncer-harness.ts";
import { runMixedWorkload } from "../../test-support/workload.ts";
import { checksums, pointReplica, SERVER_PASSWORD, SERVER_USER, slaveStatus, startServers, waitForReplica } from "./testing/replica.ts";

const skip = mariadbSkip() ?? mariadbBinlogSkip();
const DATABASES = ["kb_srv", "kb_more"];

describe("binlog server: real replicas of a 3-node kingbus cluster", { skip }, () => {
  let primary: MariadbServer;
  let cluster: KingbusCluster;
  let ports: Map<number, number>;
  let leader: number;
  let followers: number[];
  const began = performance.now();
  const log = (what: string): void => void process.stderr.write(`# ${what} at ${((performance.now() - began) / 1000).toFixed(1)} s\n`);

  before(async () => {
    [primary, cluster] = await Promise.all([startMariadb({ name: "srv-primary" }), KingbusCluster.create(3)]);
    await createReplicationUser(primary);
    leader = await cluster.waitForLeader();
    followers = cluster.nodes.map((n) => n.id).filter((id) => id !== leader);
    await startSyncer(cluster, followers[0]!, primary);
    // Started before anything is stored: each pod listens once the first file is applied.
    ports = await startServers(cluster, cluster.nodes.map((n) => n.id));
    await runMixedWorkload(primary, { domains: [0, 1, 2], database: "kb_srv" });
    await primary.flushBinaryLogs();
    await waitForPosition(cluster, cluster.nodes.map((n) => n.id), await primary.gtidBinlogPos());
    log("primary, 3 nodes, workload stored");
  });

  after(async () => {
    await cluster?.stop();
    await stopAllMariadb();
  });

  async function moreWrites(tag: string, domain: number): Promise<void> {
    await primary.query("CREATE DATABASE IF NOT EXISTS kb_more");
    await primary.query("CREATE TABLE IF NOT EXISTS kb_more.t (id INT PRIMARY KEY AUTO_INCREMENT, tag VARCHAR(40), d INT, b MEDIUMBLOB) ENGINE=InnoDB");
    const c = await primary.connect();
    try {
      await c.query("SET SESSION gtid_domain_id = ?", [domain]);
      for (let i = 0; i < 20; i++) await c.query("INSERT INTO kb_more.t (tag, d, b) VALUES (?, ?, ?)", [`${tag}-${i}`, domain, Buffer.alloc(i === 7 ? 2_500_000 : 100 + i, i)]);
      await c.query("BEGIN");
      await c.query("UPDATE kb_more.t SET d = d + 100 WHERE tag LIKE ?", [`${tag}-%`]);
      await c.query("DELETE FROM kb_more.t WHERE tag = ?", [`${tag}-3`]);
      await c.query("COMMIT");
    } finally {
      await c.end();
    }
  }

  it("a replica with MASTER_USE_GTID=slave_pos on a follower pod ends equal to the primary", async () => {
    // A semi-sync replica: every event packet carries the semi-sync header, and it acks.
    const replica = await startMariadb({ name: "srv-replica-gtid", extraArgs: ["--rpl-semi-sync-slave-enabled=ON"] });
    const pod = followers[0]!;
    await pointReplica(replica, ports.get(pod)!, "slave_pos");
    await replica.query("START SLAVE");
    const target = await primary.gtidBinlogPos();
    const tookMs = await waitForReplica(replica, target);
    log(`replica (slave_pos) caught up with ${target} in ${tookMs.toFixed(0)} ms`);
    assert.deepEqual(await checksums(replica, ["kb_srv"]), await checksums(primary, ["kb_srv"]));
    const status = await slaveStatus(replica);
    assert.equal(status.Using_Gtid, "Slave_Pos");
    assert.equal(status.Slave_IO_Running, "Yes");

    // While it waits: a commit on the primary reaches it through syncer, Raft and the pod.
    await primary.query("CREATE TABLE kb_srv.t_live (id INT PRIMARY KEY) ENGINE=InnoDB");
    const committedAt = performance.now();
    await primary.query("INSERT INTO kb_srv.t_live VALUES (1)");
    const liveMs = await waitForReplica(replica, await primary.gtidBinlogPos(), 10_000);
    log(`a commit on the primary reached the replica in ${(performance.now() - committedAt).toFixed(0)} ms`);
    assert.ok(liveMs < 5000);
    const [semi] = (await replica.query("SHOW STATUS LIKE 'Rpl_semi_sync_slave_status'")) as Array<{ Value: string }>;
    assert.equal(semi?.Value, "ON", "the replica runs semi-sync with the pod");
    const metrics = await (await fetch(`http://127.0.0.1:${cluster.node(pod).httpPort}/metrics`)).text();
    assert.match(metrics, /^kingbus_server_semisync_replicas_acked 1$/m, "the pod got its ack");

    // The pod lists it, in the original's shape, without the password.
    const s = await cluster.call<{ status: string; password: string; slaves: Array<{ server_id: number; password: string }> }>(pod, "GET", "/binlog/server/status");
    assert.equal(s.status, 200);
    assert.equal(s.data.status, "running");
    assert.equal(s.data.password, "******");
    assert.ok(s.data.slaves.some((r) => r.server_id === replica.serverId), JSON.stringify(s.data.slaves));
    for (const n of cluster.nodes) {
      const logs = n.stderr.join("");
      assert.ok(!logs.includes(SERVER_PASSWORD) && !logs.includes(REPL_PASSWORD), `node ${n.id} logged a password`);
    }

    // Stopped, more writes, started against the other follower: nothing lost, nothing twice.
    await replica.query("STOP SLAVE");
    await moreWrites("while-stopped", 1);
    await primary.flushBinaryLogs();
    await moreWrites("after-rotate", 2);
    const other = followers[1]!;
    await pointReplica(replica, ports.get(other)!, "slave_pos");
    await replica.query("START SLAVE");
    await waitForReplica(replica, await primary.gtidBinlogPos());
    assert.deepEqual(await checksums(replica, DATABASES), await checksums(primary, DATABASES));
    const count = async (server: MariadbServer): Promise<number> => Number(((await server.query("SELECT COUNT(*) AS n FROM kb_more.t")) as Array<{ n: number }>)[0]!.n);
    assert.equal(await count(replica), await count(primary));
    assert.equal((await slaveStatus(replica)).Last_SQL_Errno, 0);
    log("replica moved to another pod and caught up");

    // And to the leader, while the primary writes.
    await replica.query("STOP SLAVE");
    const writing = moreWrites("during-switch", 0);
    await pointReplica(replica, ports.get(leader)!, "slave_pos");
    await replica.query("START SLAVE");
    await writing;
    await waitForReplica(replica, await primary.gtidBinlogPos());
    assert.deepEqual(await checksums(replica, DATABASES), await checksums(primary, DATABASES));
    await replica.query("STOP SLAVE");
    await replica.stop();
  });

  it("a replica with MASTER_USE_GTID=no replicates by file and position, and moves between pods by them", async () => {
    const replica = await startMariadb({ name: "srv-replica-pos" });
    const [first] = await primary.binlogFiles();
    await pointReplica(replica, ports.get(followers[1]!)!, { file: basename(first!), position: 4 });
    await replica.query("START SLAVE");
    await waitForReplica(replica, await primary.gtidBinlogPos());
    let status = await slaveStatus(replica);
    assert.equal(status.Using_Gtid, "No");
    const [master] = (await primary.query("SHOW MASTER STATUS")) as Array<{ File: string; Position: number }>;
    assert.equal(status.Relay_Master_Log_File, master!.File);
    assert.equal(Number(status.Exec_Master_Log_Pos), Number(master!.Position), "the primary's own file and position");
    assert.deepEqual(await checksums(replica, DATABASES), await checksums(primary, DATABASES));

    await replica.query("STOP SLAVE");
    await moreWrites("by-position", 1);
    // The primary's file and position where the replica stopped: the other pod serves them alike.
    // (A new MASTER_PORT resets them in MariaDB, so they are given again, as an operator would.)
    status = await slaveStatus(replica);
    await pointReplica(replica, ports.get(followers[0]!)!, { file: status.Relay_Master_Log_File, position: Number(status.Exec_Master_Log_Pos) });
    await replica.query("START SLAVE");
    await waitForReplica(replica, await primary.gtidBinlogPos());
    status = await slaveStatus(replica);
    assert.equal(status.Last_IO_Errno + status.Last_SQL_Errno, 0, `${status.Last_IO_Error} ${status.Last_SQL_Error}`);
    assert.deepEqual(await checksums(replica, DATABASES), await checksums(primary, DATABASES));
    await replica.query("STOP SLAVE");
    await replica.stop();
    log("file/position replica done");
  });

  it("mariadb-binlog --raw --stop-never writes the primary's files byte for byte, through a rotation", async () => {
    const tool = executable("mariadb-binlog", "mariadb-client");
    const out = mkdtempSync(join(tmpdir(), "kingbus-raw-"));
    const files = await primary.binlogFiles();
    const child = spawn(
      tool.path,
      ["--no-defaults", "--read-from-remote-server", "--raw", "--stop-never", "--stop-never-slave-server-id=7777", "-h", "127.0.0.1", "-P", String(ports.get(followers[0]!)), `-u${SERVER_USER}`, `-p${SERVER_PASSWORD}`, `--result-file=${out}/`, basename(files[0]!)],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      const sameAsPrimary = async (): Promise<boolean> => {
        const now = await primary.binlogFiles();
        return now.every((f) => existsSync(join(out, basename(f))) && statSync(join(out, basename(f))).size === statSync(f).size);
      };
      const waitSame = async (): Promise<void> => {
        const deadline = Date.now() + 30_000;
        while (!(await sameAsPrimary())) {
          assert.ok(child.exitCode === null, `mariadb-binlog exited: ${stderr}`);
          assert.ok(Date.now() < deadline, `mariadb-binlog did not catch up: ${stderr}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await waitSame();
      // Live: writes and a rotation reach the running client.
      await moreWrites("raw-live", 2);
      await primary.flushBinaryLogs({ settle: true });
      await primary.query("INSERT INTO kb_more.t (tag, d) VALUES ('raw-after-rotate', 0)");
      await waitForPosition(cluster, [followers[0]!], await primary.gtidBinlogPos());
      await waitSame();
    } finally {
      child.kill("SIGTERM");
    }
    const all = await primary.binlogFiles();
    for (const [i, file] of all.entries()) {
      const got = readFileSync(join(out, basename(file)));
      const want = i === all.length - 1 ? asSentOnTheWire(readFileSync(file)) : readFileSync(file);
      assert.ok(got.equals(want), `${basename(file)} (${got.length} bytes, primary ${want.length}) is byte-identical`);
    }
    assert.ok(all.length >= 3);
    rmSync(out, { recursive: true, force: true });
    log(`mariadb-binlog: ${all.length} files identical`);
  });
});
