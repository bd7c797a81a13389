/**
 * sysbench's `oltp_write_only` workload against a MariaDB (or MySQL) server, for the ingest
 * benchmark: prepare the tables, then run at full speed (no --rate) for a fixed time with
 * `--report-interval=1`, each interval line parsed into a per-second series (stamped with this
 * process's monotonic clock when it arrived, so it lines up with other probes) and the final
 * summary parsed (transactions, tps, latency).
 *
 * sysbench is the Debian package `sysbench`. ensureSysbench() installs it when it is missing and
 * this process runs as root, the way scripts/ensure-debs.sh installs the test packages (dpkg-query
 * to check, apt-get update then apt-get install --no-install-recommends); otherwise it throws a
 * message naming the package.
 */
import { execFileSync, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { progress } from "./report.ts";

export const SYSBENCH_PACKAGE = "sysbench";

/** Where a server is: a unix socket, or a host and port. The database must exist. */
export interface SysbenchTarget {
  socket?: string;
  host?: string;
  port?: number;
  /** Default root. */
  user?: string;
  /** Default empty. */
  password?: string;
  database: string;
}

export interface SysbenchInfo {
  path: string;
  /** e.g. "sysbench 1.0.20" */
  version: string;
}

function debInstalled(pkg: string): boolean {
  try {
    return execFileSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).includes("install ok installed");
  } catch {
    return false;
  }
}

