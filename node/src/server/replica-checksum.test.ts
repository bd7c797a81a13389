/**
 * Why the binlog server may leave the stored records' CRC32 unchecked on its own reads
 * (LogBinlogFeed's `verifyRecords: "auto"`, the default) when every served event carries a CRC32
 * of its own: a real MariaDB 10.11 replica checks each event's CRC32 as its IO thread receives
 * it, and stops instead of applying a damaged event. Shown end to end: a real MariaDB primary
 * writes 20 one-row transactions (ROW format, binlog_checksum=CRC32); its binlog files are loaded
 * into a LogStore as the syncer stores them and served by a BinlogServer over a LogBinlogFeed;
 *  - undamaged, a real replica (MASTER_USE_GTID=slave_pos) replicates all of it: every row;
 *  - with one byte flipped on disk in the body of a later transaction's WRITE_ROWS event (the
 *    stored record's CRC32 then fails too, but "auto" does not look at it), kingbus serves the
 *    damaged event and a second real replica refuses it: its IO thread stops (error 1743, event
 *    checksum verification failed, then 1595, could not queue event, which SHOW SLAVE STATUS
 *    keeps) and it applies only the transactions before the damaged one: the damaged row and
 *    those after it never reach its table.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EventType } from "../binlog/event-type.ts";
import { MariadbGtidPosition } from "../binlog/gtid-mariadb.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../test-support/mariadb.ts";
import { BinlogServer } from "../mysql/server/binlog-server.ts";
import { binlogEntries, fileEvents } from "./testing/binlog-entries.ts";
import { flipByte } from "../../test-support/damage.ts";
import { LogFeedHarness } from "./testing/log-feed-harness.ts";
import { pointReplica, SERVER_PASSWORD, SERVER_USER, slaveStatus, waitForReplica, type SlaveStatus } from "./testing/replica.ts";

const skip = mariadbSkip();
const ROWS = 20;
/** The row whose transaction is damaged: a later one, so earlier transactions show what was applied. */
const DAMAGED = 15;
/** MariaDB's ER_SLAVE_RELAY_LOG_WRITE_FAILURE: how the IO thread stops when it refuses an event. */
const ER_SLAVE_RELAY_LOG_WRITE_FAILURE = 1595;
const IO_STOP_TIMEOUT_MS = 30_000;

/** Zero-padded so that no row's value is a prefix of another's: Buffer.indexOf finds one event. */
const note = (id: number) => `kb-crc-row-${String(id).padStart(3, "0")}`;

async function ids(server: MariadbServer): Promise<number[]> {
  const rows = await server.query("SELECT id FROM kb_crc.t ORDER BY id");
  return rows.map((r) => Number(r.id));
}

async function gtidSlavePos(replica: MariadbServer): Promise<string> {
  const [row] = await replica.query("SELECT @@GLOBAL.gtid_slave_pos AS pos");
  return String(row!.pos);
}

