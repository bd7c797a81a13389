/**
 * PrimaryConnection over a scripted stand-in for mysql2's connection: the MySQL path (inspection
 * with unknown variables, session variables, COM_REGISTER_SLAVE, COM_BINLOG_DUMP_GTID on the wire,
 * sequence ids, errors) without a MySQL server, plus the checks of inspection results and options.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "node:net";
import { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";
import { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";
import { connectPrimary, PrimaryConnection } from "./connection.ts";
import type { CoreCommand, CoreConnection, CorePacket, MysqlDriverError } from "./core.ts";
import { BinlogDumpError, PrimaryDisconnectedError, PrimaryOptionsError, PrimaryRefusedError, PrimaryStateError } from "./errors.ts";
import { checkPrimary, primaryProblems, readGlobalVariables } from "./inspect.ts";
import type { MysqlPrimaryInfo, PrimaryInfo } from "./inspect.ts";
import { encodeBinlogDumpGtid, encodeRegisterSlave, framePayload } from "./packets.ts";

const UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const EXECUTED = `${UUID}:1-100,\nffffffff-0000-1111-2222-333333333333:1-7`;

/** A MySQL 8.0.40 primary without the _source_ semi-sync variable (old plugin loaded). */
const MYSQL_VARIABLES: Record<string, string | number> = {
  server_id: 11,
  log_bin: 1,
  binlog_format: "ROW",
  binlog_checksum: "CRC32",
  server_uuid: UUID,
  gtid_mode: "ON",
  enforce_gtid_consistency: "ON",
  gtid_executed: EXECUTED,
  gtid_purged: `${UUID}:1-10`,
  rpl_semi_sync_master_enabled: 1,
};

function driverError(errno: number, message: string): MysqlDriverError {
  return Object.assign(new Error(message), { errno, sqlMessage: message, sqlState: "HY000" });
}

class FakeMysql implements CoreConnection {
  sequenceId = 0;
  readonly stream = new Socket();
  readonly queries: string[] = [];
  readonly written: Buffer[] = [];
  readonly commands: CoreCommand[] = [];
  variables: Record<string, string | number>;
  failOn: RegExp | undefined;

  constructor(variables: Record<string, string | number>) {
    this.variables = variables;
  }

  addCommand(command: CoreCommand): unknown {
    this.commands.push(command);
    command.execute(undefined, this);
    return command;
  }
  write(bytes: Buffer): void {
    this.written.push(bytes);
  }
  pause(): void {}
  resume(): void {}
  escape(value: unknown): string {
    return `'${String(value).replaceAll("'", "''")}'`;
  }
  on(): unknown {
    return this;
  }
  end(): void {}

  query(sql: string, callback: (error: MysqlDriverError | null, rows: unknown) => void): unknown {
    this.queries.push(sql);
    setImmediate(() => {
      if (this.failOn?.test(sql)) return callback(driverError(1227, "Access denied; you need the SUPER privilege"), undefined);
      if (sql.startsWith("SELECT VERSION()")) return callback(null, [{ version: "8.0.40", comment: "MySQL Community Server - GPL" }]);
      if (sql.startsWith("SET ")) return callback(null, { affectedRows: 0 });
      const row: Record<string, unknown> = {};
      for (const [, name, alias] of sql.matchAll(/@@GLOBAL\.(\w+) AS (\w+)/g)) {
        if (!(name! in this.variables)) return callback(driverError(1193, `Unknown system variable '${name}'`), undefined);
        row[alias!] = this.variables[name!];
      }
      callback(null, [row]);
    });
    return undefined;
  }

  /** Hands a reply packet to the running (last added) command. */
  reply(payload: Buffer, sequenceId: number): boolean {
    const buffer = Buffer.concat([Buffer.alloc(4), payload]);
    const packet: CorePacket = { sequenceId, numPackets: 1, buffer, start: 0, offset: 4, end: buffer.length };
    return this.commands.at(-1)!.execute(packet, this);
  }
}

async function mysqlConnection(variables = MYSQL_VARIABLES, options: { semiSync?: boolean; serverUuid?: string } = {}) {
  const raw = new FakeMysql({ ...variables });
  const conn = new PrimaryConnection(raw, { host: "primary", user: "u", password: "p", serverId: 99, heartbeatPeriodMs: 1500, ...options });
  await conn.inspect();
  return { raw, conn };
}

