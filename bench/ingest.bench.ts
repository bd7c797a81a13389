/**
 * Ingest (issue 6): can kingbus keep up with a real primary at full speed? sysbench
 * `oltp_write_only` runs flat out for BENCH_INGEST_SECONDS against a real MariaDB 10.11 primary
 * (binlog on, ROW format, sync_binlog=1, innodb_flush_log_at_trx_commit=1); meanwhile a lag probe
 * samples the primary's @@gtid_binlog_pos and every follower's position every 50 ms. Followers, in
 * the same run, fed by the same primary:
 *
 * - a real MariaDB replica attached directly to the primary (bench/lib/mariadb-replica.ts: parallel
 *   apply, durable like the primary): the yardstick;
 * - kingbus, when a StartKingbus function is given (see below): its committed GTID position.
 *
 * Reported: the primary's transactions/s, each follower's lag p50/p99/max while the load runs
 * and its catch-up time once the load stops, kingbus/replica ratios, and a chart of the primary's
 * tps and each follower's lag over time. Goal: kingbus is never the bottleneck, its lag bounded and
 * no higher than the direct replica's.
 *
 * Plugging kingbus in: pass `startKingbus` to runIngestBench() (or set the exported
 * `startKingbus` below, which `make bench-ingest` uses). It gets the running primary (host, port,
 * socket, root without password, server id 1, GTID domain 0, binlog already holding the sbtest
 * schema) before sysbench prepares the tables, and returns a follower whose position() is the
 * MariaDB GTID position kingbus has committed (fsynced on a majority), e.g. "0-1-123456". Its
 * whole binlog flows through kingbus like the replica's does. Without it the benchmark runs with
 * the replica alone and its report says the kingbus column is absent; no kingbus figure is made up.
 *
 * Knobs: BENCH_INGEST_SECONDS (60), BENCH_INGEST_THREADS (sysbench threads, 32: on 2 cores the
 * primary's tps stops growing there, 64 adds a few % for twice the latency),
 * BENCH_INGEST_TABLES (8), BENCH_INGEST_TABLE_SIZE (100000 rows), BENCH_INGEST_PROBE_MS (50),
 * BENCH_INGEST_REPLICA_THREADS (slave_parallel_threads; default the sysbench thread count),
 * BENCH_INGEST_REPLICA_DURABLE (1; 0 for sync_binlog=0 and innodb_flush_log_at_trx_commit=2 on the
 * replica), BENCH_INGEST_QUIET_WAIT (seconds to wait for other processes to leave the CPU alone
 * before the load starts, 60), BENCH_RESULTS_DIR (where the result files go; default
 * bench/results).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import type { Connection, RowDataPacket } from "mysql2/promise";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../node/test-support/mariadb.ts";
import { repoRoot } from "../node/test-support/requirements.ts";
import { catchUpTime, LagProbe, parsePosition, percentileOf, positionRate, reached, roundTrips, summariseLag, type CatchUp, type LagPoint, type LagSummary, type RoundTrips } from "./lib/lag-probe.ts";
import { machineBusySeconds, processCpuSeconds } from "./lib/load.ts";
import { DURABLE_ARGS, FAIR_REPLICA, productionInnodbArgs, serverPid, startReplica, type MariadbReplica, type ReplicaSettings } from "./lib/mariadb-replica.ts";
import { envNumber, machine, markdown, progress, ratio, resultsDir, type BenchResult, type Row } from "./lib/report.ts";
import { timeChart, type TimeSeries } from "./lib/svg-lines.ts";
import { startKingbusFollower } from "./lib/kingbus-follower.ts";
import { ensureSysbench, sysbenchPrepare, sysbenchRun, type SysbenchRun, type SysbenchTarget } from "./lib/sysbench.ts";

/** What the benchmark needs of a running kingbus that follows the primary. */
export interface KingbusFollower {
  /** The MariaDB GTID position kingbus has committed (fsynced on a majority), e.g. "0-1-123456". */
  position(): Promise<string>;
  /** Stops every kingbus process and removes their data. */
  stop(): Promise<void>;
  /** Process ids of the kingbus processes, for CPU accounting. */
  pids?(): number[];
  /** One line for the report: node count, fsync, batching... */
  description?: string;
}

/** Starts kingbus pulling the primary's binlog; resolves once it is connected. */
export type StartKingbus = (primary: MariadbServer) => Promise<KingbusFollower>;

