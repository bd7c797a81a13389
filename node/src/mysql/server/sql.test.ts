import assert from "node:assert/strict";
import { test } from "node:test";
import { SqlError } from "../wire/errors.ts";
import { likeToRegExp, parseStatement, tokenize } from "./sql.ts";

test("what a MariaDB 10.11 replica sends before its dump parses", () => {
  assert.deepEqual(parseStatement("SELECT UNIX_TIMESTAMP()"), {
    kind: "select",
    items: [{ expr: { k: "func", name: "UNIX_TIMESTAMP" }, name: "UNIX_TIMESTAMP()" }],
    limit: undefined,
    offset: 0,
  });
  assert.deepEqual(parseStatement("SHOW VARIABLES LIKE 'SERVER_ID'"), { kind: "showVariables", scope: undefined, like: "SERVER_ID", name: undefined });
  assert.deepEqual(parseStatement("SET @master_heartbeat_period= 30000000000"), {
    kind: "set",
    assignments: [{ target: { k: "userVar", name: "master_heartbeat_period" }, value: { k: "number", text: "30000000000" } }],
  });
  assert.deepEqual(parseStatement("SET @master_binlog_checksum= @@global.binlog_checksum"), {
    kind: "set",
    assignments: [{ target: { k: "userVar", name: "master_binlog_checksum" }, value: { k: "sysVar", scope: "global", name: "binlog_checksum" } }],
  });
  assert.deepEqual(parseStatement("SELECT @master_binlog_checksum").kind, "select");
  assert.deepEqual(parseStatement("SET @mariadb_slave_capability=4").kind, "set");
  assert.deepEqual(parseStatement("SELECT @@GLOBAL.gtid_domain_id"), {
    kind: "select",
    items: [{ expr: { k: "sysVar", scope: "global", name: "gtid_domain_id" }, name: "@@GLOBAL.gtid_domain_id" }],
    limit: undefined,
    offset: 0,
  });
  assert.deepEqual(parseStatement("SET @slave_connect_state='0-1-5,1-2-7'"), {
    kind: "set",
    assignments: [{ target: { k: "userVar", name: "slave_connect_state" }, value: { k: "string", value: "0-1-5,1-2-7" } }],
  });
  assert.equal(parseStatement("SET @slave_gtid_strict_mode=1").kind, "set");
  assert.equal(parseStatement("SET @slave_gtid_ignore_duplicates=0").kind, "set");
  assert.deepEqual(parseStatement("SET skip_replication=1"), {
    kind: "set",
    assignments: [{ target: { k: "sysVar", scope: undefined, name: "skip_replication" }, value: { k: "number", text: "1" } }],
  });
  assert.equal(parseStatement("SET @rpl_semi_sync_slave= 1").kind, "set");
});

test("what a MySQL 8 replica, mariadb-binlog and the mariadb client send parses", () => {
  assert.deepEqual(parseStatement("SET @master_heartbeat_period = 30000001024, @source_heartbeat_period = 30000001024"), {
    kind: "set",
    assignments: [
      { target: { k: "userVar", name: "master_heartbeat_period" }, value: { k: "number", text: "30000001024" } },
      { target: { k: "userVar", name: "source_heartbeat_period" }, value: { k: "number", text: "30000001024" } },
    ],
  });
  assert.equal(parseStatement("SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum").kind, "set");
  assert.equal(parseStatement("SELECT @@GLOBAL.SERVER_ID").kind, "select");
  assert.equal(parseStatement("SELECT @@GLOBAL.GTID_MODE").kind, "select");
  assert.equal(parseStatement("SET @slave_uuid = '5a8f...-x', @replica_uuid = '5a8f...-x'").kind, "set");
  assert.equal(parseStatement("SELECT @@global.rpl_semi_sync_source_enabled").kind, "select");
  assert.equal(parseStatement("SELECT VERSION()").kind, "select");
  assert.equal(parseStatement("SET @master_binlog_checksum='NONE'").kind, "set");
  assert.deepEqual(parseStatement("select @@version_comment limit 1"), {
    kind: "select",
    items: [{ expr: { k: "sysVar", scope: undefined, name: "version_comment" }, name: "@@version_comment" }],
    limit: 1,
    offset: 0,
  });
  assert.deepEqual(parseStatement("SET NAMES utf8mb4 COLLATE utf8mb4_general_ci"), { kind: "set", assignments: [{ names: "utf8mb4" }] });
  assert.deepEqual(parseStatement("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"), { kind: "setTransaction" });
  assert.deepEqual(parseStatement("use `kb db`"), { kind: "use", database: "kb db" });
  assert.deepEqual(parseStatement("SHOW MASTER STATUS"), { kind: "showMasterStatus" });
  assert.deepEqual(parseStatement("show binary log status;"), { kind: "showMasterStatus" });
  assert.deepEqual(parseStatement("SHOW BINARY LOGS"), { kind: "showBinaryLogs" });
  assert.deepEqual(parseStatement("SHOW GLOBAL VARIABLES WHERE Variable_name = 'gtid_mode'"), { kind: "showVariables", scope: "global", like: undefined, name: "gtid_mode" });
});

