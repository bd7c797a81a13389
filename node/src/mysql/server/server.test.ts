/**
 * The primary-role server's connection phase and COM_QUERY answers, over the raw protocol (which
 * also checks every sequence id) and through mysql2: logins and their refusals, the queries real
 * replicas send before a dump, unknown variables and commands, connection limits and shutdown.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { createConnection } from "mysql2/promise";
import { MariadbGtidState } from "../../binlog/gtid-mariadb.ts";
import { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";
import { Capability, Command } from "../wire/constants.ts";
import { decodeErr, isErrPacket } from "../wire/messages.ts";
import { framePayload, PacketParser } from "../wire/packet.ts";
import { BinlogServer } from "./binlog-server.ts";
import { MariadbFileBuilder, MemoryBinlogFeed } from "./testing/memory-feed.ts";
import { DEFAULT_CLIENT_CAPABILITIES, encodeBinlogDump, RawClient, ServerErrorReply } from "./testing/raw-client.ts";

const USERS = { repl: "s3cret", nopass: "", "über": "pässwörd" };

function mariadbFeed(): MemoryBinlogFeed {
  const feed = new MemoryBinlogFeed("mariadb");
  const file = new MariadbFileBuilder("mariadb-bin.000001");
  file.ddl({ domain: 0, serverId: 1, seq: 1n });
  file.transaction({ domain: 0, serverId: 1, seq: 2n });
  file.transaction({ domain: 2, serverId: 1, seq: 1n });
  feed.addFile(file.name, file.events, { gtidList: [] });
  feed.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse("0-1-2,2-1-1") });
  return feed;
}

let mariadb: BinlogServer;
let mariadbPort: number;
let mysql: BinlogServer;
let mysqlPort: number;

before(async () => {
  mariadb = new BinlogServer({ flavor: "mariadb", serverId: 4001, gtidDomainId: 7, users: USERS }, mariadbFeed());
  ({ port: mariadbPort } = await mariadb.listen("127.0.0.1", 0));
  const feed = new MemoryBinlogFeed("mysql");
  feed.setGtidState({
    flavor: "mysql",
    executed: MysqlGtidSet.parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77"),
    purged: MysqlGtidSet.parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10"),
  });
  mysql = new BinlogServer({ flavor: "mysql", serverId: 5001, serverUuid: "11111111-2222-3333-4444-555555555555", users: USERS }, feed);
  ({ port: mysqlPort } = await mysql.listen("127.0.0.1", 0));
});

after(async () => {
  await mariadb?.close();
  await mysql?.close();
});

function login(port = mariadbPort, user = "repl", password = USERS.repl, extra: { capabilities?: number; authPlugin?: string } = {}): Promise<RawClient> {
  return RawClient.connect({ host: "127.0.0.1", port, user, password, ...extra });
}

async function refused(promise: Promise<unknown>): Promise<ServerErrorReply> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(error instanceof ServerErrorReply, `expected an ERR packet, got ${String(error)}`);
  return error;
}

test("the handshake looks like MariaDB 10.11 (or MySQL 8) and logins succeed with the right password only", async () => {
  const c = await login();
  assert.equal(c.handshake.serverVersion, "5.5.5-10.11.19-MariaDB-log");
  assert.equal(c.handshake.capabilities & Capability.SSL, 0);
  assert.equal(await c.value("SELECT CURRENT_USER()"), "repl@%");
  await c.close();

  const m = await login(mysqlPort);
  assert.equal(m.handshake.serverVersion, "8.0.40-kingbus");
  await m.close();

  for (const [user, password, usingPassword] of [
    ["repl", "wrong", "YES"],
    ["repl", "", "NO"],
    ["nobody", "s3cret", "YES"],
    ["nopass", "x", "YES"],
  ] as const) {
    const error = await refused(login(mariadbPort, user, password));
    assert.equal(error.errno, 1045);
    assert.equal(error.sqlState, "28000");
    assert.equal(error.message, `1045 (28000): Access denied for user '${user}'@'127.0.0.1' (using password: ${usingPassword})`);
  }
  // An empty password, and a UTF-8 user name and password.
  await (await login(mariadbPort, "nopass", "")).close();
  await (await login(mariadbPort, "über", "pässwörd")).close();
});

test("caching_sha2_password (MySQL's default) and mysql_native_password both log in; another plugin is switched", async () => {
  // MySQL flavour: the handshake announces caching_sha2_password; the fast path is taken.
  const sha2 = await login(mysqlPort, "repl", USERS.repl, { authPlugin: "caching_sha2_password" });
  assert.equal(sha2.handshake.authPlugin, "caching_sha2_password");
  assert.equal(await sha2.value("SELECT 1"), "1");
  await sha2.close();
  assert.equal((await refused(login(mysqlPort, "repl", "bad", { authPlugin: "caching_sha2_password" }))).errno, 1045);
  await (await login(mysqlPort, "nopass", "", { authPlugin: "caching_sha2_password" })).close();
  await (await login(mysqlPort, "über", "pässwörd", { authPlugin: "caching_sha2_password" })).close();
  // A MariaDB-flavour server accepts it too; its handshake announces mysql_native_password.
  const m = await login(mariadbPort, "repl", USERS.repl, { authPlugin: "caching_sha2_password" });
  assert.equal(m.handshake.authPlugin, "mysql_native_password");
  await m.close();
  // An unknown plugin is switched to the announced one (caching_sha2_password for MySQL).
  const c = await login(mysqlPort, "repl", USERS.repl, { authPlugin: "client_ed25519" });
  assert.equal(await c.value("SELECT 1"), "1");
  await c.close();
  assert.equal((await refused(login(mariadbPort, "repl", "bad", { authPlugin: "client_ed25519" }))).errno, 1045);
  // mysql2 against the MySQL flavour: caching_sha2_password end to end.
  const conn = await createConnection({ host: "127.0.0.1", port: mysqlPort, user: "repl", password: USERS.repl });
  const [rows] = await conn.query("SELECT @@server_id AS id");
  assert.equal(Number((rows as Array<{ id: number }>)[0]!.id), 5001);
  await conn.end();
});

test("what a MariaDB 10.11 replica asks before its dump is answered", async () => {
  const c = await login();
  try {
    const now = Math.floor(Date.now() / 1000);
    const ts = Number(await c.value("SELECT UNIX_TIMESTAMP()"));
    assert.ok(Math.abs(ts - now) <= 2);
    assert.deepEqual(await c.query("SHOW VARIABLES LIKE 'SERVER_ID'"), { columns: ["Variable_name", "Value"], rows: [["server_id", "4001"]] });
    assert.equal(await c.query("SET @master_heartbeat_period= 15000000000"), undefined);
    assert.equal(await c.query("SET @master_binlog_checksum= @@global.binlog_checksum"), undefined);
    assert.deepEqual(await c.query("SELECT @master_binlog_checksum"), { columns: ["@master_binlog_checksum"], rows: [["CRC32"]] });
    await c.query("SET @mariadb_slave_capability=4");
    assert.deepEqual(await c.query("SELECT @@GLOBAL.gtid_domain_id"), { columns: ["@@GLOBAL.gtid_domain_id"], rows: [["7"]] });
    await c.query("SET @slave_connect_state='0-1-2'");
    await c.query("SET @slave_gtid_strict_mode=1");
    await c.query("SET @slave_gtid_ignore_duplicates=0");
    await c.query("SET skip_replication=1");
    assert.equal(await c.value("SELECT @@skip_replication"), "1");
    // User variables are remembered as set, per connection; unset ones are NULL.
    assert.deepEqual((await c.query("SELECT @slave_connect_state, @master_heartbeat_period AS hb, @never_set"))!.rows, [["0-1-2", "15000000000", null]]);
    assert.equal(await c.value("SELECT @@global.gtid_binlog_pos"), "0-1-2,2-1-1");
    assert.equal(await c.value("SELECT @@gtid_binlog_state"), "0-1-2,2-1-1");
    assert.equal(await c.value("SELECT @@version"), "10.11.19-MariaDB-log");
    assert.equal(await c.value("SELECT @@global.rpl_semi_sync_master_enabled"), "1");
    // MySQL-only variables are unknown here, as on a real MariaDB: 1193.
    for (const sql of ["SELECT @@GLOBAL.SERVER_UUID", "SELECT @@global.rpl_semi_sync_source_enabled", "SELECT @@GLOBAL.GTID_MODE"]) {
      const error = await refused(c.query(sql));
      assert.equal(error.errno, 1193);
    }
    // SHOW VARIABLES lists, sorted, with ON/OFF for booleans.
    const gtid = await c.query("SHOW GLOBAL VARIABLES LIKE 'gtid\\_%'");
    assert.deepEqual(gtid!.rows.map((r) => r[0]), ["gtid_binlog_pos", "gtid_binlog_state", "gtid_current_pos", "gtid_domain_id", "gtid_slave_pos", "gtid_strict_mode"]);
    assert.deepEqual((await c.query("SHOW VARIABLES WHERE Variable_name = 'log_bin'"))!.rows, [["log_bin", "ON"]]);
    assert.deepEqual(await c.query("SHOW MASTER STATUS"), { columns: ["File", "Position", "Binlog_Do_DB", "Binlog_Ignore_DB"], rows: [["mariadb-bin.000001", String((await mariadb.feed.files())[0]!.size), "", ""]] });
    assert.equal((await c.query("SHOW BINARY LOGS"))!.rows.length, 1);
  } finally {
    await c.close();
  }
});

test("what a MySQL 8 replica asks before its dump is answered", async () => {
  const c = await login(mysqlPort);
  try {
    assert.equal(await c.value("SELECT @@GLOBAL.SERVER_ID"), "5001");
    await c.query("SET @master_heartbeat_period = 30000001024, @source_heartbeat_period = 30000001024");
    await c.query("SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum");
    assert.equal(await c.value("SELECT @source_binlog_checksum"), "CRC32");
    assert.equal(await c.value("SELECT @@GLOBAL.GTID_MODE"), "ON");
    assert.equal(await c.value("SELECT @@GLOBAL.SERVER_UUID"), "11111111-2222-3333-4444-555555555555");
    await c.query("SET @slave_uuid = 'aaaaaaaa-0000-0000-0000-000000000001', @replica_uuid = 'aaaaaaaa-0000-0000-0000-000000000001'");
    assert.equal(await c.value("SELECT @@global.rpl_semi_sync_source_enabled"), "1");
    assert.equal(await c.value("SELECT @@GLOBAL.gtid_executed"), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77");
    assert.equal(await c.value("SELECT @@GLOBAL.gtid_purged"), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10");
    assert.deepEqual((await c.query("SHOW VARIABLES LIKE 'SERVER_UUID'"))!.rows, [["server_uuid", "11111111-2222-3333-4444-555555555555"]]);
    // MariaDB-only variables are unknown in MySQL mode.
    assert.equal((await refused(c.query("SELECT @@gtid_domain_id"))).errno, 1193);
  } finally {
    await c.close();
  }
});

test("errors keep the connection usable: 1193, 1064, 1235, 1047, 1229", async () => {
  const c = await login();
  try {
    let error = await refused(c.query("SELECT @@no_such_variable"));
    assert.equal(error.errno, 1193);
    assert.match(error.message, /Unknown system variable 'no_such_variable'/);
    assert.equal((await refused(c.query("SET no_such_variable = 1"))).errno, 1193);
    assert.equal((await refused(c.query("SET SESSION server_id = 3"))).errno, 1229);
    assert.equal((await refused(c.query("SET GLOBAL wait_timeout = 3"))).errno, 1227);
    error = await refused(c.query("SELEKT 1"));
    assert.equal(error.errno, 1064);
    assert.equal(error.sqlState, "42000");
    error = await refused(c.query("SELECT * FROM mysql.user"));
    assert.equal(error.errno, 1235);
    assert.match(error.message, /binlog server/);
    // Unknown commands: 1047, and the connection goes on.
    for (const command of [0x16 /* COM_STMT_PREPARE */, Command.FIELD_LIST, 0x99]) {
      await c.command(Buffer.of(command, 0x41));
      const reply = await c.read();
      assert.ok(isErrPacket(reply));
      assert.deepEqual(decodeErr(reply), { errno: 1047, sqlState: "08S01", message: "Unknown command" });
    }
    // COM_BINLOG_DUMP_GTID does not exist in MariaDB.
    await c.command(Buffer.of(Command.BINLOG_DUMP_GTID, 0, 0));
    assert.equal(decodeErr(await c.read()).errno, 1047);
    // Session variables: set, read back, reset with DEFAULT.
    await c.query("SET SESSION wait_timeout = 5, autocommit = OFF");
    assert.deepEqual((await c.query("SELECT @@wait_timeout, @@autocommit, @@global.wait_timeout"))!.rows, [["5", "0", "28800"]]);
    await c.query("SET wait_timeout = DEFAULT");
    assert.equal(await c.value("SELECT @@wait_timeout"), "28800");
    // COM_PING, COM_INIT_DB.
    await c.command(Buffer.of(Command.PING));
    assert.equal((await c.read())[0], 0);
    await c.command(Buffer.concat([Buffer.of(Command.INIT_DB), Buffer.from("somedb")]));
    assert.equal((await c.read())[0], 0);
    assert.equal(await c.value("SELECT DATABASE()"), "somedb");
    assert.equal(await c.value("SELECT 1"), "1");
  } finally {
    await c.close();
  }
});