/** The kingbus follower `make bench-ingest` runs: 3 kingbus processes whose syncer pulls the primary. */
export const startKingbus: StartKingbus | undefined = startKingbusFollower;


export interface IngestOptions {
  startKingbus?: StartKingbus;
  seconds?: number;
  threads?: number;
  tables?: number;
  tableSize?: number;
  probeMs?: number;
  replica?: ReplicaSettings;
  /** Where ingest.json, ingest.md and ingest.svg go. Default bench/results. */
  outDir?: string;
}

interface FollowerResult {
  name: string;
  lag: LagSummary;
  catchUp: CatchUp | undefined;
  probe: RoundTrips;
  probeErrors: number;
  firstProbeError: string | undefined;
  finalPosition: string | undefined;
  cores: number;
  /** Transactions/s its position advanced by while the load ran, and from the load's end until it caught up. */
  rateLoaded: number;
  rateCatchUp: number;
}

const PRIMARY_SERVER_ID = 1;
const REPLICA_SERVER_ID = 2;
const DATABASE = "sbtest";

const fixed = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? "n/a" : v.toFixed(digits));

/** Server variables worth recording: the settings the comparison rests on. */
async function settings(server: MariadbServer): Promise<Record<string, string>> {
  const names = [
    "version", "log_bin", "binlog_format", "sync_binlog", "innodb_flush_log_at_trx_commit", "innodb_doublewrite",
    "innodb_buffer_pool_size", "innodb_log_file_size", "innodb_flush_method", "binlog_checksum", "gtid_strict_mode",
    "log_slave_updates", "slave_parallel_threads", "slave_parallel_mode", "read_only", "binlog_commit_wait_count",
  ];
  const rows = await server.query<RowDataPacket[]>(`SELECT ${names.map((n) => `@@GLOBAL.${n} AS ${n}`).join(", ")}`);
  const r = rows[0];
  return Object.fromEntries(names.map((n) => [n, String(r?.[n])]));
}

async function checksums(server: MariadbServer, tables: number): Promise<string> {
  const names = Array.from({ length: tables }, (_, i) => `${DATABASE}.sbtest${i + 1}`);
  const rows = await server.query<RowDataPacket[]>(`CHECKSUM TABLE ${names.join(", ")}`);
  return rows.map((r) => `${String(r.Table)}=${String(r.Checksum)}`).join(",");
}

