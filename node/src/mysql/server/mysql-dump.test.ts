/**
 * MySQL mode against MySQL 8.0 fixtures: a client speaking the raw protocol sends
 * COM_BINLOG_DUMP_GTID (and COM_BINLOG_DUMP) and gets, byte for byte, what a MySQL 8 primary
 * sends: fake ROTATE, the FDE (IN_USE cleared; `created` zeroed when the first transaction is
 * skipped), PREVIOUS_GTIDS, the fixture's events, each skipped run replaced by a heartbeat at its
 * end, EOF in non-blocking mode. The expected artificial events are built here by hand, not with
 * the code under test.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { crc32 } from "node:zlib";
import { ByteWriter } from "../../binlog/bytes.ts";
import { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";
import { sharedDir } from "../../../test-support/requirements.ts";
import { BinlogServer } from "./binlog-server.ts";
import { FileBinlogFeed } from "./file-feed.ts";
import { encodeBinlogDump, encodeBinlogDumpGtid, RawClient, readDumpEvents, ServerErrorReply } from "./testing/raw-client.ts";

const { dir: shared, skip } = sharedDir();
const fixtures = join(shared, "fixtures", "binlog", "mysql");
const FIXTURE = "mysql-enum-string-set.000001";
const UUID = "93e95066-a2f4-11ec-9b69-9657f0ae95e2";
const SERVER_ID = 7001;
const NON_BLOCK = 0x01;
const HEARTBEAT_V2 = 0x02;

/** The fixture's events: offset and bytes, walked from the raw headers. */
function walk(file: Buffer): Array<{ offset: number; bytes: Buffer }> {
  const out = [];
  for (let offset = 4; offset < file.length; ) {
    const size = file.readUInt32LE(offset + 9);
    out.push({ offset, bytes: file.subarray(offset, offset + size) });
    offset += size;
  }
  return out;
}

/** An artificial event as MySQL builds it: header by hand, CRC32 over header + body. */
function artificial(type: number, body: Buffer, logPos: number, flags: number): Buffer {
  const header = Buffer.alloc(19);
  header.writeUInt32LE(0, 0);
  header[4] = type;
  header.writeUInt32LE(SERVER_ID, 5);
  header.writeUInt32LE(19 + body.length + 4, 9);
  header.writeUInt32LE(logPos, 13);
  header.writeUInt16LE(flags, 17);
  const event = Buffer.concat([header, body, Buffer.alloc(4)]);
  event.writeUInt32LE(crc32(event.subarray(0, event.length - 4)), event.length - 4);
  return event;
}

function fakeRotate(file: string, position: number): Buffer {
  return artificial(4, Buffer.concat([new ByteWriter().u64(BigInt(position)).toBuffer(), Buffer.from(file)]), 0, 0x20);
}

function heartbeat(file: string, position: number): Buffer {
  return artificial(27, Buffer.from(file), position, 0);
}

function heartbeatV2(file: string, position: number): Buffer {
  const pos = new ByteWriter().lenenc(position).toBuffer();
  const body = new ByteWriter().u8(1).lenenc(file.length).bytes(Buffer.from(file)).u8(2).lenenc(pos.length).bytes(pos).u8(0).toBuffer();
  return artificial(41, body, position, 0);
}