test("result sets for clients without DEPRECATE_EOF use EOF packets", async () => {
  const c = await login(mariadbPort, "repl", USERS.repl, { capabilities: DEFAULT_CLIENT_CAPABILITIES & ~Capability.DEPRECATE_EOF });
  try {
    assert.equal(c.capabilities & Capability.DEPRECATE_EOF, 0);
    assert.deepEqual(await c.query("SELECT 1 AS a, 'x' AS b"), { columns: ["a", "b"], rows: [["1", "x"]] });
    assert.deepEqual(await c.query("SELECT 1 LIMIT 0"), { columns: ["1"], rows: [] });
  } finally {
    await c.close();
  }
});

test("mysql2 talks to it: login, queries, user variables, errors", async () => {
  const conn = await createConnection({ host: "127.0.0.1", port: mysqlPort, user: "repl", password: USERS.repl });
  try {
    const [rows] = await conn.query("SELECT @@server_id AS id, @@version AS v");
    assert.deepEqual(JSON.parse(JSON.stringify(rows)), [{ id: 5001, v: "8.0.40-kingbus" }]);
    await conn.query("SET @x = 'hello'");
    const [x] = await conn.query("SELECT @x AS x");
    assert.deepEqual(JSON.parse(JSON.stringify(x)), [{ x: "hello" }]);
    await assert.rejects(conn.query("SELECT @@nope"), (e: { errno?: number }) => e.errno === 1193);
    await conn.ping();
  } finally {
    await conn.end();
  }
  await assert.rejects(createConnection({ host: "127.0.0.1", port: mariadbPort, user: "repl", password: "nope" }), (e: { errno?: number }) => e.errno === 1045);
});

