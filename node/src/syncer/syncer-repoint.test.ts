/**
 * Re-pointing the syncer (issue 6): to a replica of the primary that holds everything stored, it
 * continues (that replica, promoted, writes on and kingbus stores it); to a server that lacks
 * stored transactions, or whose history diverged, it refuses, names the GTIDs, and stores
 * nothing from it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../test-support/mariadb.ts";
import { REPL_PASSWORD, REPL_USER, createReplicationUser, debugBinlog, repointSyncer, startSyncer, syncerStartBody, waitForPosition } from "../../test-support/syncer-harness.ts";

const skip = mariadbSkip();

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("syncer: re-pointing to another primary", { skip }, () => {
  let a: MariadbServer;
  let b: MariadbServer;
  let cluster: KingbusCluster;

  before(async () => {
    [a, b] = await Promise.all([startMariadb({ name: "repoint-a", serverId: 1101 }), startMariadb({ name: "repoint-b", serverId: 1102, extraArgs: ["--log-slave-updates=ON"] })]);
    await createReplicationUser(a);
    await a.query("CREATE DATABASE kb_rp; CREATE TABLE kb_rp.t (id INT PRIMARY KEY, v VARCHAR(32)) ENGINE=InnoDB; INSERT INTO kb_rp.t VALUES (1, 'a1'), (2, 'a2')");
    // b replicates a (and logs what it applies), as a replica that may be promoted.
    await b.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${a.port}, MASTER_USER='${REPL_USER}', MASTER_PASSWORD='${REPL_PASSWORD}', MASTER_USE_GTID=slave_pos`);
    await b.query("START SLAVE");
    cluster = await KingbusCluster.create(3);
  });

  after(async () => {
    await cluster?.stop();
    await stopAllMariadb();
  });

  it("continues from a promoted replica that holds everything stored", async () => {
    const leader = await cluster.waitForLeader();
    await startSyncer(cluster, leader, a);
    await a.query("INSERT INTO kb_rp.t VALUES (3, 'a3')");
    const fromA = await a.gtidBinlogPos();
    await waitForPosition(cluster, [leader], fromA);
    await waitFor("b to catch up with a", async () => ((await b.query("SELECT @@gtid_slave_pos AS p"))[0] as { p: string }).p === fromA || undefined);

    // Fail over: b is promoted, kingbus is pointed at it and stores what b writes next.
    await b.query("STOP SLAVE");
    // A running syncer refuses a new configuration, as the original did: stop first.
    const refused = await cluster.call<string>(leader, "PUT", "/binlog/syncer/start", syncerStartBody(b));
    assert.equal(refused.status, 409);
    await repointSyncer(cluster, leader, b);
    await b.query("INSERT INTO kb_rp.t VALUES (4, 'b4'), (5, 'b5')");
    await b.query("UPDATE kb_rp.t SET v = 'b1' WHERE id = 1");
    const fromB = await b.gtidBinlogPos();
    assert.match(fromB, /0-1102-\d+/);
    await waitForPosition(cluster, cluster.nodes.map((n) => n.id), fromB);
    const s = await debugBinlog(cluster, leader);
    assert.equal(s.lastGtid, fromB);
    assert.equal(s.abandonedFragments, 0);
  });

  it("refuses a primary that lacks stored transactions, naming them, and stores nothing from it", async () => {
    const leader = await cluster.waitForLeader();
    const stored = (await debugBinlog(cluster, leader)).executed;
    const empty = await startMariadb({ name: "repoint-empty", serverId: 1103 });
    await createReplicationUser(empty);
    await repointSyncer(cluster, leader, empty);
    const error = await waitFor("the refusal", async () => {
      const r = await cluster.call<Record<string, unknown>>(leader, "GET", "/binlog/syncer/status");
      const e = String(r.data.last_error ?? "");
      return e.includes("lacks stored transactions") ? e : undefined;
    });
    assert.ok(error.includes(stored), `the refusal names the stored GTIDs ${stored}: ${error}`);
    process.stderr.write(`# refused (lacks): ${error}\n`);
    assert.equal((await debugBinlog(cluster, leader)).executed, stored, "nothing stored from it");
  });

  it("refuses a primary whose history diverged (same domain, another server's transactions)", async () => {
    const leader = await cluster.waitForLeader();
    const stored = (await debugBinlog(cluster, leader)).executed;
    const forked = await startMariadb({ name: "repoint-forked", serverId: 1104 });
    await createReplicationUser(forked);
    // Ten transactions of its own in domain 0: its sequence numbers pass ours, its GTIDs are not ours.
    for (let i = 0; i < 10; i++) await forked.query(`CREATE DATABASE fork_${i}`);
    await repointSyncer(cluster, leader, forked);
    const error = await waitFor("the refusal", async () => {
      const r = await cluster.call<Record<string, unknown>>(leader, "GET", "/binlog/syncer/status");
      const e = String(r.data.last_error ?? "");
      return /1236|diverged|not in the master's binlog/.test(e) ? e : undefined;
    });
    assert.ok(error.includes(stored.split(",")[0]!), `the refusal names ${stored}: ${error}`);
    process.stderr.write(`# refused (diverged): ${error}\n`);
    assert.equal((await debugBinlog(cluster, leader)).executed, stored, "nothing stored from it");
  });
});