function findSysbench(): string | undefined {
  try {
    return execFileSync("sh", ["-c", "command -v sysbench"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The sysbench binary and its version. Installs the Debian package when it is missing and this
 * process runs as root; otherwise throws a message naming the package.
 */
export function ensureSysbench(): SysbenchInfo {
  // The package is looked up with dpkg-query, as scripts/ensure-debs.sh does; a sysbench on PATH
  // from elsewhere (built from source) is used as it is.
  let path = findSysbench();
  if (path === undefined && !debInstalled(SYSBENCH_PACKAGE)) {
    if (process.getuid?.() !== 0) {
      throw new Error(`sysbench is not installed: install the Debian package ${SYSBENCH_PACKAGE} as root (apt-get install ${SYSBENCH_PACKAGE})`);
    }
    progress(`installing the Debian package ${SYSBENCH_PACKAGE}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("sh", ["-c", `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${SYSBENCH_PACKAGE} >/dev/null`], { stdio: ["ignore", "ignore", "inherit"], env });
    path = findSysbench();
  }
  if (path === undefined) throw new Error(`the Debian package ${SYSBENCH_PACKAGE} is installed but no sysbench binary is on PATH`);
  const version = execFileSync(path, ["--version"], { encoding: "utf8" }).trim();
  return { path, version };
}

function connectionArgs(t: SysbenchTarget): string[] {
  const args = ["--db-driver=mysql", `--mysql-user=${t.user ?? "root"}`, `--mysql-password=${t.password ?? ""}`, `--mysql-db=${t.database}`];
  if (t.socket !== undefined) args.push(`--mysql-socket=${t.socket}`);
  else {
    if (t.host === undefined || t.port === undefined) throw new Error("sysbench target: give a socket, or a host and a port");
    args.push(`--mysql-host=${t.host}`, `--mysql-port=${t.port}`);
  }
  return args;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runSysbench(binary: string, args: string[], onLine?: (line: string) => void): { done: Promise<Exit>; pid: number | undefined } {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    stdout += chunk;
    if (onLine === undefined) return;
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) onLine(l);
  });
  child.stderr!.on("data", (chunk: string) => {
    stderr += chunk;
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 20));
  });
  const done = new Promise<Exit>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (partial !== "" && onLine !== undefined) onLine(partial);
      resolve({ code, signal, stdout, stderr });
    });
  });
  // An interrupted benchmark must not leave sysbench hammering a server it is about to kill.
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  void done.finally(() => process.off("exit", kill)).catch(() => undefined);
  return { done, pid: child.pid };
}

function failure(what: string, exit: Exit): Error {
  const tail = `${exit.stdout}\n${exit.stderr}`.trim().split("\n").slice(-25).join("\n");
  return new Error(`sysbench ${what} failed (code ${exit.code}, signal ${exit.signal}):\n${tail}`);
}

export interface PrepareOptions {
  tables: number;
  tableSize: number;
  /** Threads that create tables in parallel (at most one per table). Default min(tables, 4). */
  threads?: number;
}

/** `sysbench oltp_write_only prepare`: creates and fills sbtest1..N. Returns the seconds it took. */
export async function sysbenchPrepare(binary: string, target: SysbenchTarget, o: PrepareOptions): Promise<number> {
  const began = performance.now();
  const threads = Math.max(1, Math.min(o.tables, o.threads ?? 4));
  progress(`sysbench prepare: ${o.tables} tables of ${o.tableSize} rows (${threads} threads)`);
  const args = ["oltp_write_only", ...connectionArgs(target), `--tables=${o.tables}`, `--table-size=${o.tableSize}`, `--threads=${threads}`, "prepare"];
  const exit = await runSysbench(binary, args).done;
  if (exit.code !== 0) throw failure("prepare", exit);
  const seconds = (performance.now() - began) / 1000;
  progress(`sysbench prepare done in ${seconds.toFixed(1)} s`);
  return seconds;
}

/** One `--report-interval` line. */
export interface SysbenchInterval {
  /** sysbench's own clock: the end of this interval, seconds since the run started. */
  second: number;
  /** When the line reached this process (performance.now(), ms). */
  atMs: number;
  threads: number;
  tps: number;
  qps: number;
  readsPerSecond: number;
  writesPerSecond: number;
  otherPerSecond: number;
  /** The latency percentile sysbench was asked for (--percentile), ms, over this interval. */
  latencyMs: number;
  latencyPercentile: number;
  errorsPerSecond: number;
  reconnectsPerSecond: number;
}

/**
 * Parses "[ 1s ] thds: 16 tps: 1079.72 qps: 6504.27 (r/w/o: 0.00/4335.86/2168.42)
 * lat (ms,95%): 24.38 err/s: 0.00 reconn/s: 0.00"; undefined for any other line.
 */
export function parseIntervalLine(line: string, atMs = 0): SysbenchInterval | undefined {
  const m =
    /^\[\s*(\d+(?:\.\d+)?)s\s*\]\s+thds:\s*(\d+)\s+tps:\s*([\d.]+)\s+qps:\s*([\d.]+)\s+\(r\/w\/o:\s*([\d.]+)\/([\d.]+)\/([\d.]+)\)\s+lat\s+\(ms,(\d+(?:\.\d+)?)%\):\s*([\d.]+)\s+err\/s:?\s*([\d.]+)\s+reconn\/s:?\s*([\d.]+)/.exec(
      line.trim(),
    );
  if (!m) return undefined;
  const n = (i: number): number => Number(m[i]);
  return {
    second: n(1),
    atMs,
    threads: n(2),
    tps: n(3),
    qps: n(4),
    readsPerSecond: n(5),
    writesPerSecond: n(6),
    otherPerSecond: n(7),
    latencyPercentile: n(8),
    latencyMs: n(9),
    errorsPerSecond: n(10),
    reconnectsPerSecond: n(11),
  };
}

/** The final summary sysbench prints when a run ends. */
export interface SysbenchSummary {
  transactions: number;
  tps: number;
  queries: number;
  qps: number;
  ignoredErrors: number;
  reconnects: number;
  /** "total time", seconds. */
  totalSeconds: number;
  events: number;
  latencyMs: { min: number; avg: number; max: number; percentile: number; p: number };
}

/** Parses the summary block of sysbench 1.0's output; throws when a figure is missing. */
export function parseSummary(text: string): SysbenchSummary {
  const get = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(text);
    if (!m) throw new Error(`sysbench output has no ${what}`);
    return m;
  };
  const tx = get(/^\s*transactions:\s+(\d+)\s+\(([\d.]+) per sec\.\)/m, "transactions line");
  const q = get(/^\s*queries:\s+(\d+)\s+\(([\d.]+) per sec\.\)/m, "queries line");
  const ign = get(/^\s*ignored errors:\s+(\d+)/m, "ignored errors line");
  const rec = get(/^\s*reconnects:\s+(\d+)/m, "reconnects line");
  const total = get(/^\s*total time:\s+([\d.]+)s/m, "total time");
  const events = get(/^\s*total number of events:\s+(\d+)/m, "total number of events");
  const min = get(/^\s*min:\s+([\d.]+)/m, "latency min");
  const avg = get(/^\s*avg:\s+([\d.]+)/m, "latency avg");
  const max = get(/^\s*max:\s+([\d.]+)/m, "latency max");
  const pct = get(/^\s*(\d+(?:\.\d+)?)th percentile:\s+([\d.]+)/m, "latency percentile");
  return {
    transactions: Number(tx[1]),
    tps: Number(tx[2]),
    queries: Number(q[1]),
    qps: Number(q[2]),
    ignoredErrors: Number(ign[1]),
    reconnects: Number(rec[1]),
    totalSeconds: Number(total[1]),
    events: Number(events[1]),
    latencyMs: { min: Number(min[1]), avg: Number(avg[1]), max: Number(max[1]), p: Number(pct[1]), percentile: Number(pct[2]) },
  };
}

export interface RunOptions {
  tables: number;
  tableSize: number;
  threads: number;
  seconds: number;
  /** Default 95. */
  percentile?: number;
  /** More sysbench options, appended last. */
  extraArgs?: string[];
  /** Called with each interval line as it arrives. */
  onInterval?: (i: SysbenchInterval) => void;
  /** A progress line every this many intervals (0: none). Default 10. */
  progressEvery?: number;
  /** Called once the process is spawned, with its pid (to sample its CPU time). */
  onSpawn?: (pid: number | undefined) => void;
}

export interface SysbenchRun {
  command: string[];
  /** performance.now() when sysbench was spawned, and when it exited (ms). */
  startedAtMs: number;
  endedAtMs: number;
  intervals: SysbenchInterval[];
  summary: SysbenchSummary;
}

/** `sysbench oltp_write_only run` at full speed for `seconds`, one report line a second. */
export async function sysbenchRun(binary: string, target: SysbenchTarget, o: RunOptions): Promise<SysbenchRun> {
  const args = [
    "oltp_write_only",
    ...connectionArgs(target),
    `--tables=${o.tables}`,
    `--table-size=${o.tableSize}`,
    `--threads=${o.threads}`,
    `--time=${o.seconds}`,
    "--events=0",
    "--rate=0",
    "--report-interval=1",
    `--percentile=${o.percentile ?? 95}`,
    ...(o.extraArgs ?? []),
    "run",
  ];
  const every = o.progressEvery ?? 10;
  const intervals: SysbenchInterval[] = [];
  progress(`sysbench run: oltp_write_only, ${o.threads} threads, ${o.seconds} s, ${o.tables} tables of ${o.tableSize} rows`);
  const startedAtMs = performance.now();
  const { done, pid } = runSysbench(binary, args, (line) => {
    const i = parseIntervalLine(line, performance.now());
    if (i === undefined) return;
    intervals.push(i);
    o.onInterval?.(i);
    if (every > 0 && intervals.length % every === 0) {
      const recent = intervals.slice(-every);
      const tps = recent.reduce((a, r) => a + r.tps, 0) / recent.length;
      progress(`  sysbench ${i.second.toFixed(0)} s: ${tps.toFixed(0)} tps (mean of the last ${every} s), p${i.latencyPercentile} ${i.latencyMs.toFixed(1)} ms${i.errorsPerSecond > 0 ? `, ${i.errorsPerSecond} err/s` : ""}`);
    }
  });
  o.onSpawn?.(pid);
  const exit = await done;
  const endedAtMs = performance.now();
  if (exit.code !== 0) throw failure("run", exit);
  const summary = parseSummary(exit.stdout);
  progress(`sysbench done: ${summary.transactions} transactions, ${summary.tps.toFixed(1)} tps, p${summary.latencyMs.p} ${summary.latencyMs.percentile} ms, ${summary.ignoredErrors} ignored errors`);
  return { command: [binary, ...args], startedAtMs, endedAtMs, intervals, summary };
}