/** A raw socket: handshake, then whatever bytes the test wants. */
async function rawSocket(port: number): Promise<{ send: (payload: Buffer, seq: number) => void; next: () => Promise<Buffer>; close: () => void }> {
  const socket = connect(port, "127.0.0.1");
  const parser = new PacketParser();
  const queue: Buffer[] = [];
  const waiters: Array<(b: Buffer) => void> = [];
  socket.on("data", (chunk) => {
    parser.push(chunk);
    for (let r = parser.next(); r; r = parser.next()) {
      const w = waiters.shift();
      if (w) w(r.payload);
      else queue.push(r.payload);
    }
  });
  socket.on("error", () => undefined);
  return {
    send: (payload, seq) => {
      for (const chunk of framePayload(payload, seq).chunks) socket.write(chunk);
    },
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))),
    close: () => socket.destroy(),
  };
}

test("a command with a wrong sequence id gets ERR 1156 and the connection is closed", async () => {
  const c = await login();
  c.packets.resetSequence();
  c.packets.sequenceId = 3;
  await c.packets.write(Buffer.concat([Buffer.of(Command.QUERY), Buffer.from("SELECT 1")]));
  c.packets.sequenceId = 1;
  const reply = await c.read();
  assert.equal(decodeErr(reply).errno, 1156);
  await c.packets.closed;
});

