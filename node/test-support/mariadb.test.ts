import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { after, test } from "node:test";
import { promisify } from "node:util";
import type { ResultSetHeader } from "mysql2/promise";
import { MariadbStartError, mariadbSkip, startMariadb, stopAllMariadb } from "./mariadb.ts";
import { mariadbBinlogEventPositions, mariadbBinlogEvents, mariadbBinlogGtidEvents, mariadbBinlogGtids, mariadbBinlogSkip } from "./mariadb-binlog.ts";
import type { MariadbBinlogGtid } from "./mariadb-binlog.ts";
import { parseGtidList, runMixedWorkload } from "./workload.ts";

const skip = mariadbSkip() ?? mariadbBinlogSkip();
const keepTmp = process.env.KINGBUS_KEEP_TMP === "1";
after(stopAllMariadb);

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** Alive and not a zombie: a reparented mariadbd may linger as one where nothing reaps orphans. */
function processRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

test("a server starts with the requested binlog settings", { skip }, async (t) => {
  await using server = await startMariadb({ serverId: 4242, gtidDomainId: 3, name: "settings" });
  t.diagnostic(`start-up took ${server.startupMs.toFixed(0)} ms`);
  const [row] = await server.query(`SELECT @@version AS version, @@server_id AS serverId, @@gtid_domain_id AS domain,
    @@binlog_format AS format, @@binlog_checksum AS checksum, @@log_bin AS logBin, @@log_slave_updates AS slaveUpdates,
    @@gtid_strict_mode AS strict, @@binlog_annotate_row_events AS annotate, @@port AS port, @@socket AS socket`);
  assert.ok(row);
  const { version, ...settings } = row;
  assert.match(String(version), /MariaDB/);
  assert.deepEqual(settings, {
    serverId: 4242, domain: 3, format: "ROW", checksum: "CRC32", logBin: 1, slaveUpdates: 1, strict: 1, annotate: 1,
    port: server.port, socket: server.socket,
  });
  assert.equal(server.serverId, 4242);
  assert.equal(server.host, "127.0.0.1");
  assert.notEqual(server.port, 3306);

  // The unix socket works too, and its path fits in sun_path.
  assert.ok(Buffer.byteLength(server.socket) <= 107);
  const viaSocket = await server.connect({ socketPath: server.socket, host: undefined, port: undefined });
  try {
    const [rows] = await viaSocket.query("SELECT 1 + 1 AS two; SELECT 3 AS three");
    assert.deepEqual(JSON.parse(JSON.stringify(rows)), [[{ two: 2 }], [{ three: 3 }]]);
  } finally {
    await viaSocket.end();
  }

  await server.query("CREATE DATABASE d");
  await server.query("CREATE TABLE d.t (id INT PRIMARY KEY) ENGINE=InnoDB");
  await server.query("INSERT INTO d.t VALUES (?), (?)", [1, 2]);
  assert.equal(await server.gtidBinlogPos(), "3-4242-3");
  const before = await server.binlogFiles();
  await server.flushBinaryLogs();
  const files = await server.binlogFiles();
  assert.equal(files.length, before.length + 1);
  for (const file of files) assert.ok(file.startsWith(`${server.dataDir}/`) && existsSync(file), file);
});

