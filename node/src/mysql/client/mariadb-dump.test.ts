/**
 * GTID dumps from a real MariaDB 10.11 primary: what arrives must be the primary's binlog files
 * byte for byte, apart from the events the primary makes up for the session, which the test names
 * exactly; a dump from the middle gives only what follows; purged or unknown positions give the
 * typed 1236 error.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { verifyEventChecksum } from "../../binlog/checksum.ts";
import { EventFlag, EventType, eventTypeName } from "../../binlog/event-type.ts";
import { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";
import { readEventHeader } from "../../binlog/header.ts";
import { mariadbSkip, startMariadb, stopAllMariadb } from "../../../test-support/mariadb.ts";
import type { MariadbServer } from "../../../test-support/mariadb.ts";
import { runMixedWorkload } from "../../../test-support/workload.ts";
import type { WorkloadSummary } from "../../../test-support/workload.ts";
import { BinlogDumpError } from "./errors.ts";
import { checkPrimary } from "./inspect.ts";
import { DumpCoordinates } from "./events.ts";
import { binaryLogs, binlogEvents, Collector, connectTo, mariadbGtidOf } from "./test-helpers.ts";
import type { FileEvent, Received } from "./test-helpers.ts";

const skip = mariadbSkip();
after(() => stopAllMariadb());

const SERVER_ID = 31;
let server: MariadbServer;
let workload: WorkloadSummary;
/** Every GTID in the binlog, in binlog order. */
let gtids: string[];
let logs: Array<{ name: string; size: number }>;

before(async () => {
  if (skip) return;
  server = await startMariadb({ serverId: SERVER_ID, name: "client-dump" });
  workload = await runMixedWorkload(server, { domains: [0, 5, 9] });
  await server.flushBinaryLogs({ settle: true });
  // A second file with transactions, then a third, empty one: the file being written has
  // BINLOG_IN_USE set in its FDE, which the dump clears.
  await server.query("INSERT INTO kb_workload.t_domains (domain, note) VALUES (0, 'second file')");
  await server.query("SET SESSION gtid_domain_id = 7");
  await server.query("CREATE TABLE kb_workload.t_second (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB");
  await server.query("INSERT INTO kb_workload.t_second VALUES (1, REPEAT('blob', 100000)), (2, NULL)");
  await server.query("SET SESSION gtid_domain_id = 0");
  await server.flushBinaryLogs({ settle: true });
  logs = await binaryLogs(server);
  gtids = binlogEvents(server, logs.map((l) => l.name)).flatMap((e) => mariadbGtidOf(e.bytes) ?? []);
});

/** What the file holds, as it should arrive: the FDE of the file being written has IN_USE cleared. */
function asSent(e: FileEvent): Buffer {
  if (e.bytes[4] !== EventType.FORMAT_DESCRIPTION || (e.bytes[17]! & EventFlag.BINLOG_IN_USE) === 0) return e.bytes;
  const copy = Buffer.from(e.bytes);
  copy[17] = copy[17]! & ~EventFlag.BINLOG_IN_USE;
  return copy;
}

function describe(bytes: Buffer): string {
  const h = readEventHeader(bytes);
  return `${eventTypeName(h.type)} size ${h.eventSize} log_pos ${h.logPos} flags 0x${h.flags.toString(16)} ts ${h.timestamp}`;
}

/** Asserts the synthesised events are exactly what the file comment of events.ts says. */
function assertArtificial(e: Received): void {
  const h = readEventHeader(e.bytes);
  assert.equal(h.timestamp, 0, `artificial ${describe(e.bytes)} has timestamp 0`);
  assert.equal(h.serverId, SERVER_ID);
  if (h.type === EventType.ROTATE) {
    assert.equal(h.logPos, 0, "fake ROTATE: log_pos 0");
    assert.equal(h.flags, EventFlag.ARTIFICIAL, "fake ROTATE: ARTIFICIAL only");
  } else if (h.type === EventType.HEARTBEAT) {
    assert.equal(e.heartbeat, true);
    assert.equal(h.flags, 0, "heartbeat: no flags");
  } else {
    assert.equal(h.type, EventType.MARIADB_GTID_LIST, `unexpected artificial ${describe(e.bytes)}`);
    assert.equal(h.flags, EventFlag.ARTIFICIAL);
    assert.notEqual(h.logPos, 0, "fake GTID_LIST carries the position reached");
  }
}

