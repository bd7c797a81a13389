import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedDir } from "../../test-support/requirements.ts";
import { readBinlogBuffer } from "./reader.ts";
import { TransactionBoundaryParser, formatTransactionGtid, type Transaction } from "./transactions.ts";
import { buildEvent } from "./build.ts";
import { defaultFormat } from "./format.ts";
import { ChecksumAlgorithm } from "./checksum.ts";
import { EventType } from "./event-type.ts";
import { MariadbGtidFlag } from "./events/mariadb.ts";
import type { EventBody } from "./codec.ts";

const { dir: shared, skip } = sharedDir();

function parseFile(flavor: string, name: string): { transactions: Transaction[]; eventTypes: number[] } {
  const parser = new TransactionBoundaryParser();
  const transactions: Transaction[] = [];
  const eventTypes: number[] = [];
  for (const e of readBinlogBuffer(readFileSync(join(shared, "fixtures", "binlog", flavor, name)))) {
    eventTypes.push(e.event.header.type);
    transactions.push(...parser.push({ offset: e.offset, size: e.bytes.length, event: e.event }));
  }
  const cut = parser.finish();
  if (cut) transactions.push(cut);
  return { transactions, eventTypes };
}

const kinds = (ts: Transaction[]): string[] => ts.map((t) => `${t.kind}${t.complete ? "" : "!"}:${t.eventCount}`);

test("MySQL 8.0 anonymous GTIDs: standalone DDL and BEGIN...XID groups (json.binlog.000001)", { skip }, () => {
  const { transactions } = parseFile("mysql", "json.binlog.000001");
  // ANONYMOUS_GTID + ALTER USER, ANONYMOUS_GTID + CREATE TABLE, then six of ANONYMOUS_GTID BEGIN TABLE_MAP ROWS XID.
  assert.deepEqual(kinds(transactions), ["standalone:2", "standalone:2", ...Array(6).fill("transaction:5")]);
  assert.ok(transactions.every((t) => t.gtid?.flavor === "mysql" && t.gtid.anonymous));
});

test("MySQL 5.6 GTIDs are attached to their groups (binlog_transaction_with_GTID.000001)", { skip }, () => {
  const { transactions } = parseFile("mysql", "binlog_transaction_with_GTID.000001");
  assert.equal(transactions.length, 3);
  assert.ok(transactions.every((t) => t.complete));
  const gtids = transactions.map((t) => formatTransactionGtid(t.gtid!));
  assert.deepEqual(gtids, gtids.map((_, i) => gtids[0]!.replace(/:\d+$/, `:${i + 1}`)));
});

test("MariaDB GTID stands for BEGIN: GTID ANNOTATE TABLE_MAP ROWS XID (mariadb-bin.000001)", { skip }, () => {
  const { transactions } = parseFile("mariadb", "mariadb-bin.000001");
  assert.deepEqual(kinds(transactions), ["transaction:5", "transaction:5"]);
  assert.deepEqual(transactions.map((t) => formatTransactionGtid(t.gtid!)), ["0-1-1", "0-1-2"]);
});

test("a compressed transaction is whole: GTID + TRANSACTION_PAYLOAD (transaction_compression.000001)", { skip }, () => {
  const { transactions } = parseFile("mysql", "transaction_compression.000001");
  assert.deepEqual(kinds(transactions), ["compressed:2"]);
});

test("no GTIDs (MySQL 5.1): BEGIN, SAVEPOINT, ROLLBACK TO ... XID is one transaction (binlog_savepoint.000001)", { skip }, () => {
  const { transactions } = parseFile("mysql", "binlog_savepoint.000001");
  assert.deepEqual(kinds(transactions), ["transaction:9"]);
});

test("INTVAR belongs to the statement after it (bug33029-slave-relay-bin.000001)", { skip }, () => {
  const { transactions, eventTypes } = parseFile("mysql", "bug33029-slave-relay-bin.000001");
  const grouped = transactions.reduce((n, t) => n + t.eventCount, 0);
  const outside = eventTypes.filter((t) => [EventType.FORMAT_DESCRIPTION, EventType.ROTATE, EventType.STOP].includes(t as 15)).length;
  assert.equal(grouped + outside, eventTypes.length, "every event is in exactly one group or between groups");
  assert.ok(transactions.every((t) => t.complete));
  assert.ok(transactions.some((t) => t.eventCount === 2 && t.kind === "standalone"), "an INTVAR + INSERT pair forms one group");
});

test("an INCIDENT event is a group of its own (bug40482-bin.000001)", { skip }, () => {
  assert.deepEqual(kinds(parseFile("mysql", "bug40482-bin.000001").transactions), ["incident:1"]);
});

