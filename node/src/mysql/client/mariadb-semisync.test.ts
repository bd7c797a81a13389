/**
 * Semi-sync against a real MariaDB 10.11 primary (semi-sync is built in since 10.3; the primary
 * side is switched on with --rpl-semi-sync-master-enabled). The primary asks for an ack on the last
 * event of each transaction and holds the committing client until it gets one.
 *
 * --rpl-semi-sync-master-wait-no-slave=OFF: with the default (ON) every commit made before a
 * semi-sync replica connects waits for the whole timeout.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { EventType, eventTypeName } from "../../binlog/event-type.ts";
import { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";
import { readEventHeader } from "../../binlog/header.ts";
import { mariadbSkip, startMariadb, stopAllMariadb } from "../../../test-support/mariadb.ts";
import type { MariadbServer } from "../../../test-support/mariadb.ts";
import { PrimaryStateError } from "./errors.ts";
import { Collector, connectTo } from "./test-helpers.ts";
import type { Received } from "./test-helpers.ts";

const skip = mariadbSkip();
after(() => stopAllMariadb());

const WAIT_MS = 1500;

async function status(server: MariadbServer, name: string): Promise<number> {
  const rows = await server.query("SHOW GLOBAL STATUS LIKE ?", [name]);
  return Number(rows[0]?.Value);
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  for (const deadline = performance.now() + timeoutMs; performance.now() < deadline; ) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("semi-sync: ack wanted on each transaction's last event; the commit waits for ack() and Rpl_semi_sync_master_yes_tx grows", { skip, timeout: 60_000 }, async (t) => {
  const server = await startMariadb({
    serverId: 51,
    name: "client-semisync",
    extraArgs: ["--rpl-semi-sync-master-enabled=ON", "--rpl-semi-sync-master-timeout=60000", "--rpl-semi-sync-master-wait-no-slave=OFF"],
  });
  await server.query("CREATE DATABASE s");
  await server.query("CREATE TABLE s.t (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB");

  // mysql2 reports packets whose sequence id it did not expect on stderr. A semi-sync primary
  // restarts its numbering after each packet that wants an ack; the dump command follows it.
  const outOfOrder: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => {
    if (String(args[0]).includes("out of order")) outOfOrder.push(String(args[0]));
    else consoleError(...args);
  };
  t.after(() => (console.error = consoleError));

  const conn = await connectTo(server, { serverId: 5101, semiSync: true, heartbeatPeriodMs: 500 });
  assert.deepEqual(conn.info.semiSync, { available: true, enabled: true });
  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.parse(await server.gtidBinlogPos()) });
  assert.equal(stream.semiSync, true);
  const collector = new Collector(stream);
  try {
    await eventually("the primary to count a semi-sync replica", async () => (await status(server, "Rpl_semi_sync_master_clients")) === 1);
    const yesBefore = await status(server, "Rpl_semi_sync_master_yes_tx");
    const noBefore = await status(server, "Rpl_semi_sync_master_no_tx");

    // An InnoDB transaction: GTID, ANNOTATE_ROWS, TABLE_MAP, WRITE_ROWS, XID.
    const writer = await server.connect();
    let returnedAt: number | undefined;
    const insert = writer.query("INSERT INTO s.t VALUES (1, 'waits')").then(() => (returnedAt = performance.now()));
    const xid = await collector.until((e) => e.bytes[4] === EventType.XID, 10_000, "the XID");
    assert.equal(xid.ackRequested, true);
    const group = collector.events.slice(collector.events.findLastIndex((e) => e.bytes[4] === EventType.MARIADB_GTID));
    assert.deepEqual(group.map((e) => [eventTypeName(e.bytes[4]!), e.ackRequested]), [
      ["MARIADB_GTID", false],
      ["MARIADB_ANNOTATE_ROWS", false],
      ["TABLE_MAP", false],
      ["WRITE_ROWS_V1", false],
      ["XID", true],
    ]);

    // Without the ack the commit does not return, and the primary counts a waiting session.
    await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
    assert.equal(returnedAt, undefined, `the INSERT returned before the ack`);
    assert.equal(await status(server, "Rpl_semi_sync_master_wait_sessions"), 1);

    const ackedAt = performance.now();
    stream.ack(xid.file, xid.position);
    await insert;
    assert.ok(returnedAt! >= ackedAt);
    console.log(`# INSERT held ${Math.round(ackedAt - xid.at)} ms without ack, returned ${Math.round(returnedAt! - ackedAt)} ms after it`);
    assert.equal(xid.position, readEventHeader(xid.bytes).logPos);
    assert.match(xid.file, /^mariadb-bin\.\d{6}$/);
    await eventually("yes_tx to grow", async () => (await status(server, "Rpl_semi_sync_master_yes_tx")) === yesBefore + 1);
    assert.equal(await status(server, "Rpl_semi_sync_master_no_tx"), noBefore, "no commit went through without the ack");

    // A DDL is a group of its own (GTID + QUERY): the QUERY asks. Acked at once, it returns at once.
    const ddl = writer.query("ALTER TABLE s.t ADD COLUMN extra INT");
    const query = await collector.until((e) => e.bytes[4] === EventType.QUERY && e.bytes.includes("ADD COLUMN extra"), 10_000, "the ALTER");
    assert.equal(query.ackRequested, true);
    stream.ack(query.file, query.position);
    await ddl;
    await eventually("yes_tx to grow again", async () => (await status(server, "Rpl_semi_sync_master_yes_tx")) === yesBefore + 2);

    // Heartbeats never ask for an ack, and the stream stayed in step (no protocol error).
    await collector.until((e) => e.heartbeat && e.at > query.at, 5_000, "a heartbeat after the ALTER");
    assert.ok(collector.events.filter((e: Received) => e.heartbeat).every((e) => !e.ackRequested));
    assert.equal(collector.error, undefined);
    assert.deepEqual(outOfOrder, []);
    await writer.end();
  } finally {
    await stream.close();
  }
  assert.throws(() => stream.ack("mariadb-bin.000001", 4), PrimaryStateError);
});

test("without semi-sync asked for, events carry no semi-sync header and ack() is refused", { skip, timeout: 60_000 }, async () => {
  const server = await startMariadb({ serverId: 52, name: "client-no-semisync", extraArgs: ["--rpl-semi-sync-master-enabled=ON", "--rpl-semi-sync-master-wait-no-slave=OFF"] });
  await server.query("CREATE DATABASE s");
  const conn = await connectTo(server, { serverId: 5201 });
  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() });
  const collector = new Collector(stream);
  try {
    const query = await collector.until((e) => e.bytes[4] === EventType.QUERY, 10_000, "the CREATE DATABASE");
    assert.equal(query.ackRequested, false);
    assert.equal(stream.semiSync, false);
    assert.throws(() => stream.ack(query.file, query.position), PrimaryStateError);
    assert.equal(await status(server, "Rpl_semi_sync_master_clients"), 0);
  } finally {
    await stream.close();
  }
});

test("semi-sync asked of a primary that has it switched off: events still carry the header, none wants an ack", { skip, timeout: 60_000 }, async () => {
  const server = await startMariadb({ serverId: 53, name: "client-semisync-off" });
  await server.query("CREATE DATABASE s");
  const conn = await connectTo(server, { serverId: 5301, semiSync: true });
  assert.deepEqual(conn.info.semiSync, { available: true, enabled: false });
  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() });
  const collector = new Collector(stream);
  try {
    await server.query("CREATE DATABASE s2");
    await collector.until((e) => e.bytes[4] === EventType.QUERY && e.bytes.includes("s2"), 10_000, "the second CREATE DATABASE");
    // A header we did not strip would show as a size mismatch (PrimaryProtocolError).
    assert.equal(collector.error, undefined);
    assert.ok(collector.events.every((e) => !e.ackRequested));
  } finally {
    await stream.close();
  }
});
