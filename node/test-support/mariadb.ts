/**
 * Throwaway MariaDB servers for tests that check kingbus against the real thing.
 *
 * Each server gets its own data directory (copied from a template that mariadb-install-db builds
 * once per process), a free port on 127.0.0.1, a unix socket in its data directory, and a binlog
 * configured the way kingbus expects a primary to be: ROW format, CRC32 checksums, GTID strict
 * mode, log_slave_updates, annotate-rows events.
 *
 * How a test file uses it:
 *
 *   import { after, test } from "node:test";
 *   import { mariadbSkip, startMariadb, stopAllMariadb } from "../test-support/mariadb.ts";
 *
 *   const skip = mariadbSkip();
 *   after(stopAllMariadb);            // kills whatever a failed test left running
 *   test("…", { skip }, async () => {
 *     await using server = await startMariadb({ serverId: 11 });   // or: try { … } finally { await server.stop() }
 *     await server.query("CREATE DATABASE d");
 *   });
 *
 * `after(stopAllMariadb)` matters: an open client connection keeps the test process alive, so a
 * forgotten server would hang the file until the runner's timeout. Servers are also killed (and
 * their directories removed) on process exit, SIGINT and SIGTERM, so an interrupted run leaves no
 * mariadbd behind; a run that was SIGKILLed is cleaned up by the next process that starts a server.
 * Set KINGBUS_KEEP_TMP=1 to keep the data directories (binlogs, error log) for a post-mortem.
 */