test("a dump from the empty position is the primary's binlog files byte for byte, plus one fake ROTATE per file", { skip, timeout: 60_000 }, async () => {
  const began = performance.now();
  const conn = await connectTo(server, { serverId: 3101 });
  checkPrimary(conn.info);
  assert.equal(conn.info.flavor, "mariadb");
  assert.equal(conn.info.serverId, SERVER_ID);
  assert.equal(conn.info.gtidBinlogPos.toString(), await server.gtidBinlogPos());

  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() });
  const collector = new Collector(stream);
  const last = logs.at(-1)!;
  await collector.until((e) => e.file === last.name && e.position === last.size && !e.artificial, 30_000, `${last.name}:${last.size}`);
  await stream.close();

  for (const e of collector.events) assert.ok(verifyEventChecksum(e.bytes), `CRC32 of ${describe(e.bytes)} as sent`);
  const artificial = collector.events.filter((e) => e.artificial);
  artificial.forEach(assertArtificial);
  // One fake ROTATE per file, right before that file's FDE, naming the file, position 4.
  const rotates = collector.events.flatMap((e, i) => (e.artificial && e.bytes[4] === EventType.ROTATE ? [{ e, i }] : []));
  assert.deepEqual(rotates.map(({ e }) => e.file), logs.map((l) => l.name));
  for (const { e, i } of rotates) {
    assert.equal(e.position, 4);
    assert.equal(collector.events[i + 1]!.bytes[4], EventType.FORMAT_DESCRIPTION, "the file's FDE follows its fake ROTATE");
  }
  // From the beginning nothing is skipped: no fake GTID_LIST.
  assert.ok(!artificial.some((e) => e.bytes[4] === EventType.MARIADB_GTID_LIST));

  const sent = collector.events.filter((e) => !e.artificial);
  const files = binlogEvents(server, logs.map((l) => l.name));
  assert.equal(sent.length, files.length, "as many events as the files hold");
  let inUse = 0;
  files.forEach((f, i) => {
    const wire = sent[i]!;
    assert.ok(wire.bytes.equals(asSent(f)), `event ${i} (${f.file}@${f.offset}): sent ${describe(wire.bytes)}, file has ${describe(f.bytes)}`);
    // A ROTATE moves the coordinates on to the next file.
    if (f.bytes[4] !== EventType.ROTATE) assert.equal(wire.file, f.file);
    if (!wire.bytes.equals(f.bytes)) inUse++;
  });
  assert.equal(inUse, 1, "only the FDE of the file being written differs from the file (IN_USE cleared, same CRC)");
  assert.deepEqual(sent.flatMap((e) => mariadbGtidOf(e.bytes) ?? []), gtids);
  assert.ok(gtids.length >= workload.gtids.length + 3);
  assert.deepEqual(gtids.slice(0, workload.gtids.length), workload.gtids);
  assert.ok(new Set(gtids.map((g) => g.split("-")[0])).size >= 4, "several gtid_domain_ids");
  assert.ok(sent.some((e) => e.bytes.length > 1_000_000), "a BLOB row event over 1 MiB");
  assert.ok(sent.some((e) => e.bytes[4] === EventType.MARIADB_ANNOTATE_ROWS), "ANNOTATE_ROWS events are sent (BINLOG_SEND_ANNOTATE_ROWS_EVENT)");
  console.log(`# empty-position dump: ${sent.length} events, ${artificial.length} artificial, ${gtids.length} GTIDs in ${Math.round(performance.now() - began)} ms`);
});

test("a dump from a middle GTID position gives only the later transactions, after one fake GTID_LIST per domain reached", { skip, timeout: 60_000 }, async () => {
  // A position after which every domain has moved on: the middle of the workload.
  const middle = Math.floor(workload.gtids.length / 2);
  let position = MariadbGtidPosition.empty();
  for (const g of gtids.slice(0, middle + 1)) position = position.with(MariadbGtidPosition.parse(g).gtids()[0]!);
  assert.ok(position.gtids().length >= 3, `position ${position} covers several domains`);
  const expectedGtids = gtids.slice(middle + 1);

  const conn = await connectTo(server, { serverId: 3102 });
  const stream = await conn.dump({ flavor: "mariadb", position });
  const collector = new Collector(stream);
  const last = logs.at(-1)!;
  await collector.until((e) => e.file === last.name && e.position === last.size && !e.artificial, 30_000, `${last.name}:${last.size}`);
  await stream.close();

  const sentGtids = collector.events.flatMap((e) => mariadbGtidOf(e.bytes) ?? []);
  assert.deepEqual(sentGtids, expectedGtids);

  // The first file sent is the one holding the first later transaction; its preamble (FDE,
  // GTID_LIST, BINLOG_CHECKPOINT) comes as in the file, then the skipped groups are left out, and
  // each time the scan passes the replica's position in one domain the primary sends a fake
  // GTID_LIST whose log_pos is the end of that group: one per domain, the last one where the
  // first later transaction starts.
  const files = binlogEvents(server, logs.map((l) => l.name));
  const gtidEvents = files.flatMap((f) => (mariadbGtidOf(f.bytes) ? [f] : []));
  const endOfGroup = (gtid: string) => gtidEvents[gtidEvents.findIndex((f) => mariadbGtidOf(f.bytes) === gtid) + 1]!.offset;
  const expectedFake = position.gtids().map((g) => endOfGroup(`${g.domain}-${g.serverId}-${g.seq}`)).sort((a, b) => a - b);
  const fakeLists = collector.events.filter((e) => e.artificial && e.bytes[4] === EventType.MARIADB_GTID_LIST);
  fakeLists.forEach(assertArtificial);
  assert.deepEqual(fakeLists.map((e) => readEventHeader(e.bytes).logPos), expectedFake);
  const firstLater = files.findIndex((f) => mariadbGtidOf(f.bytes) === expectedGtids[0]);
  assert.equal(expectedFake.at(-1), files[firstLater]!.offset);
  assert.equal(fakeLists.at(-1)!.file, files[firstLater]!.file);

  // From the first later transaction on, the bytes are the files' bytes.
  const fromGtid = collector.events.findIndex((e) => mariadbGtidOf(e.bytes) === expectedGtids[0]);
  const sent = collector.events.slice(fromGtid).filter((e) => !e.artificial);
  const expected = files.slice(firstLater);
  assert.equal(sent.length, expected.length);
  expected.forEach((f, i) => assert.ok(sent[i]!.bytes.equals(asSent(f)), `event ${i} after the start (${f.file}@${f.offset})`));
});