describe("a real MariaDB replica of a LogBinlogFeed checks each event's CRC32 itself", { skip, timeout: 60_000 }, () => {
  let primary: MariadbServer;
  let control: MariadbServer;
  let damaged: MariadbServer;
  let work: string | undefined;
  let harness: LogFeedHarness | undefined;
  let server: BinlogServer | undefined;
  let port: number;
  /** The primary's gtid_binlog_pos after every row, and just before the damaged row's transaction. */
  let finalPos: string;
  let beforeDamagedPos: string;
  let binlogPaths: string[];

  before(async () => {
    [primary, control, damaged] = await Promise.all([
      startMariadb({ name: "crc-primary" }),
      startMariadb({ name: "crc-replica-control" }),
      startMariadb({ name: "crc-replica-damaged" }),
    ]);
    const c = await primary.connect();
    try {
      await c.query("CREATE DATABASE kb_crc");
      await c.query("CREATE TABLE kb_crc.t (id INT PRIMARY KEY, note VARCHAR(40) NOT NULL) ENGINE=InnoDB");
      // One transaction per row (autocommit), so the damage hits exactly one of them.
      for (let id = 1; id <= ROWS; id++) {
        if (id === DAMAGED) beforeDamagedPos = await primary.gtidBinlogPos();
        await c.query("INSERT INTO kb_crc.t VALUES (?, ?)", [id, note(id)]);
      }
    } finally {
      await c.end();
    }
    finalPos = await primary.gtidBinlogPos();
    // Closes the file and waits for its last events, so the copies no longer change.
    await primary.flushBinaryLogs({ settle: true });

    work = await mkdtemp(join(tmpdir(), "kingbus-replica-crc-"));
    binlogPaths = [];
    for (const f of await primary.binlogFiles()) {
      await cp(f, join(work, basename(f)));
      binlogPaths.push(join(work, basename(f)));
    }
    // The default verifyRecords ("auto") is the point: nothing is added to the harness.
    harness = await LogFeedHarness.open();
    // One entry per transaction, as a syncer storing commits as they arrive writes them. A GTID
    // dump finds its start by reading the first entry it needs with the record's CRC32 checked
    // (LogBinlogFeed.seekStart), so damage in that entry is kingbus's own catch (error 1236); here
    // the damaged transaction lies past it, where only the replica looks at the bytes.
    const entries = binlogEntries(binlogPaths, { flushEvery: 1 });
    await harness.append(entries);
    harness.applyThrough(entries.at(-1)!.index);
    server = new BinlogServer({ flavor: "mariadb", serverId: 4001, users: { [SERVER_USER]: SERVER_PASSWORD } }, harness.feed);
    port = (await server.listen("127.0.0.1", 0)).port;
  });

  after(async () => {
    await server?.close();
    await harness?.close();
    await stopAllMariadb();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("undamaged: the replica replicates to the end, every row", async () => {
    await pointReplica(control, port, "slave_pos");
    await control.query("START SLAVE");
    await waitForReplica(control, finalPos, 30_000);
    assert.deepEqual(await ids(control), Array.from({ length: ROWS }, (_, i) => i + 1));
    const status = await slaveStatus(control);
    assert.equal(status.Slave_IO_Running, "Yes");
    assert.equal(status.Last_IO_Errno, 0, status.Last_IO_Error);
    // Stopped so that it does not read the store again once the damage is in.
    await control.query("STOP SLAVE");
  });

  it("one byte flipped in a row event on disk: the replica's IO thread stops on its CRC32, the damaged transaction is not applied", async () => {
    // The damaged row's WRITE_ROWS event in the primary's file, then the same bytes in the store.
    const event = binlogPaths
      .flatMap((p) => fileEvents(readFileSync(p)))
      .find((e) => (e[4] === EventType.WRITE_ROWS_V1 || e[4] === EventType.WRITE_ROWS) && e.includes(note(DAMAGED)));
    assert.ok(event, `a WRITE_ROWS event holding ${note(DAMAGED)}`);
    const inEvent = event.indexOf(note(DAMAGED));
    assert.ok(inEvent >= 19 && inEvent < event.length - 4, "the flipped byte is in the body: not the header, not the CRC32");
    const hits: Array<{ segment: string; at: number }> = [];
    for (const name of readdirSync(harness!.dir).filter((f) => f.endsWith(".seg"))) {
      const bytes = readFileSync(join(harness!.dir, name));
      for (let at = bytes.indexOf(event); at >= 0; at = bytes.indexOf(event, at + 1)) hits.push({ segment: join(harness!.dir, name), at });
    }
    assert.equal(hits.length, 1, "the event is stored once, as the primary wrote it");
    flipByte(hits[0]!.segment, hits[0]!.at + inEvent);
    // Not shown here that a checked read of the record fails (log-feed-verify.test.ts does): the
    // store latches the first failed read, and every read after it, the dump's too, would fail.

    await pointReplica(damaged, port, "slave_pos");
    await damaged.query("START SLAVE");
    // Until the IO thread stops with an error, or (damage not caught) the replica reaches the end.
    let status: SlaveStatus;
    const began = Date.now();
    for (;;) {
      status = await slaveStatus(damaged);
      if (status.Slave_IO_Running === "No" && status.Last_IO_Errno !== 0) break;
      if (MariadbGtidPosition.parse(await gtidSlavePos(damaged)).equals(MariadbGtidPosition.parse(finalPos))) break;
      if (Date.now() - began > IO_STOP_TIMEOUT_MS) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const log = damaged.errorLog().split("\n").slice(-10).join("\n");
    assert.equal(status.Slave_IO_Running, "No", `the IO thread stopped; status ${JSON.stringify(status)}\n${log}`);
    // MariaDB reports the checksum failure (1743) first, then that the event could not be queued
    // (1595), which is what SHOW SLAVE STATUS keeps; the first is in the error log. Kingbus refusing
    // to serve would be error 1236 from the master instead.
    assert.equal(status.Last_IO_Errno, ER_SLAVE_RELAY_LOG_WRITE_FAILURE, `${status.Last_IO_Error}\n${log}`);
    assert.match(status.Last_IO_Error, /could not queue event from master/);
    assert.match(damaged.errorLog(), /Slave I\/O: Replication event checksum verification failed while reading from network, Internal MariaDB error code: 1743/);

    // The SQL thread applies what the IO thread queued whole: every transaction before the damaged one.
    // (waitForReplica would stop at the IO error itself, which is expected here.)
    const want = MariadbGtidPosition.parse(beforeDamagedPos);
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && !MariadbGtidPosition.parse(await gtidSlavePos(damaged)).equals(want); ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A moment more, in case anything past it were still to be applied.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await gtidSlavePos(damaged), beforeDamagedPos, "applied exactly up to the damaged transaction");
    assert.deepEqual(await ids(damaged), Array.from({ length: DAMAGED - 1 }, (_, i) => i + 1), "the damaged row and those after it are absent");
    const last = await slaveStatus(damaged);
    assert.equal(last.Last_SQL_Errno, 0, last.Last_SQL_Error);
  });
});
