import { test } from "node:test";
import fc from "fast-check";
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

test("a tagged GTID (MySQL 8.4+) names its transaction as uuid:tag:gno (binlog_transaction_with_GTID_TAG.000001)", { skip }, () => {
  const { transactions } = parseFile("mysql", "binlog_transaction_with_GTID_TAG.000001");
  assert.deepEqual(kinds(transactions), ["transaction:5"]);
  assert.match(formatTransactionGtid(transactions[0]!.gtid!)!, /^[0-9a-f]{8}-[0-9a-f-]{27}:mytag:3$/);
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

// Property: any sequence of well-formed groups, with events between them that belong to no group,
// is parsed into exactly those groups; cutting the stream anywhere leaves every earlier group whole
// and flags the one it cut.
type Item = EventBody | [EventBody, number];
interface Shape {
  kind: Transaction["kind"];
  events: Item[];
}

const xidOf = { formatId: 1, gtrid: Buffer.from("g"), bqual: Buffer.alloc(0) };
const intvar: Item = [{ kind: "opaque", bytes: Buffer.alloc(9) }, EventType.INTVAR];
const tableMap: Item = [rows, EventType.TABLE_MAP];
const writeRows: Item = [rows, EventType.WRITE_ROWS];
const annotate: Item = { kind: "mariadbAnnotateRows", sql: Buffer.from("INSERT INTO t VALUES (1)") };
const payload: Item = { kind: "transactionPayload", compression: 255, payloadSize: 3n, uncompressedSize: 3n, header: Buffer.from([2, 1, 0xff, 0]), payload: Buffer.from([1, 2, 3]) };

function shapes(gno: number, rowCount: number): Shape[] {
  const many = Array<Item>(rowCount).fill(writeRows);
  const mg = (flags: number, xa = false): EventBody => ({ ...mariadbGtid(gno, flags), ...(xa ? { xid: xidOf } : {}) }) as EventBody;
  return [
    { kind: "transaction", events: [mysqlGtid(gno), query("BEGIN"), tableMap, ...many, xid] },
    { kind: "transaction", events: [mysqlGtid(gno), query("BEGIN"), intvar, query("INSERT INTO m VALUES (NULL)"), query("COMMIT")] },
    { kind: "standalone", events: [mysqlGtid(gno), query("CREATE TABLE t (a INT)")] },
    { kind: "standalone", events: [mysqlGtid(gno), intvar, query("INSERT INTO m VALUES (NULL)")] },
    { kind: "xa-prepare", events: [mysqlGtid(gno), query("XA START X'67',X'',1"), tableMap, ...many, query("XA END X'67',X'',1"), [xaPrepare, EventType.XA_PREPARE]] },
    { kind: "standalone", events: [mysqlGtid(gno), query("XA COMMIT X'67',X'',1")] },
    { kind: "compressed", events: [mysqlGtid(gno), payload] },
    { kind: "transaction", events: [mg(MariadbGtidFlag.TRANSACTIONAL), annotate, tableMap, ...many, xid] },
    { kind: "transaction", events: [mg(0), annotate, tableMap, ...many, query("COMMIT")] },
    { kind: "standalone", events: [mg(MariadbGtidFlag.STANDALONE | MariadbGtidFlag.DDL), query("DROP TABLE t")] },
    { kind: "xa-prepare", events: [mg(MariadbGtidFlag.PREPARED_XA, true), query("XA START X'67',X'',1"), tableMap, ...many, query("XA END X'67',X'',1"), [xaPrepare, EventType.XA_PREPARE]] },
    { kind: "standalone", events: [mg(MariadbGtidFlag.COMPLETED_XA, true), query("XA ROLLBACK X'67',X'',1")] },
    { kind: "transaction", events: [query("BEGIN"), tableMap, ...many, xid] },
    { kind: "standalone", events: [query("CREATE DATABASE d")] },
  ];
}

const between: Item[] = [
  { kind: "rotate", position: 4n, nextFile: "bin.000002" },
  { kind: "heartbeat", logFile: "bin.000002" },
  { kind: "mariadbGtidList", flags: 0, list: [], trailing: Buffer.alloc(0) },
  { kind: "previousGtids", encodedSet: Buffer.alloc(8) },
];

interface Expected {
  kind: string;
  eventCount: number;
  startIndex: number;
  lastIndex: number;
}

function layout(picks: Array<{ shape: number; rows: number; fillers: number[] }>): { items: Item[]; expected: Expected[] } {
  const items: Item[] = [];
  const expected: Expected[] = [];
  picks.forEach((p, i) => {
    for (const f of p.fillers) items.push(between[f]!);
    const s = shapes(i + 1, p.rows)[p.shape]!;
    expected.push({ kind: s.kind, eventCount: s.events.length, startIndex: items.length, lastIndex: items.length + s.events.length - 1 });
    items.push(...s.events);
  });
  return { items, expected };
}

function parseItems(items: Item[]): { transactions: Transaction[]; offsets: number[]; ends: number[] } {
  const parser = new TransactionBoundaryParser();
  const transactions: Transaction[] = [];
  const offsets: number[] = [];
  const ends: number[] = [];
  let offset = 4;
  for (const item of items) {
    const [body, type] = Array.isArray(item) ? item : [item, undefined];
    const { event, bytes } = buildEvent(body, { type }, format);
    offsets.push(offset);
    transactions.push(...parser.push({ offset, size: bytes.length, event }));
    offset += bytes.length;
    ends.push(offset);
  }
  const cut = parser.finish();
  if (cut) transactions.push(cut);
  return { transactions, offsets, ends };
}

const pickArb = fc.record({ shape: fc.integer({ min: 0, max: 13 }), rows: fc.integer({ min: 1, max: 3 }), fillers: fc.array(fc.integer({ min: 0, max: between.length - 1 }), { maxLength: 2 }) });

test("property: well-formed groups of both flavours are parsed back exactly, whatever sits between them", () => {
  fc.assert(
    fc.property(fc.array(pickArb, { minLength: 1, maxLength: 12 }), (picks) => {
      const { items, expected } = layout(picks);
      const { transactions, offsets, ends } = parseItems(items);
      assert.deepEqual(
        transactions.map((t) => [t.kind, t.complete, t.eventCount, t.startOffset, t.endOffset]),
        expected.map((e) => [e.kind, true, e.eventCount, offsets[e.startIndex], ends[e.lastIndex]]),
      );
    }),
    { numRuns: 300 },
  );
});

test("property: a stream cut anywhere keeps earlier groups whole and flags the one it cut", () => {
  fc.assert(
    fc.property(fc.array(pickArb, { minLength: 1, maxLength: 8 }), fc.nat(), (picks, cutSeed) => {
      const { items, expected } = layout(picks);
      const keep = cutSeed % items.length; // events [0, keep) survive
      const { transactions } = parseItems(items.slice(0, keep));
      const whole = expected.filter((e) => e.lastIndex < keep);
      const torn = expected.find((e) => e.startIndex < keep && e.lastIndex >= keep);
      assert.deepEqual(transactions.slice(0, whole.length).map((t) => [t.kind, t.complete, t.eventCount]), whole.map((e) => [e.kind, true, e.eventCount]));
      if (torn === undefined) {
        assert.equal(transactions.length, whole.length);
      } else {
        assert.equal(transactions.length, whole.length + 1);
        const t = transactions.at(-1)!;
        assert.equal(t.complete, false);
        assert.equal(t.eventCount, keep - torn.startIndex);
        assert.equal(t.cutShort, "the input ended inside it");
      }
    }),
    { numRuns: 300 },
  );
});