import { execFile, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { performance } from "node:perf_hooks";
import { createConnection } from "mysql2/promise";
import type { Connection, ConnectionOptions, QueryResult, RowDataPacket } from "mysql2/promise";
import { KingbusError } from "../src/errors.ts";
import { executable, repoRoot } from "./requirements.ts";
import type { Requirement } from "./requirements.ts";
import { freePort } from "./ports.ts";

/** The server did not come up: the message ends with its error log. */
export class MariadbStartError extends KingbusError {
  readonly log: string;

  constructor(message: string, log: string, options?: { cause?: unknown }) {
    super("MARIADB_START", `${message}\n--- mariadbd error log ---\n${log.trimEnd()}`, options);
    this.log = log;
  }
}

/** A throwaway server was used wrongly (e.g. queried after stop()). */
export class MariadbStateError extends KingbusError {
  constructor(message: string) {
    super("MARIADB_STATE", message);
  }
}

export interface StartMariadbOptions {
  /** Default: a number unique within this process (1001, 1002, …), never one asked for explicitly. */
  serverId?: number;
  /** Default 0. */
  gtidDomainId?: number;
  /** Default CRC32. */
  binlogChecksum?: "CRC32" | "NONE";
  /** More mariadbd options, appended last so they override ours. */
  extraArgs?: string[];
  /** Part of the data directory's name, to tell servers apart when KINGBUS_KEEP_TMP=1. */
  name?: string;
  /** How long start-up may take before it counts as failed. Default 30 s. */
  startTimeoutMs?: number;
}

export interface MariadbServer extends AsyncDisposable {
  readonly host: "127.0.0.1";
  readonly port: number;
  readonly socket: string;
  readonly dataDir: string;
  readonly serverId: number;
  readonly gtidDomainId: number;
  /** Milliseconds the last start (or restart) took, from spawn to "ready for connections". */
  readonly startupMs: number;
  /** True between a successful start and stop()/kill() (or an unexpected exit). */
  readonly running: boolean;
  /** A new connection as root (no password, multipleStatements on); the caller closes it. */
  connect(options?: ConnectionOptions): Promise<Connection>;
  /** Runs one query on a shared connection opened on first use; returns the rows (or result). */
  query<T extends QueryResult = RowDataPacket[]>(sql: string, params?: unknown[]): Promise<T>;
  /** Absolute paths of the binlog files, oldest first, as SHOW BINARY LOGS lists them. */
  binlogFiles(): Promise<string[]>;
  /**
   * FLUSH BINARY LOGS. The new file gets one more event (a Binlog_checkpoint naming itself) up to
   * a second later, once InnoDB's periodic log flush reports back, and a clean shutdown waits for
   * that too. With `settle: true` this waits for that event, so the new file no longer changes
   * until the next write.
   */
  flushBinaryLogs(options?: { settle?: boolean }): Promise<void>;
  /** @@gtid_binlog_pos, e.g. "0-1-12,3-1-4" (empty string when nothing was logged yet). */
  gtidBinlogPos(): Promise<string>;
  /** Everything mariadbd wrote to stderr since it was first started (tail, at most 1 MiB). */
  errorLog(): string;
  /** Clean shutdown (SIGTERM, SIGKILL after a timeout), then the data directory is removed. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash; the data directory stays, so restart() recovers from it. */
  kill(): Promise<void>;
  /** Clean shutdown if running, then start again on the same data directory and port. */
  restart(): Promise<void>;
}

const execFileAsync = promisify(execFile);
const HOST = "127.0.0.1";
const SUN_PATH_MAX = 107; // sockaddr_un.sun_path is 108 bytes including the terminating NUL
const LOG_TAIL_MAX = 1 << 20;
const STOP_TIMEOUT_MS = 20_000;
const PORT_ATTEMPTS = 5;
const SOCKET_NAME = "mariadbd.sock";
const KEPT_LOG = "mariadbd.err";
const keepTmp = process.env.KINGBUS_KEEP_TMP === "1";

/** Why tests that need a server should skip (undefined when mariadbd can run). Throws in CI. */
export function mariadbSkip(): Requirement {
  return executable("mariadbd", "mariadb-server").skip ?? executable("mariadb-install-db", "mariadb-server").skip;
}

// InnoDB sized for many small servers on a 2-core machine; the template is built with the same
// redo log size so the copied files need no resizing at start.
const SMALL_SERVER_ARGS = [
  "--innodb-buffer-pool-size=32M",
  "--innodb-log-file-size=8M",
  "--innodb-temp-data-file-path=ibtmp1:4M:autoextend",
  "--innodb-doublewrite=0",
  // io_uring is often blocked by container seccomp profiles; tests gain nothing from native AIO.
  "--innodb-use-native-aio=0",
  "--key-buffer-size=8M",
  "--aria-pagecache-buffer-size=8M",
];

function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

let tmpBase: string | undefined;
/** Where data directories go: the repo's .tmp/ unless socket paths there would be too long. */
function baseDir(): string {
  if (tmpBase !== undefined) return tmpBase;
  // Longest socket path we create: <base>/<pid>-<name ≤ 24>-<n>/mariadbd.sock
  const worstCase = (base: string) => Buffer.byteLength(join(base, `${"9".repeat(10)}-${"x".repeat(24)}-9999`, SOCKET_NAME));
  const candidates = [join(repoRoot, ".tmp", "mariadb"), join(tmpdir(), "kingbus-mariadb"), "/tmp/kingbus-mariadb"];
  tmpBase = candidates.find((c) => worstCase(c) <= SUN_PATH_MAX) ?? candidates[candidates.length - 1]!;
  return tmpBase;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Directories are named after the process that owns them; when that process is gone (it was
 * SIGKILLed, so its exit handler never ran) its mariadbd may still be running: kill it if its
 * command line names that directory, then remove the directory.
 */
function removeOrphans(base: string): void {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = /^(?:template-)?(\d+)(?:-|$)/.exec(entry);
    if (!owner || Number(owner[1]) === process.pid || pidAlive(Number(owner[1]))) continue;
    const dir = join(base, entry);
    // Kept on purpose (KINGBUS_KEEP_TMP=1): the error log is written only then.
    if (existsSync(join(dir, KEPT_LOG))) continue;
    try {
      const serverPid = Number(readFileSync(join(dir, "mariadbd.pid"), "utf8").trim());
      const cmdline = readFileSync(`/proc/${serverPid}/cmdline`, "utf8");
      if (cmdline.includes(dir)) process.kill(serverPid, "SIGKILL");
    } catch {
      // no pid file or no such process: nothing left running
    }
    if (!keepTmp) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

let template: Promise<string> | undefined;
/** mariadb-install-db runs once per process; every server starts from a copy of its output. */
function templateDir(): Promise<string> {
  template ??= (async () => {
    const base = baseDir();
    await mkdir(base, { recursive: true });
    removeOrphans(base);
    const dir = join(base, `template-${process.pid}`);
    // A private tmpdir: a starting mariadbd deletes every #sql* file in its tmpdir, so bootstraps
    // running at once in a shared /tmp remove each other's temporary tables and fail.
    const scratch = `${dir}-tmp`;
    await rm(dir, { recursive: true, force: true });
    await mkdir(scratch, { recursive: true });
    const installDb = executable("mariadb-install-db", "mariadb-server");
    if (installDb.skip) throw new MariadbStartError(installDb.skip, "");
    const args = [
      "--no-defaults",
      `--datadir=${dir}`,
      `--tmpdir=${scratch}`,
      ...(runningAsRoot() ? ["--user=root"] : []),
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      ...SMALL_SERVER_ARGS,
    ];
    try {
      await execFileAsync(installDb.path, args, { encoding: "utf8", timeout: 60_000, maxBuffer: 8 << 20, killSignal: "SIGKILL" });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      const { stdout = "", stderr = "" } = err as { stdout?: string; stderr?: string };
      throw new MariadbStartError(`mariadb-install-db failed: ${(err as Error).message.split("\n")[0]}`, `${stdout}${stderr}`, { cause: err });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    return dir;
  })();
  // A failed build is retried by the next start rather than cached.
  template.catch(() => (template = undefined));
  return template;
}

const live = new Set<Server>();
const usedServerIds = new Set<number>();
let nextServerId = 1001;
let serial = 0;

function uniqueServerId(): number {
  while (usedServerIds.has(nextServerId)) nextServerId++;
  return nextServerId++;
}

class PortInUse extends Error {}

class Server implements MariadbServer {
  readonly host = HOST;
  port: number;
  readonly socket: string;
  readonly dataDir: string;
  readonly serverId: number;
  readonly gtidDomainId: number;
  startupMs = 0;
  readonly #checksum: "CRC32" | "NONE";
  readonly #extraArgs: string[];
  readonly #startTimeoutMs: number;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #log = "";
  #shared: Promise<Connection> | undefined;
  readonly #inFlight = new Set<(e: Error) => void>();
  #removed = false;

  constructor(dataDir: string, port: number, options: StartMariadbOptions, serverId: number) {
    this.dataDir = dataDir;
    this.socket = join(dataDir, SOCKET_NAME);
    this.port = port;
    this.serverId = serverId;
    this.gtidDomainId = options.gtidDomainId ?? 0;
    this.#checksum = options.binlogChecksum ?? "CRC32";
    this.#extraArgs = options.extraArgs ?? [];
    this.#startTimeoutMs = options.startTimeoutMs ?? 30_000;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  errorLog(): string {
    return this.#log;
  }

  #appendLog(text: string): void {
    this.#log += text;
    if (this.#log.length > LOG_TAIL_MAX) this.#log = this.#log.slice(-LOG_TAIL_MAX);
  }

  #args(): string[] {
    return [
      "--no-defaults",
      `--datadir=${this.dataDir}`,
      ...(runningAsRoot() ? ["--user=root"] : []),
      `--bind-address=${HOST}`,
      `--port=${this.port}`,
      `--socket=${this.socket}`,
      `--pid-file=${join(this.dataDir, "mariadbd.pid")}`,
      `--tmpdir=${this.dataDir}`,
      `--server-id=${this.serverId}`,
      `--gtid-domain-id=${this.gtidDomainId}`,
      `--log-bin=${join(this.dataDir, "mariadb-bin")}`,
      "--binlog-format=ROW",
      `--binlog-checksum=${this.#checksum}`,
      "--binlog-annotate-row-events=ON",
      "--log-slave-updates",
      "--gtid-strict-mode=ON",
      "--skip-name-resolve",
      "--performance-schema=OFF",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_general_ci",
      // TIMESTAMP values in the binlog then do not depend on the machine's time zone.
      "--default-time-zone=+00:00",
      "--max-allowed-packet=64M",
      "--max-connections=64",
      "--innodb-flush-log-at-trx-commit=2",
      ...SMALL_SERVER_ARGS,
      ...this.#extraArgs,
    ];
  }

  /** Spawns mariadbd and waits for "ready for connections"; throws PortInUse or MariadbStartError. */
  async launch(): Promise<void> {
    const mariadbd = executable("mariadbd", "mariadb-server");
    if (mariadbd.skip) throw new MariadbStartError(mariadbd.skip, "");
    const began = performance.now();
    const child = spawn(mariadbd.path, this.#args(), { stdio: ["ignore", "ignore", "pipe"] });
    this.#child = child;
    // Only the shared connection and callers' own connections should keep a test process alive;
    // a forgotten server is killed by the exit handler instead.
    child.unref();
    const stderr = child.stderr!;
    (stderr as unknown as { unref?: () => void }).unref?.();
    stderr.setEncoding("utf8");
    stderr.on("data", (chunk: string) => this.#appendLog(chunk));
    // 'error' without 'close' happens when the binary cannot be spawned at all.
    this.#exited = new Promise((resolve) => {
      child.once("close", () => resolve());
      child.once("error", () => child.pid === undefined && resolve());
    });

    let launchLog = "";
    await new Promise<void>((resolve, reject) => {
      const finish = (err?: Error) => {
        clearTimeout(timer);
        stderr.off("data", onData);
        child.off("close", onExit);
        child.off("error", onError);
        if (err) reject(err);
        else resolve();
      };
      const onData = (chunk: string) => {
        launchLog += chunk;
        if (launchLog.includes("ready for connections")) finish();
      };
      // 'close' rather than 'exit': by then stderr has been read to the end.
      const onExit = (code: number | null, signal: string | null) => {
        if (/Address already in use|Bind on TCP\/IP port/.test(launchLog)) finish(new PortInUse());
        else finish(new MariadbStartError(`mariadbd exited during start-up (code ${code}, signal ${signal})`, launchLog));
      };
      const onError = (err: Error) =>
        finish(new MariadbStartError(`cannot run ${mariadbd.path}: ${err.message}`, launchLog, { cause: err }));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        finish(new MariadbStartError(`mariadbd not ready after ${this.#startTimeoutMs} ms`, launchLog));
      }, this.#startTimeoutMs);
      stderr.on("data", onData);
      child.once("close", onExit);
      child.once("error", onError);
    });
    this.startupMs = performance.now() - began;
  }

  connect(options?: ConnectionOptions): Promise<Connection> {
    if (!this.running) return Promise.reject(new MariadbStateError(`server ${this.serverId} on port ${this.port} is not running`));
    return createConnection({
      host: HOST,
      port: this.port,
      user: "root",
      password: "",
      multipleStatements: true,
      supportBigNumbers: true,
      ...options,
    }).then((conn) => {
      // Killing or stopping the server would otherwise surface as an unhandled 'error' event on an
      // idle connection and crash the test process; queries on it still reject.
      conn.on("error", () => {});
      return conn;
    });
  }

  #sharedConnection(): Promise<Connection> {
    if (!this.#shared) {
      const opening = this.connect();
      this.#shared = opening;
      opening.then(
        (conn) => conn.on("end", () => this.#shared === opening && (this.#shared = undefined)),
        () => this.#shared === opening && (this.#shared = undefined),
      );
    }
    return this.#shared;
  }

  async query<T extends QueryResult = RowDataPacket[]>(sql: string, params?: unknown[]): Promise<T> {
    const conn = await this.#sharedConnection();
    // mysql2 never settles a query whose connection is destroyed: stop(), kill() and restart()
    // fail the queries in flight on the shared connection instead of leaving them hanging.
    let abandon!: (e: Error) => void;
    const abandoned = new Promise<never>((_, reject) => (abandon = reject));
    this.#inFlight.add(abandon);
    try {
      const [rows] = await Promise.race([conn.query<T>(sql, params), abandoned]);
      return rows;
    } finally {
      this.#inFlight.delete(abandon);
    }
  }

  async binlogFiles(): Promise<string[]> {
    const rows = await this.query("SHOW BINARY LOGS");
    return rows.map((row) => join(this.dataDir, String(row.Log_name)));
  }

  async flushBinaryLogs(options: { settle?: boolean } = {}): Promise<void> {
    await this.query("FLUSH BINARY LOGS");
    if (!options.settle) return;
    const rows = await this.query("SHOW MASTER STATUS");
    const file = String(rows[0]?.File);
    for (const deadline = performance.now() + 10_000; performance.now() < deadline; ) {
      const events = await this.query("SHOW BINLOG EVENTS IN ?", [file]);
      if (events.some((e) => e.Event_type === "Binlog_checkpoint" && e.Info === file)) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new MariadbStateError(`${file} got no Binlog_checkpoint event of its own within 10 s`);
  }

  async gtidBinlogPos(): Promise<string> {
    const rows = await this.query("SELECT @@GLOBAL.gtid_binlog_pos AS pos");
    return String(rows[0]?.pos ?? "");
  }

  async #dropShared(): Promise<void> {
    const shared = this.#shared;
    this.#shared = undefined;
    for (const abandon of this.#inFlight) abandon(new MariadbStateError(`server ${this.serverId} was stopped while the query ran`));
    this.#inFlight.clear();
    if (shared) (await shared.catch(() => undefined))?.destroy();
  }

  /** Signals the process and waits for it to exit, escalating to SIGKILL after the timeout. */
  async #halt(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    await this.#dropShared();
    const child = this.#child;
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      await this.#exited;
      return;
    }
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS)));
    if (await Promise.race([this.#exited.then(() => false), timedOut])) {
      child.kill("SIGKILL");
      await this.#exited;
    }
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    await this.#halt("SIGTERM");
    await this.#remove();
  }

  async kill(): Promise<void> {
    await this.#halt("SIGKILL");
  }

  async restart(): Promise<void> {
    if (this.#removed) throw new MariadbStateError(`server ${this.serverId} was stopped and its data directory removed`);
    await this.#halt("SIGTERM");
    try {
      await this.launch();
    } catch (err) {
      if (err instanceof PortInUse) {
        throw new MariadbStartError(`port ${this.port} was taken while server ${this.serverId} was down`, this.#log);
      }
      throw err;
    }
  }

  async #remove(): Promise<void> {
    live.delete(this);
    if (this.#removed) return;
    this.#removed = true;
    if (keepTmp) {
      writeFileSync(join(this.dataDir, KEPT_LOG), this.#log);
      return;
    }
    await rm(this.dataDir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** Used by stopAllMariadb: a kill is enough, nobody looks at these servers again. */
  async discard(): Promise<void> {
    await this.#halt("SIGKILL");
    await this.#remove();
  }

  /** Exit-handler path: only synchronous calls work there. */
  discardSync(): void {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    live.delete(this);
    if (this.#removed) return;
    this.#removed = true;
    if (keepTmp) writeFileSync(join(this.dataDir, KEPT_LOG), this.#log);
    else rmSync(this.dataDir, { recursive: true, force: true, maxRetries: 3 });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanupSync = () => {
    for (const server of [...live]) server.discardSync();
    if (template) rmSync(join(baseDir(), `template-${process.pid}`), { recursive: true, force: true });
  };
  process.on("exit", cleanupSync);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      cleanupSync();
      // Someone else (e.g. the test runner) also handles this signal and will exit; otherwise
      // die of it the way we would have without our handler.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Starts a fresh server; see the file comment for cleanup. */
export async function startMariadb(options: StartMariadbOptions = {}): Promise<MariadbServer> {
  installExitHandlers();
  const source = await templateDir();
  const serverId = options.serverId ?? uniqueServerId();
  usedServerIds.add(serverId);
  const name = (options.name ?? "server").toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 24);
  const dataDir = join(baseDir(), `${process.pid}-${name}-${++serial}`);
  for (let attempt = 1; ; attempt++) {
    await rm(dataDir, { recursive: true, force: true });
    await cp(source, dataDir, { recursive: true });
    const server = new Server(dataDir, await freePort(), options, serverId);
    live.add(server);
    try {
      await server.launch();
      return server;
    } catch (err) {
      // Another process can grab the port between our probe and mariadbd's bind: try another.
      if (err instanceof PortInUse && attempt < PORT_ATTEMPTS) {
        live.delete(server);
        await server.kill();
        continue;
      }
      await server.discard();
      if (err instanceof PortInUse) throw new MariadbStartError(`no free port after ${attempt} attempts`, server.errorLog());
      throw err;
    }
  }
}

/** Kills every server this process started and removes their data directories. */
export async function stopAllMariadb(): Promise<void> {
  await Promise.all([...live].map((server) => server.discard()));
}
