/**
 * MariaDB dump sessions over an in-memory feed, byte for byte: where a GTID dump starts
 * (gtid_find_binlog_file), what it skips, the fake GTID_LIST it sends when a domain reaches the
 * replica's position, the FDE's `created` field, the refusals (ERR 1236 with MariaDB's messages),
 * heartbeats while waiting, events that arrive while a dump waits, and a reconnecting replica
 * replacing its old dump. The real-replica test (mariadb-replica.test.ts) shows the same against
 * MariaDB 10.11 itself.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { crc32 } from "node:zlib";
import { ByteWriter } from "../../binlog/bytes.ts";
import { MariadbGtidState, type MariadbGtid } from "../../binlog/gtid-mariadb.ts";
import { BinlogServer } from "./binlog-server.ts";
import { MariadbFileBuilder, MemoryBinlogFeed } from "./testing/memory-feed.ts";
import { encodeBinlogDump, RawClient, readDumpEvents, ServerErrorReply } from "./testing/raw-client.ts";

const SERVER_ID = 4100;
const NON_BLOCK = 0x01;
const SEND_ANNOTATE = 0x02;
const g = (text: string): MariadbGtid => {
  const [domain, serverId, seq] = text.split("-");
  return { domain: Number(domain), serverId: Number(serverId), seq: BigInt(seq!) };
};

function artificial(type: number, body: Buffer, logPos: number, flags: number, checksum = true): Buffer {
  const header = Buffer.alloc(19);
  header[4] = type;
  header.writeUInt32LE(SERVER_ID, 5);
  header.writeUInt32LE(19 + body.length + (checksum ? 4 : 0), 9);
  header.writeUInt32LE(logPos, 13);
  header.writeUInt16LE(flags, 17);
  if (!checksum) return Buffer.concat([header, body]);
  const event = Buffer.concat([header, body, Buffer.alloc(4)]);
  event.writeUInt32LE(crc32(event.subarray(0, event.length - 4)), event.length - 4);
  return event;
}
const fakeRotate = (file: string, position = 4, checksum = true) =>
  artificial(4, Buffer.concat([new ByteWriter().u64(BigInt(position)).toBuffer(), Buffer.from(file)]), 0, 0x20, checksum);
const heartbeat = (file: string, position: number) => artificial(27, Buffer.from(file), position, 0);
function fakeGtidList(list: string[], logPos: number): Buffer {
  const w = new ByteWriter().u32(list.length);
  for (const gtid of list.map(g)) w.u32(gtid.domain).u32(gtid.serverId).u64(gtid.seq);
  return artificial(0xa3, w.toBuffer(), logPos, 0x20);
}
function fde(event: Buffer, options: { created0?: boolean; logPos0?: boolean } = {}): Buffer {
  const out = Buffer.from(event);
  out[17] = out[17]! & ~1;
  if (options.created0) out.writeUInt32LE(0, 19 + 2 + 50);
  if (options.logPos0) out.writeUInt32LE(0, 13);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}
const isAnnotate = (e: Buffer) => e[4] === 0xa0;
const endOf = (events: Buffer[], last: Buffer) => events.slice(0, events.indexOf(last) + 1).reduce((n, e) => n + e.length, 4);

// file 1: ddl 0-1-1, trx 0-1-2, trx 2-1-1, trx 0-1-3, ROTATE
// file 2 (GTID_LIST 0-1-3, 2-1-1): trx 0-1-4, trx 2-1-2, ddl 0-1-5 (being written)
const f1 = new MariadbFileBuilder("mariadb-bin.000001");
const ddl1 = f1.ddl(g("0-1-1"));
const trx2 = f1.transaction(g("0-1-2"));
const trxD2 = f1.transaction(g("2-1-1"));
const trx3 = f1.transaction(g("0-1-3"));
f1.rotate("mariadb-bin.000002");
const f2 = new MariadbFileBuilder("mariadb-bin.000002", { gtidList: [g("0-1-3"), g("2-1-1")], inUse: true });
f2.transaction(g("0-1-4"));
f2.transaction(g("2-1-2"));
f2.ddl(g("0-1-5"));

let feed: MemoryBinlogFeed;
let server: BinlogServer;
let port: number;

before(async () => {
  feed = new MemoryBinlogFeed("mariadb");
  feed.addFile(f1.name, f1.events, { gtidList: [] });
  feed.addFile(f2.name, f2.events, { gtidList: f2.gtidList });
  feed.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse("0-1-5,2-1-2") });
  server = new BinlogServer({ flavor: "mariadb", serverId: SERVER_ID, users: { repl: "pw" } }, feed);
  ({ port } = await server.listen("127.0.0.1", 0));
});

after(() => server?.close());

const REPLICA_SETUP = ["SET @master_binlog_checksum= @@global.binlog_checksum", "SET @mariadb_slave_capability=4"];

async function dump(state: string | undefined, options: { flags?: number; setup?: string[]; file?: string; position?: number; p?: number } = {}): Promise<Buffer[]> {
  const c = await RawClient.connect({ host: "127.0.0.1", port: options.p ?? port, user: "repl", password: "pw" });
  try {
    for (const sql of options.setup ?? REPLICA_SETUP) await c.query(sql);
    if (state !== undefined) await c.query(`SET @slave_connect_state='${state}'`);
    await c.command(encodeBinlogDump(options.file ?? "", options.position ?? 4, options.flags ?? NON_BLOCK, 0));
    return await readDumpEvents(c);
  } finally {
    c.destroy();
  }
}

function assertEvents(actual: Buffer[], expected: Buffer[]): void {
  assert.deepEqual(actual.map((e) => e[4]), expected.map((e) => e[4]), "event types");
  actual.forEach((event, i) => assert.ok(event.equals(expected[i]!), `event ${i} (type ${event[4]}) differs:\n${event.toString("hex")}\n${expected[i]!.toString("hex")}`));
}

test("from an empty position: every file, fake rotates between them, ANNOTATE_ROWS only when asked for", async () => {
  const noAnnotate = (events: Buffer[]) => events.filter((e) => !isAnnotate(e));
  const expected = (annotate: boolean) => [
    fakeRotate(f1.name),
    fde(f1.events[0]!),
    ...(annotate ? f1.events.slice(1) : noAnnotate(f1.events.slice(1))),
    fakeRotate(f2.name),
    fde(f2.events[0]!),
    ...(annotate ? f2.events.slice(1) : noAnnotate(f2.events.slice(1))),
  ];
  assertEvents(await dump(""), expected(false));
  assertEvents(await dump("", { flags: NON_BLOCK | SEND_ANNOTATE }), expected(true));
  // A file/position dump (no @slave_connect_state) from the start reads the same.
  assertEvents(await dump(undefined, { file: f1.name }), expected(false));
});

test("from a GTID position: skipped groups, a fake GTID_LIST as each domain reaches it, `created` zeroed until then", async () => {
  const sent = (events: Buffer[]) => events.filter((e) => !isAnnotate(e));
  assertEvents(await dump("0-1-2,2-1-1"), [
    fakeRotate(f1.name),
    fde(f1.events[0]!, { created0: true }),
    f1.events[1]!, // GTID_LIST
    f1.events[2]!, // BINLOG_CHECKPOINT
    fakeGtidList(["0-1-2"], endOf(f1.events, trx2.at(-1)!)),
    fakeGtidList(["0-1-2", "2-1-1"], endOf(f1.events, trxD2.at(-1)!)),
    ...sent(trx3),
    f1.events.at(-1)!, // the primary's ROTATE
    fakeRotate(f2.name),
    fde(f2.events[0]!),
    ...sent(f2.events.slice(1)),
  ]);
  void ddl1;
  // The replica is at the last GTIDs of file 1, which file 2's GTID_LIST names: start at file 2, nothing to skip.
  assertEvents(await dump("0-1-3,2-1-1"), [fakeRotate(f2.name), fde(f2.events[0]!), ...sent(f2.events.slice(1))]);
  // A domain this binlog never had does not stop the stream.
  assertEvents(await dump("9-1-1"), [fakeRotate(f1.name), fde(f1.events[0]!, { created0: true }), ...sent(f1.events.slice(1)), fakeRotate(f2.name), fde(f2.events[0]!, { created0: true }), ...sent(f2.events.slice(1))]);
});

async function refusal(state: string | undefined, options: Parameters<typeof dump>[1] = {}): Promise<ServerErrorReply> {
  const error = await dump(state, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof ServerErrorReply, `expected ERR, got ${String(error)}`);
  return error;
}

test("refusals: GTIDs not in the binlog, diverged replicas, holes in strict mode, purged files, no checksum, old replicas", async () => {
  let e = await refusal("0-1-9");
  assert.equal(e.errno, 1236);
  assert.match(e.message, /Error: connecting slave requested to start from GTID 0-1-9, which is not in the master's binlog$/);
  e = await refusal("0-2-4");
  assert.match(e.message, /GTID 0-2-4, which is not in the master's binlog. Since the master's binlog contains GTIDs with higher sequence numbers, it probably means that the slave has diverged/);
  // With @slave_gtid_ignore_duplicates a position ahead of ours is accepted (another path may have
  // delivered it): domain 0 is skipped up to it, domain 2 flows.
  const events = await dump("0-1-9", { setup: [...REPLICA_SETUP, "SET @slave_gtid_ignore_duplicates=1"] });
  const domains = events.filter((x) => x[4] === 0xa2).map((x) => x.readUInt32LE(19 + 8));
  assert.deepEqual(domains, [2, 2]);
  e = await refusal("bad state");
  assert.equal(e.errno, 1105);
  assert.match(e.message, /malformed slave request/);

  e = await refusal("", { setup: ["SET @mariadb_slave_capability=4"] });
  assert.match(e.message, /^1236 \(HY000\): Slave can not handle replication events with the checksum that master is configured to log; the first event 'mariadb-bin.000001' at 4/);
  e = await refusal("", { setup: ["SET @master_binlog_checksum='CRC32'"] });
  assert.match(e.message, /@mariadb_slave_capability=4/);
  e = await refusal(undefined, { file: "mariadb-bin.000009" });
  assert.match(e.message, /Could not find first log file name in binary log index file/);
  e = await refusal(undefined, { file: f1.name, position: 100_000 });
  assert.match(e.message, /Client requested master to start replication from impossible position/);

  // A binlog whose older files were purged: its first file starts after 0-1-3.
  const purgedFeed = new MemoryBinlogFeed("mariadb");
  purgedFeed.addFile(f2.name, f2.events, { gtidList: f2.gtidList });
  purgedFeed.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse("0-1-5,2-1-2") });
  // A binlog with a hole: 0-1-1 then 0-1-3.
  const holes = new MariadbFileBuilder("hole-bin.000001");
  holes.transaction(g("0-1-1"));
  holes.transaction(g("0-1-3"));
  const holeFeed = new MemoryBinlogFeed("mariadb");
  holeFeed.addFile(holes.name, holes.events, { gtidList: [] });
  holeFeed.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse("0-1-3") });
  for (const [other, state, setup, message] of [
    [purgedFeed, "", REPLICA_SETUP, /Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged./],
    [purgedFeed, "0-1-1,2-1-1", REPLICA_SETUP, /Could not find GTID state requested by slave in any binlog files/],
    [holeFeed, "0-1-2", [...REPLICA_SETUP, "SET @slave_gtid_strict_mode=1"], /The binlog on the master is missing the GTID 0-1-2 requested by the slave \(even though both a prior and a subsequent sequence number does exist\), and GTID strict mode is enabled/],
  ] as const) {
    const s = new BinlogServer({ flavor: "mariadb", serverId: SERVER_ID, users: { repl: "pw" } }, other);
    const { port: p } = await s.listen("127.0.0.1", 0);
    try {
      e = await refusal(state, { setup: [...setup], p });
      assert.equal(e.errno, 1236);
      assert.match(e.message, message);
    } finally {
      await s.close();
    }
  }
  // Without strict mode the hole is stepped over; the fake GTID_LIST (0-1-1 only) goes before 0-1-3.
  const s = new BinlogServer({ flavor: "mariadb", serverId: SERVER_ID, users: { repl: "pw" } }, holeFeed);
  const { port: p } = await s.listen("127.0.0.1", 0);
  try {
    const events = await dump("0-1-2", { p });
    assert.deepEqual(events.map((x) => x[4]), [4, 15, 0xa3, 0xa1, 0xa3, 0xa2, 23, 16]);
    const second = holes.events.findIndex((x) => x[4] === 0xa2 && x.readBigUInt64LE(19) === 3n);
    assert.ok(events[4]!.equals(fakeGtidList(["0-1-1"], endOf(holes.events, holes.events[second - 1]!))));
  } finally {
    await s.close();
  }
});

test("a session that never announced @mariadb_slave_capability gets ERR 1105, on which a replica reconnects; one that announced less than 4 gets 1236", async () => {
  // What a MariaDB replica's client library sends on the session it opens by itself when a command
  // could not be sent (the pod it had set up a session with went away): that command and the ones
  // after it, without the settings made before. A replica stops for good on 1236, so not that.
  for (const [state, setup] of [
    [undefined, []], // COM_REGISTER_SLAVE (or the dump itself) was sent again: no settings at all
    ["", []], // SELECT @@GLOBAL.gtid_domain_id was sent again: @slave_connect_state and what follows only
    ["", ["SET @master_binlog_checksum='CRC32'"]],
    ["", ["SET @master_binlog_checksum='CRC32'", "SET @mariadb_slave_capability=NULL"]],
  ] as const) {
    const e = await refusal(state, { setup: [...setup] });
    assert.equal(e.errno, 1105, `${JSON.stringify(setup)}: ${e.message}`);
    assert.match(e.message, /@mariadb_slave_capability=4.*announced nothing.*reconnect/);
  }
  // A client that says it does not understand GTIDs is refused for good, as before.
  for (const announced of [0, 2, 3]) {
    for (const state of ["", undefined]) {
      const e = await refusal(state, { setup: ["SET @master_binlog_checksum='CRC32'", `SET @mariadb_slave_capability=${announced}`] });
      assert.equal(e.errno, 1236, e.message);
      assert.match(e.message, new RegExp(`understand GTIDs \\(@mariadb_slave_capability=4\\); this one announced ${announced}$`));
    }
  }
});

test("a replica ahead of a pod that is still applying what the cluster committed gets ERR 1105; ahead of a caught-up pod, 1236", async () => {
  class SettlingFeed extends MemoryBinlogFeed {
    settled = true;
    asked = 0;
    settle(): Promise<boolean> {
      this.asked++;
      return Promise.resolve(this.settled);
    }
  }
  const settling = new SettlingFeed("mariadb");
  settling.addFile(f1.name, f1.events, { gtidList: [] });
  settling.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse("0-1-3,2-1-1") });
  const s = new BinlogServer({ flavor: "mariadb", serverId: SERVER_ID, users: { repl: "pw" } }, settling);
  const { port: p } = await s.listen("127.0.0.1", 0);
  try {
    for (const settled of [false, true]) {
      settling.settled = settled;
      // Ahead by GTID, and by a file this pod does not hold yet.
      for (const [state, file] of [["0-1-9", undefined], [undefined, "mariadb-bin.000002"]] as const) {
        const asked = settling.asked;
        const e = await refusal(state, { p, ...(file ? { file } : {}) });
        assert.equal(settling.asked, asked + 1, "the pod was asked to settle");
        assert.equal(e.errno, settled ? 1236 : 1105, e.message);
        assert.match(e.message, file ? /Could not find first log file name/ : /0-1-9, which is not in the master's binlog/);
        if (!settled) assert.match(e.message, /still applying what the cluster committed: ask again/);
      }
    }
  } finally {
    await s.close();
  }
});

test("a dump by file and position: FDE with log_pos and created zeroed, then the events from there", async () => {
  const from = endOf(f1.events, trx2.at(-1)!);
  const events = await dump(undefined, { file: f1.name, position: from, flags: NON_BLOCK | SEND_ANNOTATE });
  const rest = f1.events.filter((_, i) => endOf(f1.events, f1.events[i]!) > from);
  assertEvents(events.slice(0, 2 + rest.length), [fakeRotate(f1.name, from), fde(f1.events[0]!, { created0: true, logPos0: true }), ...rest]);
});

test("a blocking dump waits at the end with heartbeats, and sends what is appended meanwhile", async () => {
  const growing = new MemoryBinlogFeed("mariadb");
  const file = new MariadbFileBuilder("grow-bin.000001");
  file.transaction(g("0-1-1"));
  growing.addFile(file.name, file.events, { gtidList: [] });
  growing.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse("0-1-1") });
  const s = new BinlogServer({ flavor: "mariadb", serverId: SERVER_ID, users: { repl: "pw" } }, growing);
  const { port: p } = await s.listen("127.0.0.1", 0);
  const c = await RawClient.connect({ host: "127.0.0.1", port: p, user: "repl", password: "pw" });
  try {
    for (const sql of REPLICA_SETUP) await c.query(sql);
    await c.query("SET @slave_connect_state='0-1-1', @master_heartbeat_period=30000000");
    await c.command(encodeBinlogDump("", 4, 0, 501));
    const read = async () => (await c.read(2000)).subarray(1);
    // fake rotate, FDE, GTID_LIST, CHECKPOINT, the group skipped then a fake GTID_LIST, then heartbeats.
    const start = [await read(), await read(), await read(), await read(), await read()];
    assert.deepEqual(start.map((e) => e[4]), [4, 15, 0xa3, 0xa1, 0xa3]);
    assert.ok(start[4]!.equals(fakeGtidList(["0-1-1"], file.size)));
    assert.ok((await read()).equals(heartbeat(file.name, file.size)));
    assert.ok((await read()).equals(heartbeat(file.name, file.size)));
    // Two transactions are committed while the dump waits: they arrive, then heartbeats name the new end.
    const more = [...file.transaction(g("0-1-2")), ...file.transaction(g("0-1-3"))];
    growing.append(...more);
    const got: Buffer[] = [];
    for (let e = await read(); e[4] !== 27; e = await read()) got.push(e);
    assertEvents(got, more.filter((e) => !isAnnotate(e)));
    assert.ok((await read()).equals(heartbeat(file.name, file.size)));
  } finally {
    c.destroy();
    await s.close();
  }
});

test("a replica that reconnects with the same server_id replaces its old dump", async () => {
  const open = async () => {
    const c = await RawClient.connect({ host: "127.0.0.1", port, user: "repl", password: "pw" });
    for (const sql of REPLICA_SETUP) await c.query(sql);
    await c.query("SET @slave_connect_state='0-1-5,2-1-2'");
    await c.command(encodeBinlogDump("", 4, 0, 321));
    await c.read();
    return c;
  };
  const first = await open();
  const second = await open();
  try {
    await first.packets.closed;
    assert.equal(second.packets.isClosed, false);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(server.connections().filter((x) => x.dumpServerId === 321).length, 1);
  } finally {
    first.destroy();
    second.destroy();
  }
});
