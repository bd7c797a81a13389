/**
 * `kingbus inspect` as a user runs it, on binlogs a real MariaDB 10.11 wrote: an encrypted binlog
 * is refused by name after the events before the encryption, and --summary of a plain binlog gives
 * the position @@gtid_binlog_pos reports.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import { repoRoot } from "../../test-support/requirements.ts";
import { mariadbSkip, startMariadb, stopAllMariadb } from "../../test-support/mariadb.ts";

const run = promisify(execFile);
const skip = mariadbSkip();
const scratch = mkdtempSync(join(tmpdir(), "kingbus-inspect-real-"));
after(async () => {
  await stopAllMariadb();
  rmSync(scratch, { recursive: true, force: true });
});

async function inspect(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(join(repoRoot, "bin", "kingbus"), ["inspect", ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { status: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { status: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

test("an encrypted MariaDB binlog (encrypt_binlog=ON) is refused by name after the events before START_ENCRYPTION", { skip, timeout: 60_000 }, async () => {
  const keyFile = join(scratch, "keys.txt");
  writeFileSync(keyFile, `1;${randomBytes(32).toString("hex")}\n`);
  const server = await startMariadb({
    name: "encrypted",
    extraArgs: ["--plugin-load-add=file_key_management", `--file-key-management-filename=${keyFile}`, "--encrypt-binlog=ON"],
  });
  await server.query("CREATE DATABASE secret_db");
  await server.query("CREATE TABLE secret_db.t (v VARCHAR(64)) ENGINE=InnoDB");
  await server.query("INSERT INTO secret_db.t VALUES ('plaintext that must not show')");
  await server.flushBinaryLogs({ settle: true });
  const [file] = await server.binlogFiles();
  const r = await inspect(file!);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /at byte \d+: encrypted MariaDB binlog \(START_ENCRYPTION event\)/);
  assert.ok(r.stderr.includes(file!), "the message names the file");
  const printed = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { typeName: string });
  assert.equal(printed[0]?.typeName, "FORMAT_DESCRIPTION", "the unencrypted FDE before the encryption is printed");
  assert.ok(!r.stdout.includes("plaintext that must not show"));
  await server.stop();
});

test("--summary of a real binlog gives the GTID position the server reports", { skip, timeout: 60_000 }, async () => {
  const server = await startMariadb({ name: "summary", serverId: 21, gtidDomainId: 3 });
  await server.query("CREATE DATABASE d");
  await server.query("CREATE TABLE d.t (id INT PRIMARY KEY, b LONGBLOB) ENGINE=InnoDB");
  for (let i = 1; i <= 20; i++) await server.query("INSERT INTO d.t VALUES (?, REPEAT('x', ?))", [i, i * 1000]);
  await server.query("SET SESSION gtid_domain_id = 7");
  await server.query("UPDATE d.t SET b = 'y' WHERE id <= 5");
  const pos = await server.gtidBinlogPos();
  await server.flushBinaryLogs({ settle: true });
  const [first] = await server.binlogFiles();
  const r = await inspect("--summary", first!);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { flavor: string; gtidBinlogPos: string; transactions: { total: number; complete: number }; countsByType: Record<string, number> };
  assert.equal(s.flavor, "mariadb");
  assert.equal(s.gtidBinlogPos, pos);
  assert.equal(s.transactions.total, 23, "CREATE DATABASE, CREATE TABLE, 20 inserts, 1 update");
  assert.equal(s.transactions.complete, 23);
  assert.equal(s.countsByType.MARIADB_GTID, 23);
  await server.stop();
});