test("MySQL inspection: flavour, identity, GTID sets, and semi-sync through the _master_ name when _source_ is unknown (1193)", async () => {
  const { conn, raw } = await mysqlConnection();
  const info = conn.info as MysqlPrimaryInfo;
  assert.equal(info.flavor, "mysql");
  assert.equal(info.serverId, 11);
  assert.equal(info.serverUuid, UUID);
  assert.equal(info.logBin, true);
  assert.equal(info.gtidMode, "ON");
  assert.ok(info.executed.equals(MysqlGtidSet.parse(EXECUTED)));
  assert.equal(info.purged.toString(), `${UUID}:1-10`);
  assert.deepEqual(info.semiSync, { available: true, enabled: true });
  // One SELECT for all; on 1193, one each.
  assert.equal(raw.queries.length, 2 + 10 + 1);
  assert.equal(checkPrimary(info), info);
});

test("MySQL dump: session variables, COM_REGISTER_SLAVE, then COM_BINLOG_DUMP_GTID with the executed set", async () => {
  const { conn, raw } = await mysqlConnection(MYSQL_VARIABLES, { semiSync: true, serverUuid: "00000000-0000-0000-0000-0000000000aa" });
  raw.queries.length = 0;
  const executed = MysqlGtidSet.parse(`${UUID}:1-50`);
  const dumping = conn.dump({ flavor: "mysql", executed });
  while (raw.commands.length === 0) await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(raw.queries, [
    "SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum",
    "SET @master_heartbeat_period = 1500000000, @source_heartbeat_period = 1500000000",
    "SET @slave_uuid = '00000000-0000-0000-0000-0000000000aa', @replica_uuid = '00000000-0000-0000-0000-0000000000aa'",
    "SET @rpl_semi_sync_slave = 1",
    "SET @rpl_semi_sync_replica = 1",
  ]);
  assert.deepEqual(raw.written[0], framePayload(encodeRegisterSlave({ serverId: 99, reportHost: "", reportUser: "", reportPassword: "", reportPort: 0 }), 0).bytes);
  assert.equal(raw.sequenceId, 1, "the reply to a new command carries id 1");
  assert.equal(raw.reply(Buffer.from([0, 0, 0, 2, 0, 0, 0]), 1), true);
  const stream = await dumping;
  assert.deepEqual(raw.written[1], framePayload(encodeBinlogDumpGtid({ flags: 0, serverId: 99, fileName: "", position: 4n, executed }), 0).bytes);
  assert.equal(stream.semiSync, true);

  // Events with the semi-sync header; after one that wants an ack the primary numbers from 1 again.
  const event = Buffer.alloc(31);
  event.writeUInt32LE(31, 9);
  event[4] = 16;
  assert.equal(raw.reply(Buffer.concat([Buffer.from([0, 0xef, 0]), event]), 1), false);
  assert.equal(raw.sequenceId, 2);
  assert.equal(raw.reply(Buffer.concat([Buffer.from([0, 0xef, 1]), event]), 2), false);
  assert.equal(raw.sequenceId, 1);
  const first = await stream.next();
  const second = await stream.next();
  assert.deepEqual([first.value?.ackRequested, second.value?.ackRequested], [false, true]);

  // 1236 ends it with the server's errno and message.
  const message = "Cannot replicate because the source purged required binary logs.";
  assert.equal(raw.reply(Buffer.concat([Buffer.from([0xff, 0xd4, 0x04]), Buffer.from("#HY000"), Buffer.from(message)]), 1), true);
  await assert.rejects(stream.next(), (error: unknown) => {
    assert.ok(error instanceof BinlogDumpError);
    assert.deepEqual([error.errno, error.sqlState, error.serverMessage], [1236, "HY000", message]);
    return true;
  });
  assert.ok(raw.stream.destroyed, "the connection is destroyed with the dump");
  await assert.rejects(conn.dump({ flavor: "mysql", executed }), PrimaryStateError);
});

test("a lost connection during the dump ends it with PrimaryDisconnectedError", async () => {
  const { conn, raw } = await mysqlConnection();
  const dumping = conn.dump({ flavor: "mysql", executed: MysqlGtidSet.empty() });
  while (raw.commands.length === 0) await new Promise((resolve) => setImmediate(resolve));
  raw.reply(Buffer.from([0, 0, 0, 2, 0, 0, 0]), 1);
  const stream = await dumping;
  raw.commands.at(-1)!.onResult!(Object.assign(new Error("Connection lost: The server closed the connection."), { code: "PROTOCOL_CONNECTION_LOST" }));
  await assert.rejects(stream.next(), (error: unknown) => error instanceof PrimaryDisconnectedError && /PROTOCOL_CONNECTION_LOST/.test(error.message));
});