// Synthetic streams for what the fixtures do not hold.
const format = defaultFormat(ChecksumAlgorithm.CRC32);
const uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const query = (sql: string): EventBody => ({ kind: "query", threadId: 1, execTime: 0, errorCode: 0, extraPostHeader: Buffer.alloc(0), statusVars: Buffer.alloc(0), schema: Buffer.from("db"), sql: Buffer.from(sql) });
const mysqlGtid = (gno: number): EventBody => ({ kind: "mysqlGtid", anonymous: false, flags: 0, uuid, gno: BigInt(gno), trailing: Buffer.alloc(0) });
const mariadbGtid = (seq: number, flags2: number): EventBody => ({ kind: "mariadbGtid", seq: BigInt(seq), domain: 0, flags2, trailing: Buffer.alloc(0) });
const rows: EventBody = { kind: "opaque", bytes: Buffer.alloc(12) };
const xid: EventBody = { kind: "xid", xid: 7n };
const xaPrepare: EventBody = { kind: "opaque", bytes: Buffer.alloc(13) };

function feed(bodies: Array<EventBody | [EventBody, number]>): Transaction[] {
  const parser = new TransactionBoundaryParser();
  const out: Transaction[] = [];
  let offset = 4;
  for (const item of bodies) {
    const [body, type] = Array.isArray(item) ? item : [item, undefined];
    const { event, bytes } = buildEvent(body, { type }, format);
    out.push(...parser.push({ offset, size: bytes.length, event }));
    offset += bytes.length;
  }
  const cut = parser.finish();
  if (cut) out.push(cut);
  return out;
}

test("a transaction cut off by the next GTID is flagged, and the next one is still read whole", () => {
  const ts = feed([mysqlGtid(1), query("BEGIN"), [rows, EventType.TABLE_MAP], mysqlGtid(2), query("BEGIN"), [rows, EventType.WRITE_ROWS], xid]);
  assert.deepEqual(kinds(ts), ["transaction!:3", "transaction:4"]);
  assert.match(ts[0]!.cutShort!, /GTID event at byte \d+ began the next transaction/);
  assert.equal(ts[0]!.endOffset, ts[1]!.startOffset);
});

test("a transaction cut off by the end of the input is flagged", () => {
  const ts = feed([mysqlGtid(1), query("BEGIN"), [rows, EventType.WRITE_ROWS]]);
  assert.deepEqual(kinds(ts), ["transaction!:3"]);
  assert.equal(ts[0]!.cutShort, "the input ended inside it");
  assert.deepEqual(kinds(feed([mysqlGtid(1)])), ["standalone!:1"]);
});

test("a BEGIN inside an open BEGIN cuts the first transaction", () => {
  assert.deepEqual(kinds(feed([query("BEGIN"), [rows, EventType.WRITE_ROWS], query("BEGIN"), query("COMMIT")])), ["transaction!:2", "transaction:2"]);
});

test("ROLLBACK ends a transaction, ROLLBACK TO SAVEPOINT does not", () => {
  assert.deepEqual(kinds(feed([mysqlGtid(1), query("BEGIN"), query("SAVEPOINT a"), query("ROLLBACK TO a"), query("ROLLBACK")])), ["transaction:5"]);
});

test("MySQL XA: XA START ... XA END + XA_PREPARE, then XA COMMIT as its own group", () => {
  const ts = feed([mysqlGtid(1), query("XA START X'61',X'',1"), [rows, EventType.WRITE_ROWS], query("XA END X'61',X'',1"), [xaPrepare, EventType.XA_PREPARE], mysqlGtid(2), query("XA COMMIT X'61',X'',1")]);
  assert.deepEqual(kinds(ts), ["xa-prepare:5", "standalone:2"]);
});

test("MariaDB: FL_STANDALONE groups end at their statement; INTVAR before it stays in the group", () => {
  const ts = feed([mariadbGtid(1, MariadbGtidFlag.STANDALONE | MariadbGtidFlag.DDL), query("CREATE TABLE t (a INT)"), mariadbGtid(2, MariadbGtidFlag.STANDALONE), [{ kind: "opaque", bytes: Buffer.alloc(9) }, EventType.INTVAR], query("INSERT INTO m VALUES (NULL)"), mariadbGtid(3, MariadbGtidFlag.TRANSACTIONAL), [rows, EventType.WRITE_ROWS], xid]);
  assert.deepEqual(kinds(ts), ["standalone:2", "standalone:3", "transaction:3"]);
});

test("MariaDB: a non-transactional group ends with COMMIT; XA prepared and completed groups", () => {
  const xidBody = { formatId: 1, gtrid: Buffer.from("g"), bqual: Buffer.alloc(0) };
  const ts = feed([
    mariadbGtid(1, 0), [rows, EventType.WRITE_ROWS], query("COMMIT"),
    { ...mariadbGtid(2, MariadbGtidFlag.PREPARED_XA), xid: xidBody } as EventBody, query("XA START X'67',X'',1"), [rows, EventType.WRITE_ROWS], query("XA END X'67',X'',1"), [xaPrepare, EventType.XA_PREPARE],
    { ...mariadbGtid(3, MariadbGtidFlag.COMPLETED_XA), xid: xidBody } as EventBody, query("XA COMMIT X'67',X'',1"),
  ]);
  assert.deepEqual(kinds(ts), ["transaction:3", "xa-prepare:5", "standalone:2"]);
});
