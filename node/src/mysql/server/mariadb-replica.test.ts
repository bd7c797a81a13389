/**
 * BinlogServer in MariaDB mode against the real thing: a MariaDB 10.11 primary writes a mixed
 * workload over several GTID domains and two binlog files; copies of its binlog files are served
 * by FileBinlogFeed, and
 *  - a real MariaDB 10.11 replica (CHANGE MASTER ... MASTER_USE_GTID=slave_pos) replicates it,
 *    first from a copy taken while the primary still wrote (the second file half written), then,
 *    after a restart of its slave threads against a server holding the complete files, the rest:
 *    same table checksums, gtid_slave_pos equal to the primary's gtid_binlog_pos, no error, no
 *    duplicate (strict GTID mode and primary keys would stop it);
 *  - `mariadb-binlog --read-from-remote-server --raw` writes files byte-identical to the primary's
 *    closed binlog files (and to the one being written, but for its IN_USE flag).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../../test-support/mariadb.ts";
import { mariadbBinlogSkip } from "../../../test-support/mariadb-binlog.ts";
import { executable } from "../../../test-support/requirements.ts";
import { runMixedWorkload } from "../../../test-support/workload.ts";
import { BinlogServer } from "./binlog-server.ts";
import { slaveStatus } from "../../server/testing/replica.ts";
import { FileBinlogFeed } from "./file-feed.ts";

const skip = mariadbSkip() ?? mariadbBinlogSkip();
after(stopAllMariadb);
const execFileAsync = promisify(execFile);

const USER = "repl";
const PASSWORD = "s3cret-Pass";
const KINGBUS_SERVER_ID = 4001;

async function copyBinlogs(primary: MariadbServer, into: string): Promise<string[]> {
  await mkdir(into, { recursive: true });
  const files = await primary.binlogFiles();
  for (const file of files) await cp(file, join(into, basename(file)));
  return files.map((f) => join(into, basename(f)));
}

/** Waits until the replica's gtid_slave_pos is `want`, failing early on a replication error. */
async function waitForPosition(replica: MariadbServer, want: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const [row] = await replica.query("SELECT @@GLOBAL.gtid_slave_pos AS pos");
    last = String(row!.pos);
    if (sameGtidList(last, want)) return;
    const status = await slaveStatus(replica);
    if (status.Last_IO_Errno || status.Last_SQL_Errno) {
      const log = replica.errorLog().split("\n").slice(-15).join("\n");
      assert.fail(`replica stopped: IO ${status.Last_IO_Errno} ${status.Last_IO_Error} / SQL ${status.Last_SQL_Errno} ${status.Last_SQL_Error}\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`replica at ${last}, expected ${want}; status: ${JSON.stringify(await slaveStatus(replica))}`);
}

function sameGtidList(a: string, b: string): boolean {
  const norm = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean).sort().join(",");
  return norm(a) === norm(b);
}

async function checksums(server: MariadbServer, tables: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of tables) {
    const [row] = await server.query(`CHECKSUM TABLE ${table} EXTENDED`);
    out[table] = String(row!.Checksum);
  }
  return out;
}

async function receivedHeartbeats(replica: MariadbServer): Promise<number> {
  const rows = await replica.query("SHOW GLOBAL STATUS LIKE 'Slave_received_heartbeats'");
  return Number(rows[0]?.Value ?? 0);
}

async function startServer(dir: string, port = 0): Promise<{ server: BinlogServer; port: number; feed: FileBinlogFeed }> {
  const feed = await FileBinlogFeed.fromDirectory(dir);
  const server = new BinlogServer({ flavor: "mariadb", serverId: KINGBUS_SERVER_ID, users: { [USER]: PASSWORD } }, feed);
  const address = await server.listen("127.0.0.1", port);
  return { server, port: address.port, feed };
}

async function mariadbBinlogRaw(port: number, firstFile: string, into: string): Promise<void> {
  const tool = executable("mariadb-binlog", "mariadb-client");
  await execFileAsync(
    tool.path,
    ["--no-defaults", "--read-from-remote-server", "--raw", "--to-last-log", "-h", "127.0.0.1", "-P", String(port), `-u${USER}`, `-p${PASSWORD}`, `--result-file=${into}/`, firstFile],
    { timeout: 30_000 },
  );
}

test("a MariaDB 10.11 replica replicates from BinlogServer; mariadb-binlog --raw gets the primary's files", { skip, timeout: 180_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), "kingbus-replica-"));
  t.after(() => rm(work, { recursive: true, force: true }));
  const began = Date.now();
  const [primary, replica] = await Promise.all([startMariadb({ name: "kb-primary" }), startMariadb({ name: "kb-replica" })]);
  t.after(() => Promise.all([primary.stop(), replica.stop()]));

  // The workload: DDL, InnoDB and MyISAM writes, BLOBs, XA, a rollback, over domains 0, 1, 2.
  const summary = await runMixedWorkload(primary, { domains: [0, 1, 2], seed: 7 });
  await primary.flushBinaryLogs({ settle: true });
  const more = await primary.connect();
  await more.query("CREATE TABLE kb_workload.t_after (id INT PRIMARY KEY, d INT, note VARCHAR(40)) ENGINE=InnoDB");
  // Domain 3 first appears in the second file (its GTID_LIST does not name it).
  for (const [i, domain] of [0, 1, 3, 3, 2, 0].entries()) {
    await more.query("SET SESSION gtid_domain_id = ?", [domain]);
    await more.query("INSERT INTO kb_workload.t_after VALUES (?, ?, 'first half')", [i, domain]);
  }
  const halfPos = await primary.gtidBinlogPos();
  const halfFiles = await copyBinlogs(primary, join(work, "half"));
  assert.equal(halfFiles.length, 2, "FLUSH BINARY LOGS made a second file");
  for (const [i, domain] of [3, 2, 0, 4].entries()) {
    await more.query("SET SESSION gtid_domain_id = ?", [domain]);
    await more.query("BEGIN");
    await more.query("INSERT INTO kb_workload.t_after VALUES (?, ?, 'second half')", [100 + i, domain]);
    await more.query("UPDATE kb_workload.t_after SET note = CONCAT(note, '!') WHERE id = ?", [i]);
    await more.query("COMMIT");
  }
  await more.end();
  // Close the second file too: files 1 and 2 are then closed, file 3 is the open one (headers only).
  await primary.flushBinaryLogs({ settle: true });
  const finalPos = await primary.gtidBinlogPos();
  const fullFiles = await copyBinlogs(primary, join(work, "full"));
  assert.equal(fullFiles.length, 3);
  const tables = [...Object.keys(summary.tables).map((name) => `kb_workload.${name}`), "kb_workload.t_after"];
  const want = await checksums(primary, tables);
  t.diagnostic(`primary: ${summary.gtids.length} workload GTIDs, half ${halfPos}, final ${finalPos}, ${Date.now() - began} ms`);

  // --- Phase 1: the copy taken while the primary wrote (second file half written, IN_USE set).
  let { server, port } = await startServer(join(work, "half"));
  try {
    await replica.query(
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${port}, MASTER_USER='${USER}', MASTER_PASSWORD='${PASSWORD}', ` +
        "MASTER_USE_GTID=slave_pos, MASTER_HEARTBEAT_PERIOD=0.2, MASTER_CONNECT_RETRY=1",
    );
    await replica.query("START SLAVE");
    await waitForPosition(replica, halfPos);
    const heartbeats = await receivedHeartbeats(replica);
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.ok((await receivedHeartbeats(replica)) > heartbeats, "idle, the replica receives heartbeats and accepts them");
    const status = await slaveStatus(replica);
    assert.equal(status.Slave_IO_Running, "Yes");
    assert.equal(status.Slave_SQL_Running, "Yes");
    assert.equal(status.Last_IO_Errno, 0, status.Last_IO_Error);
    assert.equal(status.Using_Gtid, "Slave_Pos");
    assert.equal(status.Master_Log_File, basename(halfFiles[1]!));
    assert.ok(server.connections().some((c) => c.dumpServerId === replica.serverId), "the replica's dump is listed");
    await replica.query("STOP SLAVE");
  } finally {
    await server.close();
  }
  t.diagnostic(`phase 1 done at ${Date.now() - began} ms`);

  // --- Phase 2: the complete files, on the same port; the replica resumes where it stopped.
  ({ server, port } = await startServer(join(work, "full"), port));
  try {
    await replica.query("START SLAVE");
    await waitForPosition(replica, finalPos);
    assert.deepEqual(await checksums(replica, tables), want, "the replica holds the primary's data");
    let status = await slaveStatus(replica);
    assert.equal(status.Last_SQL_Errno, 0, status.Last_SQL_Error);
    assert.equal(status.Master_Log_File, basename(fullFiles[2]!));

    // Restarting the slave threads once more: it resumes at its position, nothing is applied twice.
    await replica.query("STOP SLAVE");
    await replica.query("START SLAVE");
    await new Promise((resolve) => setTimeout(resolve, 500));
    await waitForPosition(replica, finalPos);
    status = await slaveStatus(replica);
    assert.equal(status.Slave_IO_Running, "Yes");
    assert.equal(status.Slave_SQL_Running, "Yes");
    assert.equal(status.Last_IO_Errno + status.Last_SQL_Errno, 0, `${status.Last_IO_Error} ${status.Last_SQL_Error}`);
    const [count] = await replica.query("SELECT COUNT(*) AS n FROM kb_workload.t_after");
    assert.equal(Number(count!.n), 10);

    // mariadb-binlog: closed files byte for byte; the open one but for the IN_USE flag.
    const raw = join(work, "raw");
    await mkdir(raw);
    await mariadbBinlogRaw(port, basename(fullFiles[0]!), raw);
    assert.deepEqual((await readdir(raw)).sort(), fullFiles.map((f) => basename(f)).sort());
    for (const file of fullFiles.slice(0, 2)) {
      assert.ok((await readFile(join(raw, basename(file)))).equals(await readFile(file)), `${basename(file)}: byte-identical`);
    }
    const open = await readFile(fullFiles[2]!);
    assert.equal(open[4 + 17]! & 1, 1, "the copy of the open file has IN_USE set");
    const expected = Buffer.from(open);
    expected[4 + 17] = expected[4 + 17]! & ~1;
    assert.ok((await readFile(join(raw, basename(fullFiles[2]!)))).equals(expected), "open file: identical but for the IN_USE flag");
    await replica.query("STOP SLAVE");
  } finally {
    await server.close();
  }
  t.diagnostic(`done in ${Date.now() - began} ms`);
});