/** The FDE as sent: IN_USE cleared, optionally log_pos/created zeroed, CRC recomputed. */
function sentFde(fde: Buffer, options: { created0?: boolean; logPos0?: boolean } = {}): Buffer {
  const out = Buffer.from(fde);
  out[17] = out[17]! & ~1;
  if (options.created0) out.writeUInt32LE(0, 19 + 2 + 50);
  if (options.logPos0) out.writeUInt32LE(0, 13);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

let fixture: Buffer;
let events: Array<{ offset: number; bytes: Buffer }>;
let server: BinlogServer;
let port: number;
let work: string;

before(async () => {
  if (skip) return;
  fixture = await readFile(join(fixtures, FIXTURE));
  events = walk(fixture);
  work = await mkdtemp(join(tmpdir(), "kingbus-mysql-dump-"));
  const feed = await FileBinlogFeed.open([join(fixtures, FIXTURE)]);
  server = new BinlogServer({ flavor: "mysql", serverId: SERVER_ID, users: { repl: "pw" }, serverUuid: "11111111-2222-3333-4444-555555555555" }, feed);
  ({ port } = await server.listen("127.0.0.1", 0));
});

after(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function client(p = port): Promise<RawClient> {
  return RawClient.connect({ host: "127.0.0.1", port: p, user: "repl", password: "pw" });
}

/** Logs in, announces checksums as a MySQL 8 replica does, and runs a non-blocking GTID dump. */
async function dumpGtid(gtids: string, flags = NON_BLOCK, setup = ["SET @source_binlog_checksum = 'CRC32', @master_binlog_checksum = 'CRC32'"], p = port): Promise<Buffer[]> {
  const c = await client(p);
  try {
    for (const sql of setup) await c.query(sql);
    await c.command(encodeBinlogDumpGtid(MysqlGtidSet.parse(gtids), flags, 99));
    return await readDumpEvents(c);
  } finally {
    c.destroy();
  }
}

function assertEvents(actual: Buffer[], expected: Buffer[]): void {
  assert.equal(actual.length, expected.length, `${actual.length} events, expected ${expected.length}: types ${actual.map((e) => e[4]).join(",")}`);
  actual.forEach((event, i) => assert.ok(event.equals(expected[i]!), `event ${i} (type ${event[4]}) differs:\n${event.toString("hex")}\n${expected[i]!.toString("hex")}`));
}

test("the fixture is what this test expects", { skip }, () => {
  assert.equal(events.length, 21);
  assert.equal(events[0]!.bytes[17]! & 1, 1, "its FDE has IN_USE set (a file still open when it was copied)");
  assert.deepEqual(events.filter((e) => e.bytes[4] === 33).map((e) => e.offset), [157, 493, 791, 1560, 2659]);
});

test("COM_BINLOG_DUMP_GTID with an empty set: fake rotate, FDE, then every event byte for byte", { skip }, async () => {
  const got = await dumpGtid("");
  // IN_USE cleared; the CRC does not change, as it is computed with the flag cleared.
  const fde = Buffer.from(events[0]!.bytes);
  fde[17] = fde[17]! & ~1;
  assert.ok(sentFde(events[0]!.bytes).equals(fde));
  assertEvents(got, [fakeRotate(FIXTURE, 4), fde, ...events.slice(1).map((e) => e.bytes)]);
});

test("a partial set: the replica's transactions are skipped, one heartbeat per skipped run", { skip }, async () => {
  // Has 1-3: the first transaction is skipped, so `created` is zeroed; one heartbeat at 1560.
  assertEvents(await dumpGtid(`${UUID}:1-3`), [
    fakeRotate(FIXTURE, 4),
    sentFde(events[0]!.bytes, { created0: true }),
    events[1]!.bytes,
    heartbeat(FIXTURE, 1560),
    ...events.filter((e) => e.offset >= 1560).map((e) => e.bytes),
  ]);
  // Has 1 and 3: two runs, two heartbeats; HEARTBEAT_V2 when the replica asks for it.
  assertEvents(await dumpGtid(`${UUID}:1:3`, NON_BLOCK | HEARTBEAT_V2), [
    fakeRotate(FIXTURE, 4),
    sentFde(events[0]!.bytes, { created0: true }),
    events[1]!.bytes,
    heartbeatV2(FIXTURE, 493),
    ...events.filter((e) => e.offset >= 493 && e.offset < 791).map((e) => e.bytes),
    heartbeatV2(FIXTURE, 1560),
    ...events.filter((e) => e.offset >= 1560).map((e) => e.bytes),
  ]);
  // Missing only the first: `created` kept, the rest skipped to the end, where a heartbeat ends the run.
  assertEvents(await dumpGtid(`${UUID}:2-5`), [
    fakeRotate(FIXTURE, 4),
    sentFde(events[0]!.bytes),
    ...events.filter((e) => e.offset >= 126 && e.offset < 493).map((e) => e.bytes),
    heartbeat(FIXTURE, fixture.length),
  ]);
  // Other sources the replica has are no concern of the fixture's.
  assertEvents(await dumpGtid(`${UUID}:1-5,aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa:1-100`), [
    fakeRotate(FIXTURE, 4),
    sentFde(events[0]!.bytes, { created0: true }),
    events[1]!.bytes,
    heartbeat(FIXTURE, fixture.length),
  ]);
});

test("COM_BINLOG_DUMP by file and position: the FDE says log_pos 0, created 0; then the events from there", { skip }, async () => {
  const c = await client();
  try {
    await c.query("SET @master_binlog_checksum = 'CRC32'");
    await c.command(encodeBinlogDump(FIXTURE, 1560, NON_BLOCK, 42));
    assertEvents(await readDumpEvents(c), [
      fakeRotate(FIXTURE, 1560),
      sentFde(events[0]!.bytes, { created0: true, logPos0: true }),
      ...events.filter((e) => e.offset >= 1560).map((e) => e.bytes),
    ]);
  } finally {
    c.destroy();
  }
});

async function refusal(run: (c: RawClient) => Promise<void>): Promise<ServerErrorReply> {
  const c = await client();
  try {
    await run(c);
    const error = await readDumpEvents(c).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof ServerErrorReply, `expected an ERR packet, got ${String(error)}`);
    return error;
  } finally {
    c.destroy();
  }
}

test("refusals are ERR 1236 with the primary's messages", { skip }, async () => {
  const checksumAware = (c: RawClient) => c.query("SET @master_binlog_checksum = 'CRC32'").then(() => undefined);
  // More GTIDs of the fixture's source than stored.
  let error = await refusal(async (c) => {
    await checksumAware(c);
    await c.command(encodeBinlogDumpGtid(MysqlGtidSet.parse(`${UUID}:1-7`), NON_BLOCK, 99));
  });
  assert.equal(error.errno, 1236);
  assert.match(error.message, /Replica has more GTIDs than the source has.*93e95066-a2f4-11ec-9b69-9657f0ae95e2:6-7/);

  // No @master_binlog_checksum while the events carry CRC32: refused after the fake rotate.
  const c = await client();
  try {
    await c.command(encodeBinlogDumpGtid(MysqlGtidSet.empty(), NON_BLOCK, 99));
    const rotate = await c.read();
    assert.equal(rotate[0], 0);
    // Without a negotiated checksum the fake rotate carries none.
    assert.equal(rotate.length - 1, 19 + 8 + FIXTURE.length);
    await assert.rejects(readDumpEvents(c), (e: unknown) => {
      assert.ok(e instanceof ServerErrorReply);
      assert.equal(e.errno, 1236);
      assert.match(e.message, /^1236 \(HY000\): Replica can not handle replication events with the checksum that source is configured to log; the first event 'mysql-enum-string-set.000001' at 4/);
      return true;
    });
  } finally {
    c.destroy();
  }

  // Unknown file, position past the end, position inside an event.
  for (const [file, pos, message] of [
    ["nosuch.000001", 4, /Could not find first log file name in binary log index file/],
    [FIXTURE, 99_999, /Client requested source to start replication from position > file size/],
    [FIXTURE, 1561, /position 1561 in mysql-enum-string-set.000001 is not the start of an event/],
  ] as const) {
    error = await refusal(async (c) => {
      await checksumAware(c);
      await c.command(encodeBinlogDump(file, pos, NON_BLOCK, 5));
    });
    assert.equal(error.errno, 1236);
    assert.match(error.message, message);
  }
});

test("GTIDs purged from the feed, and anonymous transactions under auto-position, are refused", { skip }, async () => {
  // This fixture starts with PREVIOUS_GTIDS b9b88c66-...:1-2: those are purged.
  const purgedFeed = await FileBinlogFeed.open([join(fixtures, "binlog_transaction_previous_GTID_no_tag.000001")]);
  const anonymousFeed = await FileBinlogFeed.open([join(fixtures, "json.binlog.000001")]);
  for (const [feed, gtids, message] of [
    [purgedFeed, "", /Cannot replicate because the source purged required binary logs.*missing transactions are 'b9b88c66-0755-11f1-9899-4a9da94c4d71:1-2'/],
    [anonymousFeed, "", /Cannot replicate anonymous transaction when AUTO_POSITION = 1, at file json.binlog.000001, position 156\.; the first event 'json.binlog.000001' at 4/],
  ] as const) {
    const other = new BinlogServer({ flavor: "mysql", serverId: SERVER_ID, users: { repl: "pw" } }, feed);
    const { port: otherPort } = await other.listen("127.0.0.1", 0);
    try {
      await assert.rejects(dumpGtid(gtids, NON_BLOCK, undefined, otherPort), (e: unknown) => {
        assert.ok(e instanceof ServerErrorReply, String(e));
        assert.equal(e.errno, 1236);
        assert.match(e.message, message);
        return true;
      });
    } finally {
      await other.close();
    }
  }
  // With the purged GTIDs in hand, the same feed serves: its FDE, PREVIOUS_GTIDS and closing ROTATE.
  const other = new BinlogServer({ flavor: "mysql", serverId: SERVER_ID, users: { repl: "pw" } }, purgedFeed);
  const { port: otherPort } = await other.listen("127.0.0.1", 0);
  try {
    const got = await dumpGtid("b9b88c66-0755-11f1-9899-4a9da94c4d71:1-2", NON_BLOCK, undefined, otherPort);
    const file = walk(await readFile(join(fixtures, "binlog_transaction_previous_GTID_no_tag.000001")));
    assertEvents(got, [fakeRotate("binlog_transaction_previous_GTID_no_tag.000001", 4), sentFde(file[0]!.bytes), ...file.slice(1).map((e) => e.bytes)]);
  } finally {
    await other.close();
  }
});

test("blocking dump: after the last event, heartbeats at @source_heartbeat_period naming the file's end", { skip }, async () => {
  const c = await client();
  try {
    await c.query("SET @source_binlog_checksum = 'CRC32', @master_heartbeat_period = 40000000, @source_heartbeat_period = 40000000");
    const began = Date.now();
    await c.command(encodeBinlogDumpGtid(MysqlGtidSet.parse(`${UUID}:1-5`), 0, 99));
    const packets: Buffer[] = [];
    for (let i = 0; i < 6; i++) packets.push((await c.read(2000)).subarray(1));
    // fake rotate, FDE, PREVIOUS_GTIDS, the heartbeat ending the skipped run, then idle heartbeats.
    assert.deepEqual(packets.map((p) => p[4]), [4, 15, 35, 27, 27, 27]);
    for (const hb of packets.slice(3)) assert.ok(hb.equals(heartbeat(FIXTURE, fixture.length)));
    assert.ok(Date.now() - began >= 70, "idle heartbeats come a period apart");
    assert.equal(server.connections().find((x) => x.dumpServerId === 99)?.dumpServerId, 99);
  } finally {
    c.destroy();
  }
});

/** A MySQL 8 binlog file written here: the fixture's FDE, an empty PREVIOUS_GTIDS, then transactions around big events. */
async function bigEventFile(path: string, sizes: number[]): Promise<{ events: Buffer[]; bytes: Buffer }> {
  const fde = Buffer.from(events[0]!.bytes);
  fde[17] = 0;
  const out: Buffer[] = [Buffer.from([0xfe, 0x62, 0x69, 0x6e]), fde];
  let offset = 4 + fde.length;
  const list: Buffer[] = [fde];
  const push = (type: number, body: Buffer, flags = 0) => {
    const header = Buffer.alloc(19);
    header.writeUInt32LE(1700000000, 0);
    header[4] = type;
    header.writeUInt32LE(1, 5);
    header.writeUInt32LE(19 + body.length + 4, 9);
    header.writeUInt32LE(offset + 19 + body.length + 4, 13);
    header.writeUInt16LE(flags, 17);
    const event = Buffer.concat([header, body, Buffer.alloc(4)]);
    event.writeUInt32LE(crc32(event.subarray(0, event.length - 4)), event.length - 4);
    out.push(event);
    list.push(event);
    offset += event.length;
  };
  push(35, Buffer.alloc(8));
  sizes.forEach((size, i) => {
    const gtid = new ByteWriter().u8(1).bytes(Buffer.from(UUID.replaceAll("-", ""), "hex")).u64(BigInt(i + 1)).u8(2).u64(BigInt(i)).u64(BigInt(i + 1)).toBuffer();
    push(33, gtid);
    // A rows event (opaque to the codec) of the asked size in all.
    push(30, Buffer.alloc(size - 19 - 4, 0x5a));
    push(16, new ByteWriter().u64(BigInt(i + 100)).toBuffer());
  });
  const bytes = Buffer.concat(out);
  await writeFile(path, bytes);
  return { events: list, bytes };
}

test("events of 16 MiB and more are split over packets (exactly 0xFFFFFF: an empty packet follows)", { skip, timeout: 60_000 }, async () => {
  // 0x00 + event of 0xFFFFFE bytes = a payload of exactly 0xFFFFFF; then one of 17 MiB.
  const path = join(work, "big-bin.000001");
  const file = await bigEventFile(path, [0xfffffe, 17 * 1024 * 1024 + 3]);
  const feed = await FileBinlogFeed.open([path]);
  const other = new BinlogServer({ flavor: "mysql", serverId: SERVER_ID, users: { repl: "pw" } }, feed);
  const { port: otherPort } = await other.listen("127.0.0.1", 0);
  try {
    const got = await dumpGtid("", NON_BLOCK, undefined, otherPort);
    assertEvents(got, [fakeRotate("big-bin.000001", 4), ...file.events]);
  } finally {
    await other.close();
  }
});