test("aliases, literals, comments and executable comments", () => {
  const s = parseStatement("/* driver */ SELECT 1 AS one, 'a''b' two, -2.5, NULL, @x AS `x y`, TRUE -- trailing\n");
  assert.equal(s.kind, "select");
  if (s.kind !== "select") return;
  assert.deepEqual(s.items.map((i) => i.name), ["one", "two", "-2.5", "NULL", "x y", "TRUE"]);
  assert.deepEqual(s.items[1]!.expr, { k: "string", value: "a'b" });
  assert.deepEqual(parseStatement("/*!40101 SET NAMES utf8 */"), { kind: "set", assignments: [{ names: "utf8" }] });
  assert.deepEqual(parseStatement("SELECT 1 FROM DUAL LIMIT 0").kind, "select");
  assert.deepEqual(tokenize(`SELECT 'a\\nb', "q\\"x" # comment`).map((t) => t.t), ["ident", "string", "op", "string"]);
});

function errno(sql: string): number {
  try {
    parseStatement(sql);
  } catch (error) {
    assert.ok(error instanceof SqlError);
    return error.errno;
  }
  return 0;
}

test("statements we do not serve are 'unsupported'; broken ones are syntax errors (1064)", () => {
  for (const sql of ["SELECT * FROM mysql.user", "SELECT a FROM t", "SELECT COUNT(*) FROM t", "INSERT INTO t VALUES (1)", "SHOW DATABASES", "SHOW SLAVE STATUS", "KILL USER bob", "SET @a = 1 + 2", "SET @a = (SELECT 1)", "CREATE TABLE t (a INT)", "FLUSH LOGS"]) {
    const s = parseStatement(sql);
    assert.equal(s.kind, "unsupported", sql);
  }
  assert.deepEqual(parseStatement("SHOW SLAVE HOSTS"), { kind: "showReplicas", replicas: false });
  assert.deepEqual(parseStatement("show replicas"), { kind: "showReplicas", replicas: true });
  assert.deepEqual(parseStatement("KILL 12"), { kind: "kill", what: "connection", id: 12 });
  assert.deepEqual(parseStatement("KILL QUERY 7;"), { kind: "kill", what: "query", id: 7 });
  assert.equal(errno("SELEKT 1"), 1064);
  assert.equal(errno("SELECT 'unterminated"), 1064);
  assert.equal(errno(""), 1064);
  assert.equal(errno("SET @a = 1; SET @b = 2"), 1064);
  assert.equal(errno("hello world"), 1064);
  assert.equal(errno("SELECT 1 /* open"), 1064);
});

test("LIKE patterns of SHOW VARIABLES", () => {
  assert.ok(likeToRegExp("SERVER_ID").test("server_id"));
  assert.ok(likeToRegExp("server%").test("server_uuid"));
  assert.ok(likeToRegExp("gtid\\_%").test("gtid_mode"));
  assert.ok(!likeToRegExp("gtid\\_%").test("gtidXmode"));
  assert.ok(likeToRegExp("s_rver_id").test("server_id"));
  assert.ok(!likeToRegExp("server").test("server_id"));
  assert.ok(likeToRegExp("a.b*").test("a.b*"));
  assert.ok(!likeToRegExp("a.b").test("axb"));
});
