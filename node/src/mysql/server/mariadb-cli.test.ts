/**
 * The real `mariadb` command-line client against BinlogServer: it logs in with the right password,
 * runs queries (in batch mode, and in an interactive session under a pseudo-terminal, where it first
 * sends its own `select @@version_comment limit 1`), and is refused with ERROR 1045 for a wrong
 * password or an unknown user.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { MariadbGtidState } from "../../binlog/gtid-mariadb.ts";
import { executable } from "../../../test-support/requirements.ts";
import { BinlogServer } from "./binlog-server.ts";
import { MariadbFileBuilder, MemoryBinlogFeed } from "./testing/memory-feed.ts";

const cli = executable("mariadb", "mariadb-client");
const skip = cli.skip;

let server: BinlogServer;
let port: number;

before(async () => {
  if (skip) return;
  const feed = new MemoryBinlogFeed("mariadb");
  const file = new MariadbFileBuilder("mariadb-bin.000001");
  file.transaction({ domain: 0, serverId: 1, seq: 1n });
  feed.addFile(file.name, file.events, { gtidList: [] });
  feed.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse("0-1-1") });
  server = new BinlogServer({ flavor: "mariadb", serverId: 4321, users: { repl: "Cli-pass_1", ro: "" } }, feed);
  ({ port } = await server.listen("127.0.0.1", 0));
});

after(() => server?.close());

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cli.path, ["--no-defaults", "-h", "127.0.0.1", "-P", String(port), "--connect-timeout=5", ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test("mariadb logs in with the right password and runs SELECT @@server_id", { skip }, async () => {
  const ok = await run(["-urepl", "-pCli-pass_1", "-N", "-B", "-e", "SELECT @@server_id; SELECT @@gtid_binlog_pos, CURRENT_USER()"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "4321\n0-1-1\trepl@%\n");
  const table = await run(["-urepl", "-pCli-pass_1", "-t", "-e", "SHOW VARIABLES LIKE 'version%'"]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /\| version\s+\| 10\.11\.19-MariaDB-log\s+\|/);
  // An account without a password.
  const empty = await run(["-uro", "-N", "-e", "SELECT 1"]);
  assert.equal(empty.code, 0, empty.stderr);
});

test("mariadb is refused with ERROR 1045 for a wrong password or an unknown user", { skip }, async () => {
  const wrong = await run(["-urepl", "-pnot-it", "-e", "SELECT 1"]);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /ERROR 1045 \(28000\): Access denied for user 'repl'@'127\.0\.0\.1' \(using password: YES\)/);
  const unknown = await run(["-unobody", "-e", "SELECT 1"]);
  assert.match(unknown.stderr, /ERROR 1045 \(28000\): Access denied for user 'nobody'@'127\.0\.0\.1' \(using password: NO\)/);
  // And an error inside a session is reported, not a lost connection.
  const bad = await run(["-urepl", "-pCli-pass_1", "-e", "SELECT @@no_such_thing"]);
  assert.match(bad.stderr, /ERROR 1193 \(HY000\).*Unknown system variable 'no_such_thing'/);
});

const pty = executable("script", "bsdutils");

test("an interactive mariadb session (under a pseudo-terminal) works too", { skip: skip ?? pty.skip }, async () => {
  const command = `${cli.path} --no-defaults -h 127.0.0.1 -P ${port} -urepl -pCli-pass_1`;
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(pty.path, ["-qc", command, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    const timer = setTimeout(() => (child.kill("SIGKILL"), reject(new Error(`no exit; output so far:\n${out}`))), 20_000);
    child.on("close", () => (clearTimeout(timer), resolve(out)));
    child.stdin.end("SELECT @@server_id;\nquit\n");
  });
  assert.match(output, /\|\s+4321 \|/);
  assert.doesNotMatch(output, /ERROR/);
  assert.match(output, /Bye/);
});