test("the dump start must match the primary's flavour; semi-sync without a plugin is refused; a failing SET is reported", async () => {
  const { conn } = await mysqlConnection();
  await assert.rejects(conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() }), /MySQL primary needs a MySQL GTID set/);

  const noPlugin = { ...MYSQL_VARIABLES };
  delete noPlugin.rpl_semi_sync_master_enabled;
  const { conn: plain } = await mysqlConnection(noPlugin, { semiSync: true });
  assert.deepEqual(plain.info.semiSync, { available: false, enabled: false });
  await assert.rejects(plain.dump({ flavor: "mysql", executed: MysqlGtidSet.empty() }), (error: unknown) => {
    assert.ok(error instanceof PrimaryRefusedError);
    assert.match(error.message, /INSTALL PLUGIN rpl_semi_sync_source/);
    return true;
  });

  const { conn: denied, raw } = await mysqlConnection();
  raw.failOn = /@master_heartbeat_period/;
  await assert.rejects(denied.dump({ flavor: "mysql", executed: MysqlGtidSet.empty() }), (error: unknown) => (error as { errno?: number }).errno === 1227);
});

function info(overrides: Partial<MysqlPrimaryInfo> = {}): PrimaryInfo {
  return {
    flavor: "mysql",
    version: "8.0.40",
    versionComment: "",
    serverId: 1,
    logBin: true,
    binlogFormat: "ROW",
    binlogChecksum: "CRC32",
    semiSync: { available: false, enabled: false },
    serverUuid: UUID,
    gtidMode: "ON",
    enforceGtidConsistency: "ON",
    executed: MysqlGtidSet.empty(),
    purged: MysqlGtidSet.empty(),
    ...overrides,
  };
}

test("checkPrimary names every setting to change, each with its fix", () => {
  assert.deepEqual(primaryProblems(info()), []);
  assert.deepEqual(primaryProblems(info({ gtidMode: "OFF_PERMISSIVE" })).map((p) => p.message), [
    "gtid_mode is OFF_PERMISSIVE: set gtid_mode=ON and enforce_gtid_consistency=ON (MySQL)",
  ]);
  assert.deepEqual(primaryProblems(info({ binlogChecksum: "XXHASH" })).map((p) => p.message), ["binlog_checksum is XXHASH: use CRC32 or NONE"]);
  assert.deepEqual(primaryProblems(info({ binlogChecksum: "NONE" })), []);
  assert.throws(
    () => checkPrimary(info({ logBin: false, binlogFormat: "STATEMENT", gtidMode: "OFF" }), { semiSync: true }),
    (error: unknown) => {
      assert.ok(error instanceof PrimaryRefusedError);
      assert.deepEqual(error.problems.map((p) => p.setting), ["log_bin", "binlog_format", "gtid_mode", "rpl_semi_sync"]);
      assert.equal(
        error.message,
        "cannot replicate from this primary: log_bin is OFF: start the primary with --log-bin; binlog_format is STATEMENT: set binlog_format=ROW on the primary; " +
          "gtid_mode is OFF: set gtid_mode=ON and enforce_gtid_consistency=ON (MySQL); semi-sync was asked for but the primary cannot do it: " +
          "INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so' on the primary, or turn semiSync off",
      );
      return true;
    },
  );
});

test("readGlobalVariables: unknown variables read as null, other errors propagate", async () => {
  const raw = new FakeMysql({ a: "1", b: "x" });
  const conn = new PrimaryConnection(raw, { host: "h", user: "u", password: "", serverId: 1 });
  const values = await readGlobalVariables((sql) => conn.query(sql), ["a", "nope", "b"]);
  assert.deepEqual([...values], [["a", "1"], ["nope", null], ["b", "x"]]);
  raw.failOn = /@@GLOBAL/;
  await assert.rejects(readGlobalVariables((sql) => conn.query(sql), ["a"]), (error: unknown) => (error as { errno?: number }).errno === 1227);
});

test("connectPrimary refuses options it cannot use before connecting", async () => {
  const base = { host: "127.0.0.1", user: "u", password: "", serverId: 5 };
  for (const [options, pattern] of [
    [{ ...base, serverId: 0 }, /serverId must be an integer in 1..4294967295, got 0/],
    [{ ...base, serverId: 2 ** 32 }, /serverId/],
    [{ ...base, port: 70000 }, /port/],
    [{ ...base, heartbeatPeriodMs: -1 }, /heartbeatPeriodMs/],
    [{ ...base, serverUuid: "not-a-uuid" }, /serverUuid must be a UUID/],
    [{ ...base, host: "" }, /host is required/],
  ] as const) {
    await assert.rejects(connectPrimary(options), (error: unknown) => error instanceof PrimaryOptionsError && error.code === "PRIMARY_OPTIONS" && pattern.test(error.message));
  }
});
