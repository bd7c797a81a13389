/**
 * Connecting to real MariaDB 10.11 primaries: refusals that name the setting to change, typed
 * login and network errors, a least-privilege replication user, and TLS with certificate checks.
 * (caching_sha2_password is MySQL-only; mysql2 handles it and nothing here gets in its way.)
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventType } from "../../binlog/event-type.ts";
import { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";
import { mariadbSkip, startMariadb, stopAllMariadb } from "../../../test-support/mariadb.ts";
import { freePort } from "../../../test-support/ports.ts";
import { executable } from "../../../test-support/requirements.ts";
import { PrimaryAuthError, PrimaryConnectError, PrimaryRefusedError } from "./errors.ts";
import { connectPrimary } from "./connection.ts";
import { checkPrimary } from "./inspect.ts";
import { Collector, connectTo } from "./test-helpers.ts";

const skip = mariadbSkip();
after(() => stopAllMariadb());

test("binlog_format STATEMENT or MIXED, and a primary without log-bin, are refused naming the setting", { skip, timeout: 60_000 }, async () => {
  const [rowServer, noBinlog] = await Promise.all([
    startMariadb({ serverId: 71, name: "client-format" }),
    startMariadb({ serverId: 72, name: "client-no-log-bin", extraArgs: ["--skip-log-bin"] }),
  ]);
  for (const format of ["STATEMENT", "MIXED"]) {
    await rowServer.query(`SET GLOBAL binlog_format = '${format}'`);
    const conn = await connectTo(rowServer, { serverId: 7101 });
    assert.equal(conn.info.binlogFormat, format);
    assert.throws(
      () => checkPrimary(conn.info),
      (error: unknown) => {
        assert.ok(error instanceof PrimaryRefusedError);
        assert.equal(error.code, "PRIMARY_REFUSED");
        assert.deepEqual(error.problems.map((p) => [p.setting, p.actual]), [["binlog_format", format]]);
        assert.equal(error.message, `cannot replicate from this primary: binlog_format is ${format}: set binlog_format=ROW on the primary`);
        return true;
      },
    );
    await conn.close();
  }
  await rowServer.query("SET GLOBAL binlog_format = 'ROW'");
  const ok = await connectTo(rowServer, { serverId: 7102 });
  assert.equal(checkPrimary(ok.info), ok.info);
  await ok.close();

  const conn = await connectTo(noBinlog, { serverId: 7103 });
  assert.equal(conn.info.logBin, false);
  assert.throws(() => checkPrimary(conn.info), (error: unknown) => {
    assert.ok(error instanceof PrimaryRefusedError);
    assert.deepEqual(error.problems.map((p) => p.message), ["log_bin is OFF: start the primary with --log-bin"]);
    return true;
  });
  await conn.close();
});

test("a wrong password is a typed auth error carrying the server's message; the right one dumps with REPLICATION SLAVE only", { skip, timeout: 60_000 }, async () => {
  const server = await startMariadb({ serverId: 73, name: "client-auth" });
  await server.query("CREATE USER 'kb_repl'@'%' IDENTIFIED BY 'right-secret'");
  await server.query("GRANT REPLICATION SLAVE ON *.* TO 'kb_repl'@'%'");

  await assert.rejects(connectTo(server, { user: "kb_repl", password: "wrong-secret" }), (error: unknown) => {
    assert.ok(error instanceof PrimaryAuthError, String(error));
    assert.equal(error.code, "PRIMARY_AUTH");
    assert.equal(error.errno, 1045);
    assert.equal(error.sqlState, "28000");
    assert.equal(error.serverMessage, "Access denied for user 'kb_repl'@'127.0.0.1' (using password: YES)");
    assert.match(error.message, /error 1045\).*Access denied for user 'kb_repl'/);
    return true;
  });

  const conn = await connectTo(server, { user: "kb_repl", password: "right-secret", serverId: 7301 });
  checkPrimary(conn.info);
  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() });
  const collector = new Collector(stream);
  await collector.until((e) => e.bytes[4] === EventType.FORMAT_DESCRIPTION, 10_000, "the FDE");
  await stream.close();
  assert.equal(collector.error, undefined);
});

test("nothing listening is a typed connect error", { timeout: 30_000 }, async () => {
  const port = await freePort();
  await assert.rejects(connectPrimary({ host: "127.0.0.1", port, user: "root", password: "", serverId: 1 }), (error: unknown) => {
    assert.ok(error instanceof PrimaryConnectError, String(error));
    assert.equal(error.code, "PRIMARY_CONNECT");
    assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    return true;
  });
});

const openssl = executable("openssl", "openssl");

test("TLS: the session is encrypted and the dump runs over it; the certificate is checked against the CA", { skip: skip ?? openssl.skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "kb-client-tls-"));
  try {
    const certificate = (name: string) => {
      execFileSync(openssl.path, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", `/CN=${name}`,
        "-addext", "subjectAltName=DNS:kingbus-primary.test,IP:127.0.0.1", "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`)], { stdio: "ignore" });
      return readFileSync(join(dir, `${name}.pem`));
    };
    const serverCert = certificate("primary");
    const otherCa = certificate("other");
    const server = await startMariadb({
      serverId: 74,
      name: "client-tls",
      extraArgs: [`--ssl-cert=${join(dir, "primary.pem")}`, `--ssl-key=${join(dir, "primary.key")}`],
    });
    await server.query("CREATE USER 'kb_tls'@'%' IDENTIFIED BY 'tls-secret' REQUIRE SSL");
    await server.query("GRANT REPLICATION SLAVE ON *.* TO 'kb_tls'@'%'");
    const tlsUser = { user: "kb_tls", password: "tls-secret" };

    const conn = await connectTo(server, { ...tlsUser, serverId: 7401, tls: { ca: serverCert }, heartbeatPeriodMs: 200 });
    const [cipher] = await conn.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    assert.match(String(cipher?.Value), /^TLSv1\.[23]$/);
    const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() });
    const collector = new Collector(stream);
    await collector.until((e) => e.heartbeat, 10_000, "a heartbeat over TLS");
    await stream.close();

    // The user requires TLS: without it the server refuses the login.
    await assert.rejects(connectTo(server, { ...tlsUser, serverId: 7402 }), (error: unknown) => {
      assert.ok(error instanceof PrimaryAuthError, String(error));
      assert.equal(error.errno, 1045);
      return true;
    });
    // A certificate that does not chain to the given CA is refused before any login.
    await assert.rejects(connectTo(server, { ...tlsUser, serverId: 7403, tls: { ca: otherCa } }), (error: unknown) => {
      assert.ok(error instanceof PrimaryConnectError, String(error));
      assert.match(error.message, /self[- ]signed|certificate/i);
      return true;
    });
    // By name, the certificate must name the host (it names kingbus-primary.test, not localhost).
    await assert.rejects(connectTo(server, { ...tlsUser, serverId: 7405, host: "localhost", tls: { ca: serverCert } }), (error: unknown) => {
      assert.ok(error instanceof PrimaryConnectError, String(error));
      // (Where localhost resolves to ::1 only, the server bound to 127.0.0.1 refuses instead.)
      assert.match(error.message, /does not match|ECONNREFUSED/);
      return true;
    });
    // rejectUnauthorized: false accepts any certificate, still encrypted.
    const unchecked = await connectTo(server, { ...tlsUser, serverId: 7404, tls: { rejectUnauthorized: false } });
    const [version] = await unchecked.query("SHOW SESSION STATUS LIKE 'Ssl_version'");
    assert.match(String(version?.Value), /^TLSv1/);
    await unchecked.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