test("two servers run at once on different ports", { skip }, async () => {
  const [a, b] = await Promise.all([startMariadb({ name: "pair-a" }), startMariadb({ name: "pair-b", binlogChecksum: "NONE" })]);
  try {
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.serverId, b.serverId);
    assert.notEqual(a.dataDir, b.dataDir);
    await a.query("CREATE DATABASE only_on_a");
    const [onA] = await a.query("SELECT @@port AS port, @@server_id AS id, @@binlog_checksum AS checksum, SCHEMA_NAME IS NOT NULL AS has FROM (SELECT 1) x LEFT JOIN information_schema.schemata ON SCHEMA_NAME = 'only_on_a'");
    const [onB] = await b.query("SELECT @@port AS port, @@server_id AS id, @@binlog_checksum AS checksum, SCHEMA_NAME IS NOT NULL AS has FROM (SELECT 1) x LEFT JOIN information_schema.schemata ON SCHEMA_NAME = 'only_on_a'");
    assert.deepEqual({ ...onA }, { port: a.port, id: a.serverId, checksum: "CRC32", has: 1 });
    assert.deepEqual({ ...onB }, { port: b.port, id: b.serverId, checksum: "NONE", has: 0 });
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test("the workload's GTIDs are what mariadb-binlog reads back", { skip }, async (t) => {
  await using server = await startMariadb({ name: "workload", gtidDomainId: 0, serverId: 77 });
  const domains = [0, 5, 12];
  const began = performance.now();
  const summary = await runMixedWorkload(server, { domains });
  t.diagnostic(`workload took ${(performance.now() - began).toFixed(0)} ms, ${summary.gtids.length} event groups`);

  const pos = await server.gtidBinlogPos();
  assert.equal(pos, summary.gtidBinlogPos);
  const lastByDomain = new Map(parseGtidList(pos).map((g) => [g.domain, `${g.domain}-${g.serverId}-${g.seq}`]));
  assert.deepEqual([...lastByDomain.keys()].sort((x, y) => x - y), domains);

  // settle: the new file's own Binlog_checkpoint event is written, so no file changes under us.
  await server.flushBinaryLogs({ settle: true });
  const files = await server.binlogFiles();
  assert.equal(files.length, 2);
  const groups: MariadbBinlogGtid[] = [];
  for (const file of files) groups.push(...(await mariadbBinlogGtidEvents(file)));
  const gtids = groups.map((g) => g.gtid);
  assert.deepEqual(gtids, summary.gtids);
  assert.deepEqual((await Promise.all(files.map((f) => mariadbBinlogGtids(f)))).flat(), gtids);

  // The last GTID per domain is @@gtid_binlog_pos, and sequence numbers have no gaps: the
  // rolled-back transaction took none.
  const seen = new Map<number, string[]>();
  for (const gtid of gtids) {
    const [g] = parseGtidList(gtid);
    seen.set(g!.domain, [...(seen.get(g!.domain) ?? []), gtid]);
  }
  for (const [domain, list] of seen) {
    assert.equal(list.at(-1), lastByDomain.get(domain));
    assert.deepEqual(list, list.map((_, i) => `${domain}-77-${i + 1}`));
  }
  const rolledBack = summary.steps.find((s) => s.name === "rolled-back-transaction");
  assert.deepEqual(rolledBack?.gtids, []);
  const marker = Buffer.from(summary.rolledBackMarker);
  for (const file of files) assert.equal((await readFile(file)).indexOf(marker), -1, `${file} holds the rolled-back row`);

  // How the reference tool describes each kind of group (see mariadb-binlog.ts).
  const group = (step: string, i = 0) => {
    const gtid = summary.steps.find((s) => s.name === step)?.gtids[i];
    const found = groups.find((g) => g.gtid === gtid);
    assert.ok(found, `${step} #${i}`);
    return { flags: found.flags.filter((f) => !f.startsWith("cid=")), opens: found.opens };
  };
  assert.deepEqual(group("create-table-rows"), { flags: ["ddl"], opens: "standalone" });
  assert.deepEqual(group("insert-rows"), { flags: ["trans"], opens: "transaction" });
  assert.deepEqual(group("myisam-insert"), { flags: [], opens: "transaction" });
  assert.deepEqual(group("xa-prepare-commit", 0), { flags: ["trans"], opens: "xa" });
  assert.deepEqual(group("xa-prepare-commit", 1), { flags: ["trans"], opens: "standalone" });
  assert.deepEqual(group("xa-one-phase"), { flags: ["trans"], opens: "transaction" });
  assert.deepEqual(group("xa-prepare-rollback", 1), { flags: ["trans"], opens: "standalone" });

  // Offsets chain: each event starts where the previous one ended, and the last ends the file.
  for (const file of files) {
    const events = await mariadbBinlogEvents(file);
    assert.equal(events[0]?.at, 4);
    for (let i = 1; i < events.length; i++) assert.equal(events[i]!.at, events[i - 1]!.end, `${file} event ${i}`);
    assert.equal(events.at(-1)?.end, (await readFile(file)).length, file);
    assert.deepEqual(await mariadbBinlogEventPositions(file), events.map((e) => e.at));
  }
  const [rows] = await server.query("SELECT LENGTH(lb) AS n FROM kb_workload.t_blob WHERE size = 1048576");
  assert.equal(rows?.n, 1_048_576);
});

test("kill() keeps the data for restart(); stop() removes it and frees the port", { skip }, async () => {
  const server = await startMariadb({ name: "lifecycle" });
  await server.query("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY) ENGINE=InnoDB");
  const inserted = await server.query<ResultSetHeader>("INSERT INTO d.t VALUES (1), (2)");
  assert.equal(inserted.affectedRows, 2);
  const pos = await server.gtidBinlogPos();

  await server.kill();
  assert.equal(server.running, false);
  assert.ok(existsSync(server.dataDir));
  await server.restart();
  assert.equal(server.running, true);
  assert.equal(await server.gtidBinlogPos(), pos);
  const [count] = await server.query("SELECT COUNT(*) AS n FROM d.t");
  assert.equal(count?.n, 2);

  await server.restart(); // clean shutdown, then start again
  assert.equal(await server.gtidBinlogPos(), pos);

  await server.stop();
  assert.equal(server.running, false);
  assert.equal(existsSync(server.dataDir), keepTmp);
  assert.equal(await portIsFree(server.port), true);
  await server.stop(); // a second stop is harmless
  await assert.rejects(server.query("SELECT 1"));
});

test("a server that cannot start fails with its error log", { skip }, async () => {
  await assert.rejects(startMariadb({ name: "broken", extraArgs: ["--no-such-option=1"] }), (err: unknown) => {
    assert.ok(err instanceof MariadbStartError);
    assert.equal(err.code, "MARIADB_START");
    assert.match(err.message, /unknown variable 'no-such-option=1'/);
    return true;
  });
});

test("servers left running are killed and removed when the process exits", { skip }, async () => {
  const script = (ending: string) => `
    import { readFileSync } from "node:fs";
    import { startMariadb } from ${JSON.stringify(new URL("./mariadb.ts", import.meta.url).href)};
    const server = await startMariadb({ name: "orphan" });
    const pid = Number(readFileSync(server.dataDir + "/mariadbd.pid", "utf8"));
    process.stdout.write(JSON.stringify({ dir: server.dataDir, pid }) + "\\n", () => { ${ending} });
  `;
  const run = async (ending: string) => {
    const env = { ...process.env, KINGBUS_KEEP_TMP: "" };
    const child = promisify(execFile)(process.execPath, ["--input-type=module", "-e", script(ending)], { env, timeout: 30_000 });
    const { stdout } = await child.catch((err: { stdout?: string; signal?: string }) => {
      assert.equal(err.signal, "SIGTERM");
      return { stdout: err.stdout ?? "" };
    });
    return JSON.parse(stdout) as { dir: string; pid: number };
  };
  const results = await Promise.all([run("process.exit(0)"), run('process.kill(process.pid, "SIGTERM")')]);
  for (const { dir, pid } of results) {
    assert.equal(existsSync(dir), false, dir);
    for (let i = 0; i < 50 && processRunning(pid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(processRunning(pid), false, `mariadbd ${pid} still running`);
  }
});
