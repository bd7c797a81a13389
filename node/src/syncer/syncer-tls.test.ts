/**
 * The syncer's TLS to the primary, configured through the admin API (PEM in the request, kept in
 * the committed configuration): a primary whose replication user requires SSL is replicated with
 * `mysql_tls: {ca}`, refused without TLS, and refused with a CA its certificate does not chain to.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../test-support/mariadb.ts";
import { executable } from "../../test-support/requirements.ts";
import { stopSyncer, waitForPosition } from "../../test-support/syncer-harness.ts";

const openssl = executable("openssl", "openssl");
const skip = mariadbSkip() ?? openssl.skip;

describe("syncer: TLS to the primary", { skip }, () => {
  let dir: string;
  let primary: MariadbServer;
  let cluster: KingbusCluster;
  let ca: string;
  let otherCa: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "kingbus-syncer-tls-"));
    const certificate = (name: string): string => {
      execFileSync(openssl.path, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, `${name}.key`), "-out", join(dir, `${name}.pem`)], { stdio: "ignore" });
      return readFileSync(join(dir, `${name}.pem`), "utf8");
    };
    ca = certificate("primary");
    otherCa = certificate("other");
    primary = await startMariadb({ name: "syncer-tls", extraArgs: [`--ssl-cert=${join(dir, "primary.pem")}`, `--ssl-key=${join(dir, "primary.key")}`] });
    await primary.query("CREATE USER 'kb_tls'@'%' IDENTIFIED BY 'tls-Pa55' REQUIRE SSL; GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'kb_tls'@'%'");
    await primary.query("CREATE DATABASE kb_tls; CREATE TABLE kb_tls.t (id INT PRIMARY KEY) ENGINE=InnoDB; INSERT INTO kb_tls.t VALUES (1), (2), (3)");
    cluster = await KingbusCluster.create(3);
  });

  after(async () => {
    await cluster?.stop();
    await stopAllMariadb();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const start = async (leader: number, tls: unknown): Promise<void> => {
    const body = { syncer_id: 4003, syncer_uuid: "0b7a3f5e-2d1c-11ef-9a31-0242ac120004", mysql_addr: `127.0.0.1:${primary.port}`, mysql_user: "kb_tls", mysql_password: "tls-Pa55", heartbeat_period: 0.5, mysql_tls: tls };
    const r = await cluster.call<string>(leader, "PUT", "/binlog/syncer/start", JSON.stringify(body));
    assert.equal(r.status, 200, r.message);
  };

  const lastError = async (leader: number, pattern: RegExp): Promise<string> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await cluster.call<{ last_error?: string }>(leader, "GET", "/binlog/syncer/status");
      const e = r.data.last_error ?? "";
      if (pattern.test(e)) return e;
      if (Date.now() > deadline) throw new Error(`no error matching ${pattern}: ${e}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  it("refuses plain TCP and an unknown CA, replicates with the primary's CA", async () => {
    const leader = await cluster.waitForLeader();
    await start(leader, false);
    assert.match(await lastError(leader, /Access denied|1045/), /kb_tls/);
    await stopSyncer(cluster, leader);
    await start(leader, { ca: otherCa });
    await lastError(leader, /certificate|self.signed|verify/i);
    await stopSyncer(cluster, leader);
    await start(leader, { ca });
    await waitForPosition(cluster, cluster.nodes.map((n) => n.id), await primary.gtidBinlogPos());
    // The session really is encrypted: the primary sees kingbus's dump connection over SSL.
    const rows = await primary.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'kb_tls' AND COMMAND LIKE 'Binlog Dump%'");
    assert.equal(Number((rows[0] as { n: number }).n), 1);
    const ssl = await primary.query("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'");
    assert.ok(Number((ssl[0] as { Value: string }).Value) >= 2, "the primary accepted TLS sessions");
    // The PEM went into the committed configuration, the password did not come back out.
    const status = await cluster.call<Record<string, unknown>>(leader, "GET", "/binlog/syncer/status");
    assert.equal(status.data.mysql_password, "******");
  });
});