test("a garbled handshake response gets ERR 1043; an SSL request is refused clearly", async () => {
  const raw = await rawSocket(mariadbPort);
  await raw.next();
  raw.send(Buffer.from([1, 2, 3]), 1);
  const error = decodeErr(await raw.next());
  assert.equal(error.errno, 1043);
  raw.close();

  const ssl = await rawSocket(mariadbPort);
  await ssl.next();
  const request = Buffer.alloc(32);
  request.writeUInt32LE(Capability.SSL | Capability.PROTOCOL_41, 0);
  ssl.send(request, 1);
  assert.match(decodeErr(await ssl.next()).message, /does not offer TLS/);
  ssl.close();
});

test("too many connections: ERR 1040 at connect; close() ends every connection, dumps included", async () => {
  const feed = mariadbFeed();
  const server = new BinlogServer({ flavor: "mariadb", serverId: 4002, users: USERS, maxConnections: 2 }, feed);
  const { port } = await server.listen("127.0.0.1", 0);
  const a = await login(port);
  const b = await login(port);
  assert.equal(server.connectionCount, 2);
  const error = await refused(login(port));
  assert.equal(error.errno, 1040);
  // b runs a blocking dump that waits at the end of the binlog.
  await b.query("SET @master_binlog_checksum='CRC32', @mariadb_slave_capability=4, @slave_connect_state=''");
  await b.command(encodeBinlogDump("", 4, 0, 77));
  assert.equal((await b.read())[5], 4, "the fake rotate arrives");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(server.connections().map((x) => x.dumpServerId).sort(), [77, undefined].sort());
  await server.close();
  assert.equal(server.connectionCount, 0);
  await a.packets.closed;
  await b.packets.closed;
});