/** Waits until `read` returns a position at or past `target`; throws after timeoutMs. */
async function waitForPosition(name: string, read: () => Promise<string>, target: string, timeoutMs: number): Promise<number> {
  const began = performance.now();
  const want = parsePosition(target);
  for (;;) {
    const last = await read();
    const have = parsePosition(last);
    if ([...want].every(([d, seq]) => (have.get(d) ?? 0) >= seq)) return performance.now() - began;
    if (performance.now() - began > timeoutMs) throw new Error(`${name} did not reach ${target} within ${timeoutMs} ms (at ${last || "nothing"})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function cpuOf(pids: number[]): number {
  return pids.reduce((a, p) => a + processCpuSeconds(p), 0);
}

/** Cores the rest of the machine (not `pids`, not this process) keeps busy, over `ms`. */
async function otherCores(pids: number[], ms: number): Promise<number> {
  const self0 = process.cpuUsage();
  const m0 = machineBusySeconds();
  const p0 = cpuOf(pids);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const self = process.cpuUsage(self0);
  const seconds = (performance.now() - t0) / 1000;
  return Math.max(0, (machineBusySeconds() - m0 - (cpuOf(pids) - p0) - (self.user + self.system) / 1e6) / seconds);
}

/** Other processes using more than this many cores make the figures unreliable. */
const NOISE_CORES = 0.15;
/** During the load the kernel's own I/O work on behalf of the servers shows as "other" too (0.1-0.2 cores here): a second above this was disturbed. */
const NOISY_SECOND_CORES = 0.5;

/** CPU seconds used so far by each process involved, and by the whole machine. */
interface CpuSnap {
  at: number;
  primary: number;
  replica: number;
  kingbus: number;
  sysbench: number;
  probe: number;
  machine: number;
}

interface CpuShares {
  seconds: number;
  primary: number;
  replica: number;
  kingbus: number;
  sysbench: number;
  probe: number;
  machine: number;
  /** The machine's busy time not accounted for by the processes above. */
  other: number;
}

/** Cores each used between two snapshots (1 = one core busy). */
function cpuShares(a: CpuSnap, b: CpuSnap, withKingbus: boolean): CpuShares {
  const seconds = (b.at - a.at) / 1000;
  const c = (k: Exclude<keyof CpuSnap, "at">): number => (seconds > 0 ? (b[k] - a[k]) / seconds : NaN);
  const shares = { seconds, primary: c("primary"), replica: c("replica"), kingbus: withKingbus ? c("kingbus") : NaN, sysbench: c("sysbench"), probe: c("probe"), machine: c("machine") };
  const accounted = shares.primary + shares.replica + (withKingbus ? shares.kingbus : 0) + shares.sysbench + shares.probe;
  return { ...shares, other: Math.max(0, shares.machine - accounted) };
}

/**
 * Waits (up to `waitSeconds`) until the rest of the machine is quiet, so that the load starts on a
 * machine that is ours; returns what the other processes used over the last check.
 */
async function waitForQuiet(pids: number[], waitSeconds: number): Promise<number> {
  const deadline = performance.now() + waitSeconds * 1000;
  let other = await otherCores(pids, 2000);
  while (other > NOISE_CORES && performance.now() < deadline) {
    progress(`other processes keep ${other.toFixed(2)} cores busy; waiting up to ${waitSeconds} s for a quiet machine`);
    other = await otherCores(pids, 3000);
  }
  if (other > NOISE_CORES) progress(`the machine is still busy (${other.toFixed(2)} cores used by other processes): going ahead, the report says so`);
  return other;
}

/** Writes <name>.json and <name>.md as report.ts's writeResult does, to any folder; an absent figure (NaN) is "—" in the table and null in the JSON. */
function writeResultTo(dir: string, r: BenchResult): void {
  mkdirSync(dir, { recursive: true });
  const rows = r.rows.map((row) => ({ ...row, ratio: Number.isFinite(ratio(row)) ? Number(ratio(row).toFixed(3)) : null }));
  writeFileSync(join(dir, `${r.name}.json`), JSON.stringify({ ...r, rows }, null, 2) + "\n");
  const md = markdown(r)
    .split("\n")
    .map((line) => (line.startsWith("|") ? line.replace(/\| NaN[^|]*(?=\|)/g, "| — ") : line))
    .join("\n");
  writeFileSync(join(dir, `${r.name}.md`), md);
  progress(`wrote ${relative(process.cwd(), join(dir, `${r.name}.json`)) || dir} and .md`);
}

export async function runIngestBench(o: IngestOptions = {}): Promise<BenchResult> {
  const seconds = o.seconds ?? envNumber("BENCH_INGEST_SECONDS", 60);
  const threads = o.threads ?? envNumber("BENCH_INGEST_THREADS", 32);
  const tables = o.tables ?? envNumber("BENCH_INGEST_TABLES", 8);
  const tableSize = o.tableSize ?? envNumber("BENCH_INGEST_TABLE_SIZE", 100_000);
  const probeMs = o.probeMs ?? envNumber("BENCH_INGEST_PROBE_MS", 50);
  const replicaSettings: ReplicaSettings = o.replica ?? {
    ...FAIR_REPLICA,
    // As many appliers as the primary has writing clients: a whole group commit applies at once.
    parallelThreads: envNumber("BENCH_INGEST_REPLICA_THREADS", threads),
    durable: (process.env.BENCH_INGEST_REPLICA_DURABLE ?? "1") !== "0",
  };
  const outDir = o.outDir ?? resultsDir;
  const kingbusHook = o.startKingbus;

  progress(`plan: sysbench oltp_write_only, ${threads} threads, ${seconds} s, ${tables} x ${tableSize} rows; followers: direct MariaDB replica${kingbusHook ? " and kingbus" : " (kingbus not plugged in: its column stays empty)"}; probe every ${probeMs} ms`);
  const skip = mariadbSkip();
  if (skip !== undefined) throw new Error(`${skip} (make debs installs it as root)`);
  const sysbench = ensureSysbench();
  progress(`${sysbench.version} at ${sysbench.path}`);

  const primaryArgs = [...productionInnodbArgs(), ...DURABLE_ARGS];
  progress("starting the primary");
  const primary = await startMariadb({ name: "ingest-primary", serverId: PRIMARY_SERVER_ID, gtidDomainId: 0, extraArgs: primaryArgs });
  let replica: MariadbReplica | undefined;
  let kingbus: KingbusFollower | undefined;
  let primaryProbe: Connection | undefined;
  try {
    await primary.query(`CREATE DATABASE ${DATABASE}`);
    replica = await startReplica({ host: primary.host, port: primary.port }, { name: "ingest-replica", serverId: REPLICA_SERVER_ID, settings: replicaSettings });
    if (kingbusHook) {
      progress("starting kingbus");
      kingbus = await kingbusHook(primary);
    }
    const target: SysbenchTarget = { socket: primary.socket, database: DATABASE };
    const prepareSeconds = await sysbenchPrepare(sysbench.path, target, { tables, tableSize });

    const afterPrepare = await primary.gtidBinlogPos();
    const followers: Record<string, () => Promise<string>> = { replica: () => replica!.position() };
    if (kingbus) followers.kingbus = () => kingbus!.position();
    for (const [name, read] of Object.entries(followers)) {
      const ms = await waitForPosition(name, read, afterPrepare, 30 * 60_000);
      progress(`${name} holds the prepared tables (${afterPrepare}) ${(ms / 1000).toFixed(1)} s after prepare ended`);
    }

    primaryProbe = await primary.connect();
    const conn = primaryProbe;
    const probe = new LagProbe(
      async () => {
        const [rows] = await conn.query<RowDataPacket[]>("SELECT @@GLOBAL.gtid_binlog_pos AS pos");
        return String(rows[0]?.pos ?? "");
      },
      followers,
      probeMs,
    );
    probe.start();
    await new Promise((r) => setTimeout(r, 1000));

    const primaryPid = serverPid(primary);
    const replicaPid = replica.pid();
    const kingbusPids = (): number[] => kingbus?.pids?.() ?? [];
    const ours = (): number[] => [primaryPid, replicaPid, ...kingbusPids()].filter((p): p is number => p !== undefined);
    const quietBefore = await waitForQuiet(ours(), envNumber("BENCH_INGEST_QUIET_WAIT", 60));
    let sysbenchPid: number | undefined;
    // CPU counters of every process involved, read when sysbench starts and at each of its report
    // lines: per-second CPU shares for the chart, and the whole window for the notes.
    const snaps: CpuSnap[] = [];
    const snap = (): void => {
      const self = process.cpuUsage();
      snaps.push({
        at: performance.now(),
        primary: cpuOf(primaryPid === undefined ? [] : [primaryPid]),
        replica: cpuOf(replicaPid === undefined ? [] : [replicaPid]),
        kingbus: cpuOf(kingbusPids()),
        sysbench: cpuOf(sysbenchPid === undefined ? [] : [sysbenchPid]),
        probe: (self.user + self.system) / 1e6,
        machine: machineBusySeconds(),
      });
    };
    const run: SysbenchRun = await sysbenchRun(sysbench.path, target, {
      tables,
      tableSize,
      threads,
      seconds,
      onSpawn: (pid) => {
        sysbenchPid = pid;
        snap();
      },
      // sysbench's /proc entry is gone once it exits: the CPU window ends at its last report line.
      onInterval: snap,
    });
    const loadStart = run.startedAtMs;
    const loadEnd = run.endedAtMs;
    const finalText = await primary.gtidBinlogPos();
    const finalPos = parsePosition(finalText);
    progress(`load stopped; the primary is at ${finalText}; waiting for the followers to catch up`);
    const catchUpTimeoutMs = Math.max(120_000, seconds * 3000);
    await Promise.all(
      [...probe.followers].map(async ([name, sampler]) => {
        const caught = reached(sampler.latest()?.pos ?? new Map(), finalPos) || (await sampler.waitFor(finalPos, catchUpTimeoutMs)) !== undefined;
        const c = catchUpTime(sampler.samples, finalPos, loadEnd);
        progress(caught && c ? `${name} caught up ${(c.ms / 1000).toFixed(2)} s after the load stopped` : `${name} did not catch up within ${catchUpTimeoutMs / 1000} s`);
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    await probe.stop();

    const replicaStatus = await replica.check();
    const [primarySums, replicaSums] = await Promise.all([checksums(primary, tables), checksums(replica.server, tables)]);
    const primarySettings = await settings(primary);
    const replicaServerSettings = await settings(replica.server);

    const usage = cpuShares(snaps[0]!, snaps.at(-1)!, kingbus !== undefined);
    const other = usage.other;
    const perSecond = snaps.slice(1).map((sn, i) => ({ t: (sn.at - loadStart) / 1000, ...cpuShares(snaps[i]!, sn, kingbus !== undefined) }));
    const noisySeconds = perSecond.filter((c) => c.other > NOISY_SECOND_CORES).length;

    const lagOf = new Map<string, LagPoint[]>();
    const results: FollowerResult[] = [];
    for (const [name, sampler] of probe.followers) {
      const points = probe.lag(name);
      lagOf.set(name, points);
      results.push({
        name,
        lag: summariseLag(points, loadStart, loadEnd),
        catchUp: catchUpTime(sampler.samples, finalPos, loadEnd),
        probe: roundTrips(sampler.samples, loadStart, loadEnd),
        probeErrors: sampler.errors,
        firstProbeError: sampler.firstError,
        finalPosition: sampler.latest()?.text,
        cores: name === "replica" ? usage.replica : usage.kingbus,
        rateLoaded: positionRate(sampler.samples, loadStart, loadEnd),
        rateCatchUp: positionRate(sampler.samples, loadEnd, loadEnd + (catchUpTime(sampler.samples, finalPos, loadEnd)?.upperMs ?? 0)),
      });
    }
    const primaryTrips = roundTrips(probe.primary.samples, loadStart, loadEnd);
    const primaryRate = positionRate(probe.primary.samples, loadStart, loadEnd);
    const rep = results.find((r) => r.name === "replica")!;
    const kb = results.find((r) => r.name === "kingbus");
    for (const r of results) {
      progress(`${r.name}: lag p50 ${fixed(r.lag.p50Ms)} ms, p99 ${fixed(r.lag.p99Ms)} ms, max ${fixed(r.lag.maxMs)} ms over ${r.lag.samples} samples; catch-up ${r.catchUp ? `${fixed(r.catchUp.ms)} ms` : "never"}`);
    }

    // The figures.
    const tps = run.summary.tps;
    const tpsSorted = run.intervals.map((i) => i.tps).sort((a, b) => a - b);
    const NA = NaN;
    const catchMs = (r: FollowerResult | undefined): number => (r === undefined ? NA : (r.catchUp?.ms ?? Infinity));
    const rows: Row[] = [
      { measure: `primary transactions/s (sysbench oltp_write_only, ${threads} threads)`, kingbus: kb ? tps : NA, baseline: tps, unit: "tx/s", goal: "same run: one primary feeds both followers (for reference)" },
      { measure: "commit lag p50 while loaded", kingbus: kb?.lag.p50Ms ?? NA, baseline: rep.lag.p50Ms, unit: "ms", goal: "≤ replica (ratio ≤ 1)" },
      { measure: "commit lag p99 while loaded", kingbus: kb?.lag.p99Ms ?? NA, baseline: rep.lag.p99Ms, unit: "ms", goal: "≤ replica (ratio ≤ 1)" },
      { measure: "commit lag max while loaded", kingbus: kb?.lag.maxMs ?? NA, baseline: rep.lag.maxMs, unit: "ms", goal: "bounded, ≤ replica" },
      { measure: "catch-up after the load stops", kingbus: catchMs(kb), baseline: catchMs(rep), unit: "ms", goal: "≤ replica (ratio ≤ 1)" },
    ];

    let goal: string;
    if (kb === undefined) {
      goal = "Kingbus column absent: no kingbus follower was plugged in (runIngestBench's startKingbus). Only the primary and the direct replica were measured; no kingbus figure is shown or estimated.";
    } else {
      const checks = [
        // Bounded: committing at the primary's pace while loaded (a slower follower falls behind for as long as the load lasts).
        { what: "kept pace (≥ 98% of the primary's tx/s while loaded)", ok: kb.rateLoaded >= 0.98 * primaryRate },
        { what: "lag p50", ok: kb.lag.p50Ms <= rep.lag.p50Ms },
        { what: "lag p99", ok: kb.lag.p99Ms <= rep.lag.p99Ms },
        { what: "lag max", ok: kb.lag.maxMs <= rep.lag.maxMs },
        { what: "catch-up", ok: catchMs(kb) <= catchMs(rep) },
      ];
      goal = `Goal (issue 6): kingbus never the bottleneck, its lag bounded and no higher than the direct replica's. Met: ${checks.filter((c) => c.ok).map((c) => c.what).join(", ") || "none"}. Not met: ${checks.filter((c) => !c.ok).map((c) => c.what).join(", ") || "none"}.`;
    }

    const m = machine();
    // The chart: primary tps per second, and each follower's lag, over time since the load started.
    const colors: Record<string, string> = { replica: "#ff7f0e", kingbus: "#1f77b4" };
    const lagSeriesFor = (name: string): TimeSeries => ({
      name: name === "replica" ? "direct replica" : "kingbus",
      color: colors[name] ?? "#2ca02c",
      // From a second before the load (idle, lag 0) to the end of the catch-up.
      points: (lagOf.get(name) ?? []).map((p) => ({ x: (p.atMs - loadStart) / 1000, y: p.lagMs })).filter((p) => p.x >= -1),
    });
    const cpuSeries = (key: "primary" | "replica" | "kingbus" | "sysbench" | "other", name: string, color: string, dashed = false): TimeSeries => ({ name, color, dashed, points: perSecond.map((c) => ({ x: c.t - 0.5, y: c[key] })) });
    const svg = timeChart({
      title: `Ingest: sysbench oltp_write_only, ${threads} threads, sync_binlog=1`,
      xLabel: "seconds since the load started",
      panels: [
        { yLabel: "primary transactions/s", series: [{ name: "primary tps", color: "#2ca02c", points: run.intervals.map((i) => ({ x: (i.atMs - loadStart) / 1000 - 0.5, y: i.tps })) }] },
        // One lag panel per follower, each on its own scale: a lag of milliseconds stays visible beside one of seconds.
        ...[...probe.followers.keys()].map((name) => ({ yLabel: `${lagSeriesFor(name).name} lag, ms`, series: [lagSeriesFor(name)] })),
        {
          yLabel: "CPU, cores",
          yMax: m.cores,
          series: [
            cpuSeries("primary", "primary mariadbd", "#2ca02c"),
            cpuSeries("replica", "replica mariadbd", colors.replica!),
            ...(kingbus ? [cpuSeries("kingbus", "kingbus", colors.kingbus!)] : []),
            cpuSeries("sysbench", "sysbench", "#7f7f7f"),
            cpuSeries("other", "everything else", "#d62728", true),
          ],
        },
      ],
      markers: [{ x: (loadEnd - loadStart) / 1000, label: "load stops" }],
    });
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, "ingest.svg"), svg);

    const followerLine = (r: FollowerResult): string =>
      `${r.name}: lag p50 ${fixed(r.lag.p50Ms)} ms [bounds ${fixed(r.lag.lower.p50Ms)}-${fixed(r.lag.upper.p50Ms)}], p99 ${fixed(r.lag.p99Ms)} ms [${fixed(r.lag.lower.p99Ms)}-${fixed(r.lag.upper.p99Ms)}], max ${fixed(r.lag.maxMs)} ms [${fixed(r.lag.lower.maxMs)}-${fixed(r.lag.upper.maxMs)}], mean ${fixed(r.lag.meanMs)} ms over ${r.lag.samples} samples, ${fixed(100 * r.lag.caughtUpShare, 0)}% of them fully caught up; ` +
      `catch-up ${r.catchUp ? `${fixed(r.catchUp.ms)} ms [${fixed(r.catchUp.lowerMs)}-${fixed(r.catchUp.upperMs)}]` : "never (timed out)"}; its probe: every ${fixed(r.probe.gapP50Ms)} ms (largest gap ${fixed(r.probe.gapMaxMs)} ms), round trip p50 ${fixed(r.probe.rttP50Ms, 2)} ms, p99 ${fixed(r.probe.rttP99Ms, 2)} ms, max ${fixed(r.probe.rttMaxMs, 2)} ms${r.probeErrors ? `, ${r.probeErrors} failed reads (${r.firstProbeError})` : ""}`;
    const sums = primarySums === replicaSums ? "identical on the primary and the replica (CHECKSUM TABLE of every sbtest table after catch-up)" : `DIFFERENT: primary ${primarySums}; replica ${replicaSums}`;
    const rel = (p: string): string => relative(repoRoot, p);
    const notes = [
      goal,
      "Ratio column: kingbus / direct replica, so < 1 means kingbus lags less. The baseline column is the direct replica, measured in the same run against the same primary.",
      "![primary tps and follower lag over time](ingest.svg)",
      `Reproduce with \`make bench-ingest\` (BENCH_INGEST_SECONDS=${seconds}, BENCH_INGEST_THREADS=${threads}, BENCH_INGEST_TABLES=${tables}, BENCH_INGEST_TABLE_SIZE=${tableSize}, BENCH_INGEST_PROBE_MS=${probeMs}, BENCH_INGEST_REPLICA_THREADS=${replicaSettings.parallelThreads}, BENCH_INGEST_REPLICA_DURABLE=${replicaSettings.durable ? 1 : 0}).`,
      `Load: ${sysbench.version} \`oltp_write_only\` (per transaction: BEGIN, an indexed UPDATE, a non-indexed UPDATE, a DELETE and an INSERT of the same id, COMMIT), ${threads} threads, no rate limit, ${seconds} s, over ${tables} tables of ${tableSize} rows (prepared in ${prepareSeconds.toFixed(0)} s, replicated to every follower before the load), by unix socket. Summary: ${run.summary.transactions} transactions, ${tps.toFixed(1)} tps, per-second tps min ${fixed(tpsSorted[0], 0)} / median ${fixed(percentileOf(tpsSorted, 0.5), 0)} / max ${fixed(tpsSorted.at(-1), 0)}; transaction latency avg ${run.summary.latencyMs.avg} ms, p${run.summary.latencyMs.p} ${run.summary.latencyMs.percentile} ms, max ${run.summary.latencyMs.max} ms; ${run.summary.ignoredErrors} ignored errors (deadlocks), ${run.summary.reconnects} reconnects.`,
      `Primary: MariaDB ${primarySettings.version}, binlog on (log_bin=${primarySettings.log_bin}, binlog_format=${primarySettings.binlog_format}, checksum ${primarySettings.binlog_checksum}, gtid_strict_mode=${primarySettings.gtid_strict_mode}), sync_binlog=${primarySettings.sync_binlog}, innodb_flush_log_at_trx_commit=${primarySettings.innodb_flush_log_at_trx_commit} (every commit fsynced, in group commits), doublewrite ${primarySettings.innodb_doublewrite}, buffer pool ${Number(primarySettings.innodb_buffer_pool_size) / 2 ** 20} MiB (the data set fits), redo log ${Number(primarySettings.innodb_log_file_size) / 2 ** 20} MiB, flush method ${primarySettings.innodb_flush_method}.`,
      `Direct replica: MariaDB with the primary's InnoDB sizing, CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos from the primary's first event; slave_parallel_threads=${replicaServerSettings.slave_parallel_threads}, slave_parallel_mode=${replicaServerSettings.slave_parallel_mode} (parallel apply, commits in the primary's order), sync_binlog=${replicaServerSettings.sync_binlog}, innodb_flush_log_at_trx_commit=${replicaServerSettings.innodb_flush_log_at_trx_commit}, log_slave_updates=${replicaServerSettings.log_slave_updates}, read_only=${replicaServerSettings.read_only}. Why: kingbus counts a transaction only once it is fsynced on a majority, so the replica is as durable (a crash-safe gtid_slave_pos, promotable with its binlog) rather than acknowledging from its page cache, and it applies in parallel as a production replica of a write-heavy primary would (as many appliers as the primary has writing clients, so a whole group commit applies at once), rather than with one SQL thread, the easiest one to beat. On a shared 2-core machine the kernel shares the CPU per runnable thread, so fewer appliers also means a smaller slice of the cores: with 4 the replica falls seconds behind for that reason alone. Its position is @@gtid_slave_pos (applied and committed). After the run: IO thread ${replicaStatus.ioRunning}, SQL thread ${replicaStatus.sqlRunning}, no errors; data ${sums}.`,
      kb ? `Kingbus: ${kingbus?.description ?? "as started by the StartKingbus hook"}; its position is the GTID position it has committed.` : "Kingbus: not run (see the first note).",
      "How lag is measured (bench/lib/lag-probe.ts): the primary's @@gtid_binlog_pos and every follower's position are read on connections of their own on a fixed 50 ms schedule, each read stamped with a monotonic clock when sent and when answered. The lag of a follower sample at position F is its time minus the time the primary first went past F (the age of the oldest transaction the follower lacks; 0 when a primary read taken after the follower's answer shows nothing beyond F). That time is interpolated on the sequence number between the last primary sample at or behind F and the first past it, so it is exact to within one primary sampling interval plus the read round trips; the [bounds] beside each figure are hard: the latest and earliest the primary can have gone past F given those two samples. Percentiles are over the follower's samples taken while sysbench ran (equal weight per 50 ms); spikes shorter than the sampling interval between two samples are not seen. Catch-up = first follower sample holding the primary's final position minus the moment sysbench exited, with bounds from the sample's read times.",
      `Probe resolution this run: primary read every ${fixed(primaryTrips.gapP50Ms)} ms (largest gap ${fixed(primaryTrips.gapMaxMs)} ms), round trip p50 ${fixed(primaryTrips.rttP50Ms, 2)} ms, p99 ${fixed(primaryTrips.rttP99Ms, 2)} ms, max ${fixed(primaryTrips.rttMaxMs, 2)} ms${probe.primary.errors ? `, ${probe.primary.errors} failed reads (${probe.primary.firstError})` : ""}. ${results.map(followerLine).join(". ")}.`,
      ...(quietBefore > NOISE_CORES || noisySeconds > 0
        ? [`Warning: the machine was not quiet. Other processes (not the servers, sysbench, kingbus or this probe) used ${quietBefore.toFixed(2)} cores just before the load, and more than ${NOISY_SECOND_CORES} cores in ${noisySeconds} of the ${perSecond.length} seconds of the load (kernel I/O workers included; see "everything else" in the chart's CPU panel); the figures of those seconds are disturbed. Run again on an idle machine.`]
        : []),
      `Throughput seen by the probe (transactions/s the position advanced by): primary ${fixed(primaryRate, 0)} while loaded; ${results.map((r) => `${r.name} ${fixed(r.rateLoaded, 0)} while loaded (${fixed((100 * r.rateLoaded) / primaryRate, 0)}% of the primary's), ${Number.isFinite(r.rateCatchUp) ? `${fixed(r.rateCatchUp, 0)} while catching up once the load stopped` : "nothing left to catch up once the load stopped (within one probe interval)"}`).join("; ")}. A follower slower than the primary while loaded falls behind steadily (its lag grows for as long as the load lasts: not bounded); one much faster once the load stops was short of CPU, not of capacity.`,
      `CPU while sysbench ran (${fixed(usage.seconds)} s; cores, 1 = one core busy; ${m.cores} cores in all): machine ${fixed(usage.machine, 2)}, primary mariadbd ${fixed(usage.primary, 2)}, replica mariadbd ${fixed(usage.replica, 2)}${kb ? `, kingbus ${fixed(usage.kingbus, 2)}` : ""}, sysbench ${fixed(usage.sysbench, 2)}, this process (lag probe) ${fixed(usage.probe, 2)}, everything else ${fixed(other, 2)} (kernel I/O workers and interrupts, other processes; ${quietBefore.toFixed(2)} just before the load). Everything runs on one machine, so the followers compete with the primary and the load generator for the same cores and the same disk.`,
      `Data directories under ${rel(primary.dataDir).startsWith("..") ? primary.dataDir : rel(primary.dataDir)} and beside it (same filesystem for every server).`,
    ];
    const result: BenchResult = {
      name: "ingest",
      title: "Ingest: a real MariaDB primary at full speed (sysbench oltp_write_only), kingbus against a direct replica",
      baseline: "a MariaDB 10.11 replica attached directly to the same primary in the same run (parallel apply, durable)",
      machine: m,
      date: new Date().toISOString(),
      rows,
      notes,
      details: {
        seconds, threads, tables, tableSize, probeMs, prepareSeconds,
        kingbus: kb !== undefined,
        primarySettings, replicaSettings: replicaServerSettings, replicaArgs: replica.args, primaryArgs,
        sysbench: { version: sysbench.version, command: run.command.join(" "), summary: run.summary, intervals: run.intervals.map((i) => ({ ...i, atS: (i.atMs - loadStart) / 1000 })) },
        finalPosition: finalText,
        followers: results,
        primaryProbe: primaryTrips,
        primaryRate,
        cpu: { ...usage, otherBeforeLoad: quietBefore, perSecond },
        lagSeries: Object.fromEntries([...lagOf].map(([name, pts]) => [name, pts.map((p) => ({ t: Number(((p.atMs - loadStart) / 1000).toFixed(3)), lagMs: Number(p.lagMs.toFixed(2)), lowerMs: Number(p.lowerMs.toFixed(2)), upperMs: Number(p.upperMs.toFixed(2)) }))])),
      },
    };
    writeResultTo(outDir, result);
    progress(`wrote ${join(outDir, "ingest.svg")}`);
    return result;
  } finally {
    primaryProbe?.destroy();
    await kingbus?.stop().catch((e: unknown) => progress(`kingbus stop failed: ${e instanceof Error ? e.message : String(e)}`));
    await replica?.stop();
    await primary.stop();
    await stopAllMariadb();
  }
}

if (import.meta.main) {
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));
  await runIngestBench({ startKingbus, outDir: process.env.BENCH_RESULTS_DIR || undefined });
}
