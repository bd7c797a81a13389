import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { crc32, gzipSync } from "node:zlib";
import { PassThrough } from "node:stream";
import { repoRoot, sharedDir } from "../../test-support/requirements.ts";
import { inspect } from "./inspect.ts";
import { LineWriter } from "./line-writer.ts";

const run = promisify(execFile);
const { dir: shared, skip } = sharedDir();
const fixtures = skip ? "" : join(shared, "fixtures", "binlog");
const scratch = mkdtempSync(join(tmpdir(), "kingbus-inspect-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the real command; resolves with status, stdout and stderr whatever the status. */
async function kingbus(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(join(repoRoot, "bin", "kingbus"), args, { maxBuffer: 64 * 1024 * 1024 });
    return { status: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { status: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** inspect() in process, capturing its lines. */
async function inspectLines(path: string, summary = false): Promise<{ status: number; lines: Array<Record<string, unknown>>; errors: string[] }> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on("data", (c: Buffer) => chunks.push(c));
  const errors: string[] = [];
  const status = await inspect(path, { summary }, new LineWriter(sink), (l) => errors.push(l));
  const text = Buffer.concat(chunks).toString("utf8");
  return { status, lines: text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), errors };
}

test("every fixture prints one JSON object per event with the required fields", { skip }, async () => {
  const required = ["offset", "type", "typeName", "size", "logPos", "serverId", "timestamp"];
  for (const flavor of ["mysql", "mariadb"]) {
    for (const name of readdirSync(join(fixtures, flavor))) {
      const path = join(fixtures, flavor, name);
      const { status, lines, errors } = await inspectLines(path);
      const bytes = readFileSync(path);
      let offset = 4;
      for (const line of lines) {
        for (const key of required) assert.ok(key in line, `${name}: ${key} missing in ${JSON.stringify(line)}`);
        assert.equal(line.offset, offset, `${name}: events are contiguous`);
        assert.equal(line.size, bytes.readUInt32LE(offset + 9));
        assert.equal(line.type, bytes[offset + 4]);
        offset += line.size as number;
        if (line.typeName === "FORMAT_DESCRIPTION") assert.equal(typeof line.serverVersion, "string");
        if (line.type === 33 || line.type === 162 || line.type === 42) assert.match(String(line.gtid), /^([0-9a-f-]{36}(:[a-z_][a-z0-9_]*)?:\d+|\d+-\d+-\d+)$/);
      }
      if (status === 0) assert.equal(offset, bytes.length, `${name}: listed to the end`);
      else {
        assert.equal(status, 2);
        assert.equal(errors.length, 1);
        assert.match(errors[0]!, new RegExp(`${name}: at byte ${offset}: `), "the message names the offset after the last good event");
      }
    }
  }
});

test("checksumOk is true on every event of a CRC32 file and absent without checksums", { skip }, async () => {
  const withCrc = await inspectLines(join(fixtures, "mysql", "json.binlog.000001"));
  assert.ok(withCrc.lines.every((l) => l.checksumOk === true));
  const without = await inspectLines(join(fixtures, "mysql", "binlog_savepoint.000001"));
  assert.ok(without.lines.every((l) => !("checksumOk" in l)));
});

test("GTIDs print in each flavour's text form", { skip }, async () => {
  const mariadb = await inspectLines(join(fixtures, "mariadb", "mariadb-bin.000001"));
  assert.deepEqual(mariadb.lines.filter((l) => l.typeName === "MARIADB_GTID").map((l) => l.gtid), ["0-1-1", "0-1-2"]);
  const mysql = await inspectLines(join(fixtures, "mysql", "binlog_transaction_with_GTID.000001"));
  const gtids = mysql.lines.filter((l) => l.typeName === "GTID").map((l) => String(l.gtid));
  assert.equal(gtids.length, 3);
  assert.deepEqual(gtids.map((g) => g.split(":")[1]), ["1", "2", "3"]);
  const payload = await inspectLines(join(fixtures, "mysql", "transaction_compression.000001"));
  const p = payload.lines.find((l) => l.typeName === "TRANSACTION_PAYLOAD")!;
  assert.equal(p.compression, "zstd");
  const inner = (p.events as Array<{ typeName: string }>).map((e) => e.typeName);
  assert.equal(inner.at(-1), "XID", "the payload's last inner event is the XID that ends the transaction");
});

test("--summary gives the GTID set, counts per type and transactions", { skip }, async () => {
  const { status, lines } = await inspectLines(join(fixtures, "mysql", "binlog_transaction_with_GTID_TAG.000001"), true);
  assert.equal(status, 0);
  assert.equal(lines.length, 1);
  const s = lines[0]!;
  assert.equal(s.flavor, "mysql");
  assert.equal(s.events, 8);
  assert.deepEqual((s.transactions as { total: number }).total, 1);
  assert.equal((s.countsByType as Record<string, number>).GTID_TAGGED, 1);
  assert.match(String(s.gtidSet), /^[0-9a-f-]{36}:mytag:3$/);
  const m = (await inspectLines(join(fixtures, "mariadb", "mariadb-bin.000001"), true)).lines[0]!;
  assert.equal(m.flavor, "mariadb");
  assert.equal(m.gtidBinlogPos, "0-1-2");
});

test("the command: gzip accepted, same output as the plain file", { skip }, async () => {
  const plain = join(fixtures, "mysql", "mysql-enum-string-set.000001");
  const gz = join(scratch, "enum.000001.gz");
  writeFileSync(gz, gzipSync(readFileSync(plain)));
  const a = await kingbus("inspect", plain);
  const b = await kingbus("inspect", gz);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  assert.equal(b.stdout, a.stdout);
  assert.ok(a.stdout.split("\n").filter(Boolean).length > 10);
});

test("the command: a truncated file prints the events before the damage, then exits 2 naming the offset", { skip }, async () => {
  const r = await kingbus("inspect", join(fixtures, "mysql", "binlog_truncated_prev_gtid_event.000001"));
  assert.equal(r.status, 2);
  assert.equal(r.stdout.split("\n").filter(Boolean).length, 1, "the FDE before the damage is printed");
  assert.match(r.stderr, /at byte 120: file ends inside an event header/);
});

test("the command: encrypted binlogs, non-binlogs, empty and missing files are refused by name with status 2", async () => {
  const encrypted = join(scratch, "encrypted.000001");
  writeFileSync(encrypted, Buffer.concat([Buffer.from([0xfd, 0x62, 0x69, 0x6e]), Buffer.alloc(508)]));
  const text = join(scratch, "notes.txt");
  writeFileSync(text, "these are not binlog events\n");
  const empty = join(scratch, "empty.000001");
  writeFileSync(empty, "");
  const badGzip = join(scratch, "bad.gz");
  writeFileSync(badGzip, Buffer.from([0x1f, 0x8b, 0x08, 0, 1, 2, 3]));
  const cases: Array<[string, RegExp]> = [
    [encrypted, /encrypted binlog/],
    [text, /not a binlog: starts with 0x74686573/],
    [empty, /not a binlog: 0 bytes/],
    [join(scratch, "missing.000001"), /ENOENT|no such file/],
    [badGzip, /gzip|not a binlog|unexpected end/i],
  ];
  for (const [path, message] of cases) {
    const r = await kingbus("inspect", path);
    assert.equal(r.status, 2, `${path}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.ok(r.stderr.includes(path), "the message names the file");
  }
});

test("a PREVIOUS_GTIDS body that is damaged under a valid CRC stops the listing and --summary with status 2 at its offset", { skip }, async () => {
  const bytes = Buffer.from(readFileSync(join(fixtures, "mysql", "binlog_transaction_previous_GTID_no_tag.000001")));
  const events = (await inspectLines(join(fixtures, "mysql", "binlog_transaction_previous_GTID_no_tag.000001"))).lines;
  const prev = events.find((l) => l.typeName === "PREVIOUS_GTIDS")!;
  const at = prev.offset as number;
  const size = prev.size as number;
  bytes.writeUInt32LE(0x7fffffff, at + 19); // n_sids far beyond what the body holds
  bytes.writeUInt32LE(crc32(bytes.subarray(at, at + size - 4)), at + size - 4);
  const damaged = join(scratch, "bad-prev-gtids.000001");
  writeFileSync(damaged, bytes);
  for (const args of [["--summary"], []]) {
    const r = await kingbus("inspect", ...args, damaged);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`bad-prev-gtids\\.000001: at byte ${at}: PREVIOUS_GTIDS event: malformed binary GTID set`));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    if (args.length === 0) assert.equal(r.stdout.split("\n").filter(Boolean).length, 1, "only the FDE before it is listed");
  }
});

test("kingbus --help lists the subcommands", async () => {
  const r = await kingbus("--help");
  assert.equal(r.status, 0);
  assert.match(r.stdout, /inspect \[options\] <file>/);
});