test("a malformed COM_BINLOG_DUMP_GTID gets ERR 1835; a client that never answers the handshake is dropped", async () => {
  const c = await login(mysqlPort);
  try {
    await c.command(Buffer.of(Command.BINLOG_DUMP_GTID, 0, 0, 1));
    const error = decodeErr(await c.read());
    assert.equal(error.errno, 1835);
    assert.match(error.message, /Malformed communication packet/);
    // As MySQL does after any COM_BINLOG_DUMP_GTID, the connection then ends.
    await c.packets.closed;
  } finally {
    await c.close();
  }

  const server = new BinlogServer({ flavor: "mariadb", serverId: 4003, users: USERS, handshakeTimeoutMs: 100 }, mariadbFeed());
  const { port } = await server.listen("127.0.0.1", 0);
  try {
    const raw = await rawSocket(port);
    await raw.next();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (server.connectionCount === 0) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    raw.close();
  } finally {
    await server.close();
  }
});

test("SHOW SLAVE HOSTS / SHOW REPLICAS list registered replicas; KILL ends a dump, refuses an unknown id, ends its own connection", async () => {
  const server = new BinlogServer({ flavor: "mysql", serverId: 5002, serverUuid: "11111111-2222-3333-4444-555555555555", users: USERS }, new MemoryBinlogFeed("mysql"));
  const { port } = await server.listen("127.0.0.1", 0);
  try {
    const replica = await login(port);
    await replica.query("SET @replica_uuid = 'aaaaaaaa-0000-0000-0000-000000000007'");
    // COM_REGISTER_SLAVE: server_id 7, host "r7", user "", password "", port 3307, rank 0, master_id 0.
    await replica.command(Buffer.concat([Buffer.of(Command.REGISTER_SLAVE, 7, 0, 0, 0, 2), Buffer.from("r7"), Buffer.of(0, 0, 0xeb, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0)]));
    assert.equal((await replica.read())[0], 0x00);
    const admin = await login(port);
    assert.deepEqual(await admin.query("SHOW SLAVE HOSTS"), { columns: ["Server_id", "Host", "Port", "Master_id", "Slave_UUID"], rows: [["7", "r7", "3307", "5002", "aaaaaaaa-0000-0000-0000-000000000007"]] });
    assert.deepEqual((await admin.query("SHOW REPLICAS"))!.columns, ["Server_Id", "Host", "Port", "Source_Id", "Replica_UUID"]);
    // The replica dumps; KILL <its id> ends it.
    await replica.query("SET @source_binlog_checksum = 'CRC32'");
    const replicaId = server.connections().find((c) => c.replica?.serverId === 7)!.id;
    assert.equal(await admin.query(`KILL ${replicaId}`), undefined);
    await replica.packets.closed;
    assert.deepEqual((await admin.query("SHOW SLAVE HOSTS"))!.rows, []);
    assert.equal((await refused(admin.query("KILL QUERY 999999"))).errno, 1094);
    const own = await admin.value("SELECT CONNECTION_ID()");
    assert.equal(await admin.query(`KILL QUERY ${own}`), undefined);
    assert.equal((await refused(admin.query(`KILL ${own}`))).errno, 1927);
    await admin.packets.closed;
  } finally {
    await server.close();
  }
});
