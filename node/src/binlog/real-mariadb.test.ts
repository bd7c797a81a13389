/**
 * The codec against binlogs a real MariaDB 10.11 writes while the test watches: DML, DDL, JSON,
 * BLOBs up to 1 MiB, multi-statement, MyISAM and XA transactions under several gtid_domain_ids.
 * Every event must round-trip byte for byte and pass its CRC; offsets must match the ones
 * `mariadb-binlog` prints; transactions must be whole, with the GTIDs `mariadb-binlog` prints, in
 * the same order; and the GTID position must equal what the server reports in @@gtid_binlog_pos.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startMariadb, stopAllMariadb, mariadbSkip } from "../../test-support/mariadb.ts";
import { runMixedWorkload } from "../../test-support/workload.ts";
import { mariadbBinlogSkip, mariadbBinlogGtidEvents, mariadbBinlogEventPositions } from "../../test-support/mariadb-binlog.ts";
import { readBinlogBuffer, type ReadEvent } from "./reader.ts";
import { encodeEvent } from "./codec.ts";
import { TransactionBoundaryParser, formatTransactionGtid, type Transaction } from "./transactions.ts";
import { MariadbGtidPosition, MariadbGtidState } from "./gtid-mariadb.ts";
import { BinlogSummary } from "./summary.ts";

const skip = mariadbSkip() ?? mariadbBinlogSkip();
after(() => stopAllMariadb());

interface FileReading {
  events: ReadEvent[];
  transactions: Transaction[];
}

function readFile(path: string): FileReading {
  const events = [...readBinlogBuffer(readFileSync(path))];
  const parser = new TransactionBoundaryParser();
  const transactions = events.flatMap((e) => parser.push({ offset: e.offset, size: e.bytes.length, event: e.event }));
  const cut = parser.finish();
  if (cut) transactions.push(cut);
  return { events, transactions };
}

const OPENS_TO_KIND = { transaction: "transaction", xa: "xa-prepare", standalone: "standalone" } as const;

test("MariaDB 10.11 binlogs (CRC32) read with the GTIDs, offsets and position the server and mariadb-binlog report", { skip, timeout: 120_000 }, async () => {
  const server = await startMariadb({ serverId: 11, gtidDomainId: 0, name: "codec-crc" });
  const workload = await runMixedWorkload(server, { domains: [0, 5, 9] });
  await server.flushBinaryLogs({ settle: true });
  const files = await server.binlogFiles();
  assert.ok(files.length >= 2);

  const allGtids: string[] = [];
  const state = MariadbGtidState.empty();
  let sawLargeEvent = false;
  for (const file of files) {
    const bytes = readFileSync(file);
    const { events, transactions } = readFile(file);
    assert.equal(events.at(-1)!.offset + events.at(-1)!.bytes.length, bytes.length, `${file} read to its end`);
    for (const e of events) {
      assert.equal(e.checksumOk, true, `${file}@${e.offset} CRC32`);
      assert.ok(encodeEvent(e.event, e.format).equals(e.bytes), `${file}@${e.offset} round trip`);
      if (e.bytes.length > 1_000_000) sawLargeEvent = true;
    }
    assert.deepEqual(events.map((e) => e.offset), await mariadbBinlogEventPositions(file), `${file}: event offsets as mariadb-binlog prints them`);

    const reference = await mariadbBinlogGtidEvents(file);
    assert.ok(transactions.every((t) => t.complete), `${file}: every transaction whole`);
    assert.deepEqual(transactions.map((t) => formatTransactionGtid(t.gtid!)), reference.map((r) => r.gtid), `${file}: GTIDs in order`);
    assert.deepEqual(transactions.map((t) => t.startOffset), reference.map((r) => r.at), `${file}: each transaction starts at its GTID event`);
    assert.deepEqual(transactions.map((t) => t.kind), reference.map((r) => OPENS_TO_KIND[r.opens]), `${file}: transaction kinds`);
    for (const t of transactions) {
      allGtids.push(formatTransactionGtid(t.gtid!)!);
      if (t.gtid?.flavor === "mariadb") state.record(t.gtid, { strict: true });
    }
    assert.ok(!bytes.includes(Buffer.from(workload.rolledBackMarker)), "the rolled-back transaction is not in the binlog");
  }
  assert.ok(sawLargeEvent, "the 1 MiB BLOB's rows event was read whole");

  const serverPos = await server.gtidBinlogPos();
  assert.equal(state.position().toString(), MariadbGtidPosition.parse(serverPos).toString(), "GTIDs of all files give @@gtid_binlog_pos");
  assert.ok(workload.gtids.every((g) => allGtids.includes(g)), "every GTID the workload produced was read");
  assert.deepEqual(allGtids.filter((g) => workload.gtids.includes(g)), workload.gtids, "in the order the server wrote them");
  assert.deepEqual(new Set(workload.gtids.map((g) => g.split("-")[0])), new Set(["0", "5", "9"]), "three domains written");

  // The newest file starts with a GTID_LIST holding the whole position; --summary reports it.
  const summary = new BinlogSummary();
  for (const e of readFile(files.at(-1)!).events) summary.add(e);
  summary.finish();
  assert.equal(summary.toJSON().gtidBinlogPos, MariadbGtidPosition.parse(serverPos).toString());
  await server.stop();
});

test("MariaDB 10.11 with binlog_checksum=NONE: no checksums, still a byte-exact round trip", { skip, timeout: 120_000 }, async () => {
  const server = await startMariadb({ serverId: 12, binlogChecksum: "NONE", name: "codec-none" });
  await server.query("CREATE DATABASE d");
  await server.query("CREATE TABLE d.t (id INT PRIMARY KEY, v JSON) ENGINE=InnoDB");
  await server.query(`INSERT INTO d.t VALUES (1, '{"a": [1, 2, 3]}'), (2, NULL)`);
  await server.flushBinaryLogs({ settle: true });
  const [first] = await server.binlogFiles();
  const { events, transactions } = readFile(first!);
  const fde = events[0]!;
  assert.equal(fde.event.body.kind, "formatDescription");
  if (fde.event.body.kind === "formatDescription") assert.equal(fde.event.body.checksumAlgorithm, 0);
  for (const e of events) {
    assert.equal(e.checksumOk, undefined, "no event carries a checksum");
    assert.ok(encodeEvent(e.event, e.format).equals(e.bytes));
  }
  assert.deepEqual(transactions.map((t) => formatTransactionGtid(t.gtid!)), (await mariadbBinlogGtidEvents(first!)).map((r) => r.gtid));
  await server.stop();
});