test("a slow consumer holds the queue near the high-water mark (the socket pauses) and still gets every byte", { skip, timeout: 60_000 }, async () => {
  const highWaterBytes = 256 * 1024;
  const conn = await connectTo(server, { serverId: 3105, highWaterBytes });
  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() });
  const files = binlogEvents(server, logs.map((l) => l.name));
  const largest = Math.max(...files.map((f) => f.bytes.length));
  let maxBuffered = 0;
  const sent: Buffer[] = [];
  const last = logs.at(-1)!;
  const coordinates = new DumpCoordinates();
  try {
    // Slow: one event per turn of the event loop, while the primary has the whole binlog ready.
    for await (const e of stream) {
      maxBuffered = Math.max(maxBuffered, stream.bufferedBytes + e.bytes.length);
      coordinates.update(e.bytes);
      if (!e.artificial) sent.push(e.bytes);
      if (coordinates.file === last.name && coordinates.position === last.size && !e.artificial) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await stream.close();
  }
  const total = files.reduce((n, f) => n + f.bytes.length, 0);
  assert.ok(maxBuffered <= highWaterBytes + largest, `queue peaked at ${maxBuffered} bytes (high water ${highWaterBytes}, largest event ${largest}, binlog ${total})`);
  assert.ok(maxBuffered < total / 2);
  assert.equal(sent.length, files.length);
  files.forEach((f, i) => assert.ok(sent[i]!.equals(asSent(f)), `event ${i}`));
});

test("a GTID the primary does not have, and a purged position, end the dump with the typed 1236 error", { skip, timeout: 60_000 }, async () => {
  const ahead = await connectTo(server, { serverId: 3103 });
  const aheadStream = await ahead.dump({ flavor: "mariadb", position: MariadbGtidPosition.parse(`0-${SERVER_ID}-999999`) });
  const aheadCollector = new Collector(aheadStream);
  await aheadCollector.finished;
  assert.ok(aheadCollector.error instanceof BinlogDumpError, String(aheadCollector.error));
  assert.equal(aheadCollector.error.code, "PRIMARY_DUMP_ERROR");
  assert.equal(aheadCollector.error.errno, 1236);
  assert.match(aheadCollector.error.serverMessage, /0-31-999999/);
  assert.match(aheadCollector.error.message, /error 1236.*0-31-999999/);

  // Purge every file but the last: the first GTIDs are gone.
  await server.query(`PURGE BINARY LOGS TO '${logs.at(-1)!.name}'`);
  assert.equal((await binaryLogs(server)).length, 1);
  const purged = await connectTo(server, { serverId: 3104 });
  const purgedStream = await purged.dump({ flavor: "mariadb", position: MariadbGtidPosition.parse(gtids[0]!) });
  const purgedCollector = new Collector(purgedStream);
  await purgedCollector.finished;
  assert.ok(purgedCollector.error instanceof BinlogDumpError, String(purgedCollector.error));
  assert.equal(purgedCollector.error.errno, 1236);
  assert.equal(purgedCollector.error.sqlState, "HY000");
  assert.match(purgedCollector.error.serverMessage, /purged/i);
  assert.equal(purgedCollector.events.length, 0, "nothing before the error");
  console.log(`# 1236 messages: ${aheadCollector.error.serverMessage} | ${purgedCollector.error.serverMessage}`);
});
