/**
 * Raft replication end to end (issue 5): committed writes per second and write latency of a real
 * 3-node kingbus cluster (three `kingbus node` processes on 127.0.0.1, every append fdatasync'd),
 * at 1, 16 and 256 concurrent writers, against a 3-member etcd 3.4 cluster (the Debian
 * `etcd-server` package, fsync on too) with the same payloads, in the same run.
 *
 * Each writer is a closed loop: one write, wait until it is committed, the next. Kingbus writes are
 * HTTP POSTs of the payload to the leader's test-only /debug/write over keep-alive connections (one
 * per writer), which answers once the entry is committed on a majority and applied on the leader.
 * etcd writes are `put`s through the etcd3 npm package (gRPC, one HTTP/2 connection) to the leader.
 * Each (system, payload, concurrency) point runs BENCH_RAFT_SECONDS after BENCH_RAFT_WARMUP seconds.
 *
 * When kingbus loses a point (or BENCH_RAFT_PROFILE=1), the kingbus side of its worst point runs
 * again with the node processes under --cpu-prof, and the hottest functions are reported.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { Etcd3 } from "etcd3";
import { KingbusCluster } from "../node/test-support/kingbus-cluster.ts";
import { repoRoot } from "../node/test-support/requirements.ts";
import { summariseProfile, type ProfileSummary } from "./lib/cpuprofile.ts";
import { EtcdCluster, ensureEtcd, listening } from "./lib/etcd-cluster.ts";
import { closedLoop, KeepAlivePoster, machineBusySeconds, percentile, processCpuSeconds, type LoadResult } from "./lib/load.ts";
import { machine, progress, resultsDir, writeResult, type Row } from "./lib/report.ts";
import { lineChart } from "./lib/svg.ts";

const SECONDS = Number(process.env.BENCH_RAFT_SECONDS ?? 8);
const WARMUP = Number(process.env.BENCH_RAFT_WARMUP ?? 2);
const CONCURRENCY = (process.env.BENCH_RAFT_CONCURRENCY ?? "1,16,256").split(",").map(Number);
const SIZES = (process.env.BENCH_RAFT_SIZES ?? "1024,16384").split(",").map(Number);
/** Rounds per point, the systems taking turns (ABBA...); the best round of each is reported. */
const ROUNDS = Number(process.env.BENCH_RAFT_ROUNDS ?? 2);
/** "auto": profile when kingbus loses a point; "1": always; "0": never. */
const PROFILE = process.env.BENCH_RAFT_PROFILE ?? "auto";
const WORK = join(repoRoot, ".tmp", "bench-raft");

type System = "kingbus" | "etcd";

/** Data folders of the kingbus clusters still up: removed on exit too (an interrupted run). */
const kingbusRoots = new Set<string>();
process.on("exit", () => {
  for (const d of kingbusRoots) rmSync(d, { recursive: true, force: true });
});

interface Point {
  system: System;
  size: number;
  concurrency: number;
  /** Which round (0-based) of the interleaved rounds. */
  round: number;
  writesPerSecond: number;
  writes: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  errors: number;
  firstError: string | undefined;
  /** CPU the three server processes used in the window, in cores (1 = one core busy). */
  serverCores: number;
  /** CPU of this driver process in the window, in cores. */
  driverCores: number;
  /** Server CPU per write, µs (all three members together). */
  serverCpuUsPerWrite: number;
  /** CPU the rest of the machine used in the window (other processes), in cores. */
  otherCores: number;
  /** The measuring window on the monotonic clock, µs (to cut CPU profiles to it). */
  windowUs: { startUs: number; endUs: number };
}

const kib = (size: number): string => (size % 1024 === 0 ? `${size / 1024} KiB` : `${size} B`);
const writersLabel = (c: number): string => `${c} writer${c === 1 ? "" : "s"}`;

/** A running cluster of one system, ready to take writes at its leader. */
interface Target {
  system: System;
  /** The server processes (for their CPU time). */
  pids: number[];
  op: (w: number) => Promise<void>;
  close: () => Promise<void>;
}

interface KingbusTarget extends Target {
  leaderPid: number | undefined;
  sockets: () => number;
}

/** One point: the closed loop at one concurrency against one cluster, with CPU in the window. */
async function measure(t: Target, size: number, concurrency: number, round: number): Promise<Point> {
  let serverStart: number[] = [];
  let serverEnd: number[] = [];
  let driverStart = process.cpuUsage();
  let driverEnd = driverStart;
  let windowStart = 0;
  let windowSeconds = SECONDS;
  let machineStart = 0;
  let machineSeconds = 0;
  const windowUs = { startUs: 0, endUs: 0 };
  const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
  const r: LoadResult = await closedLoop({
    concurrency,
    warmupMs: WARMUP * 1000,
    measureMs: SECONDS * 1000,
    op: t.op,
    onWindow: (phase) => {
      if (phase === "start") {
        serverStart = t.pids.map(processCpuSeconds);
        driverStart = process.cpuUsage();
        machineStart = machineBusySeconds();
        windowStart = performance.now();
        windowUs.startUs = nowUs();
      } else {
        serverEnd = t.pids.map(processCpuSeconds);
        driverEnd = process.cpuUsage(driverStart);
        machineSeconds = machineBusySeconds() - machineStart;
        windowSeconds = (performance.now() - windowStart) / 1000;
        windowUs.endUs = nowUs();
      }
    },
  });
  const serverSeconds = serverEnd.reduce((a, v, i) => a + v - (serverStart[i] ?? 0), 0);
  const driverSeconds = (driverEnd.user + driverEnd.system) / 1e6;
  const p: Point = {
    system: t.system,
    size,
    concurrency,
    round,
    writesPerSecond: r.perSecond,
    writes: r.writes,
    p50Ms: percentile(r.latencies, 0.5),
    p90Ms: percentile(r.latencies, 0.9),
    p99Ms: percentile(r.latencies, 0.99),
    p999Ms: percentile(r.latencies, 0.999),
    maxMs: r.latencies.at(-1) ?? NaN,
    errors: r.errors,
    firstError: r.firstError,
    serverCores: serverSeconds / windowSeconds,
    driverCores: driverSeconds / windowSeconds,
    serverCpuUsPerWrite: r.writes > 0 ? (serverSeconds * 1e6) / r.writes : NaN,
    otherCores: Math.max(0, (machineSeconds - serverSeconds - driverSeconds) / windowSeconds),
    windowUs,
  };
  progress(
    `  ${t.system.padEnd(7)} ${kib(size)} x${concurrency}: ${p.writesPerSecond.toFixed(0)} writes/s, p50 ${p.p50Ms.toFixed(2)} ms, p99 ${p.p99Ms.toFixed(2)} ms` +
      `; CPU: servers ${p.serverCores.toFixed(2)} cores, driver ${p.driverCores.toFixed(2)}, other processes ${p.otherCores.toFixed(2)}${p.errors ? `; ${p.errors} errors (${p.firstError})` : ""}`,
  );
  return p;
}

async function startKingbus(size: number, maxConcurrency: number, profileDir?: string): Promise<KingbusTarget> {
  const saved = process.env.NODE_OPTIONS;
  if (profileDir !== undefined) process.env.NODE_OPTIONS = `${saved ?? ""} --cpu-prof --cpu-prof-dir=${profileDir}`.trim();
  let cluster: KingbusCluster;
  try {
    cluster = await KingbusCluster.create(3);
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
  const root = dirname(cluster.nodes[0]!.dataDir);
  kingbusRoots.add(root);
  try {
    const leader = await cluster.waitForLeader(20_000);
    const node = cluster.node(leader);
    const poster = new KeepAlivePoster("127.0.0.1", node.httpPort, maxConcurrency);
    const payload = Buffer.alloc(size, 0x6b);
    return {
      system: "kingbus",
      pids: cluster.nodes.map((n) => n.child?.pid).filter((p): p is number => p !== undefined),
      leaderPid: node.child?.pid,
      op: () => poster.post("/debug/write", payload),
      sockets: () => poster.sockets(),
      close: async () => {
        poster.close();
        await cluster.stop();
        kingbusRoots.delete(root);
      },
    };
  } catch (e) {
    for (const n of cluster.nodes) if (n.stderr.length) progress(`kingbus node ${n.id} stderr: ${n.stderr.join("").slice(-1500)}`);
    await cluster.stop();
    kingbusRoots.delete(root);
    throw e;
  }
}

async function startEtcd(binary: string, size: number, maxConcurrency: number): Promise<Target> {
  const cluster = await EtcdCluster.create(binary, 3);
  try {
    const leader = await cluster.leader();
    const client = new Etcd3({ hosts: leader.clientUrl });
    const payload = Buffer.alloc(size, 0x6b);
    const keys = Array.from({ length: maxConcurrency }, (_, w) => `bench/writer-${w}`);
    return {
      system: "etcd",
      pids: cluster.pids(),
      op: async (w) => {
        await client.put(keys[w]!).value(payload).exec();
      },
      close: async () => {
        client.close();
        await cluster.stop();
      },
    };
  } catch (e) {
    for (const m of cluster.members) if (m.stderr.length) progress(`etcd ${m.name} stderr: ${m.stderr.join("").slice(-1500)}`);
    await cluster.stop();
    throw e;
  }
}

interface ProfiledPoint {
  point: Point;
  leaderFile: string;
  leader: ProfileSummary;
  follower: ProfileSummary | undefined;
}

function profileNotes(pp: ProfiledPoint): string[] {
  const fmt = (xs: Array<{ what: string; percent: number }>, n: number): string => xs.slice(0, n).map((x) => `${x.what} ${x.percent}%`).join("; ");
  const { point, leader, follower } = pp;
  const busy = leader.totalMs > 0 ? (100 * leader.busyMs) / leader.totalMs : 0;
  const at = `${kib(point.size)} x ${writersLabel(point.concurrency)}`;
  const secs = (point.windowUs.endUs - point.windowUs.startUs) / 1e6;
  const gc = (g: ProfileSummary["gc"]): string => `GC pauses on the main thread: ${(g.pauses / secs).toFixed(1)}/s, ${g.over5ms} over 5 ms, longest ${g.longestMs} ms, ${g.totalMs} ms in all`;
  const notes = [
    `Profile, ${at} (under --cpu-prof: ${point.writesPerSecond.toFixed(0)} writes/s, p99 ${point.p99Ms.toFixed(1)} ms): the leader was busy ${busy.toFixed(0)}% of the window; ${gc(leader.gc)}. Leader self time by file (% of its busy time): ${fmt(leader.files, 8)}.`,
    `Profile, ${at}, leader functions (self): ${fmt(leader.self, 10)}. Inclusive: ${fmt(leader.inclusive.filter((x) => !x.what.startsWith("(")), 10)}.`,
  ];
  if (follower !== undefined) notes.push(`Profile, ${at}, a follower (busy ${follower.totalMs > 0 ? ((100 * follower.busyMs) / follower.totalMs).toFixed(0) : 0}%; ${gc(follower.gc)}): by file ${fmt(follower.files, 6)}; functions ${fmt(follower.self, 6)}.`);
  return notes;
}

async function main(): Promise<void> {
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));
  mkdirSync(WORK, { recursive: true });
  const planned = SIZES.length * ROUNDS * 2 * CONCURRENCY.length * (WARMUP + SECONDS);
  progress(`plan: ${SIZES.map(kib).join(", ")} payloads x ${CONCURRENCY.join("/")} writers x kingbus, etcd x ${ROUNDS} rounds; ${WARMUP} s warm-up + ${SECONDS} s each (${(planned / 60).toFixed(1)} min of load, more to profile)`);
  const etcd = ensureEtcd();
  const systemEtcd = await listening(2379);
  progress(`${etcd.version} at ${etcd.path}${systemEtcd ? "; something (a system etcd?) listens on 127.0.0.1:2379, the benchmark uses other ports" : ""}`);

  const all: Point[] = [];
  const maxConcurrency = Math.max(...CONCURRENCY);
  let sockets = 0;
  for (const size of SIZES) {
    progress(`${kib(size)} payloads: starting kingbus (3 nodes) and etcd (3 members)`);
    const kingbus = await startKingbus(size, maxConcurrency);
    let etcdTarget: Target | undefined;
    try {
      etcdTarget = await startEtcd(etcd.path, size, maxConcurrency);
      for (let round = 0; round < ROUNDS; round++) {
        for (const c of CONCURRENCY) {
          const order = round % 2 === 0 ? [kingbus, etcdTarget] : [etcdTarget, kingbus];
          for (const t of order) all.push(await measure(t, size, c, round));
        }
      }
      sockets = Math.max(sockets, kingbus.sockets());
    } finally {
      await kingbus.close();
      await etcdTarget?.close();
    }
  }
  // Of each point's rounds, the one with the most writes/s (the least disturbed); its latencies with it.
  const points: Point[] = [];
  for (const p of all) {
    const i = points.findIndex((q) => q.system === p.system && q.size === p.size && q.concurrency === p.concurrency);
    if (i < 0) points.push(p);
    else if (p.writesPerSecond > points[i]!.writesPerSecond) points[i] = p;
  }

  const find = (system: System, size: number, c: number): Point => points.find((p) => p.system === system && p.size === size && p.concurrency === c)!;
  const rows: Row[] = [];
  const met: string[] = [];
  const missed: string[] = [];
  let worst: { size: number; concurrency: number; ratio: number } | undefined;
  for (const size of SIZES) {
    for (const c of CONCURRENCY) {
      const k = find("kingbus", size, c);
      const e = find("etcd", size, c);
      const at = `${kib(size)} x ${writersLabel(c)}`;
      rows.push({ measure: `${at}: committed writes/s`, kingbus: k.writesPerSecond, baseline: e.writesPerSecond, unit: "writes/s", goal: "> etcd (ratio > 1)" });
      rows.push({ measure: `${at}: p50 latency`, kingbus: k.p50Ms, baseline: e.p50Ms, unit: "ms", goal: "for reference (ratio < 1: kingbus faster)" });
      rows.push({ measure: `${at}: p99 latency`, kingbus: k.p99Ms, baseline: e.p99Ms, unit: "ms", goal: "≤ etcd (ratio ≤ 1; lower is better)" });
      const tputOk = k.writesPerSecond > e.writesPerSecond;
      const p99Ok = k.p99Ms <= e.p99Ms;
      (tputOk ? met : missed).push(`${at} throughput (${(k.writesPerSecond / e.writesPerSecond).toFixed(2)}x)`);
      (p99Ok ? met : missed).push(`${at} p99 (${(k.p99Ms / e.p99Ms).toFixed(2)}x)`);
      const ratio = Math.min(k.writesPerSecond / e.writesPerSecond, e.p99Ms / k.p99Ms);
      if (worst === undefined || ratio < worst.ratio) worst = { size, concurrency: c, ratio };
    }
  }

  const profiles: ProfiledPoint[] = [];
  const profileDir = join(WORK, "profiles");
  if (worst !== undefined && (PROFILE === "1" || (PROFILE === "auto" && missed.length > 0))) {
    progress(`profiling the kingbus nodes (--cpu-prof) at ${kib(worst.size)}, every concurrency (worst point: ${writersLabel(worst.concurrency)})`);
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
    const target = await startKingbus(worst.size, maxConcurrency, profileDir);
    const run = { points: [] as Point[], leaderPid: target.leaderPid, pids: target.pids };
    try {
      for (const c of CONCURRENCY) run.points.push(await measure(target, worst.size, c, 0));
    } finally {
      await target.close();
    }
    const files = readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"));
    const of = (pid: number | undefined): string | undefined => (pid === undefined ? undefined : files.find((f) => f.includes(`.${pid}.`)));
    const leaderFile = of(run.leaderPid);
    const followerFile = of(run.pids.find((p) => p !== run.leaderPid));
    if (leaderFile === undefined) progress(`no profile of the leader (pid ${run.leaderPid}) in ${profileDir}: ${files.join(", ")}`);
    else {
      progress(`leader profile: ${join(profileDir, leaderFile)}`);
      for (const point of run.points) {
        profiles.push({
          point,
          leaderFile: join(".tmp", "bench-raft", "profiles", leaderFile),
          leader: summariseProfile(join(profileDir, leaderFile), repoRoot, 20, point.windowUs),
          follower: followerFile === undefined ? undefined : summariseProfile(join(profileDir, followerFile), repoRoot, 12, point.windowUs),
        });
      }
    }
  }

  const svg = lineChart({
    title: "3-node cluster, fsync on: committed writes/s",
    xLabel: "concurrent writers",
    yLabel: "committed writes/s",
    series: SIZES.flatMap((size, i) => [
      { name: `kingbus ${kib(size)}`, color: "#1f77b4", dashed: i > 0, points: CONCURRENCY.map((c) => ({ x: c, y: find("kingbus", size, c).writesPerSecond })) },
      { name: `etcd ${kib(size)}`, color: "#ff7f0e", dashed: i > 0, points: CONCURRENCY.map((c) => ({ x: c, y: find("etcd", size, c).writesPerSecond })) },
    ]),
  });
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "raft.svg"), svg);

  const cpuLine = SIZES.flatMap((size) =>
    CONCURRENCY.map((c) => {
      const k = find("kingbus", size, c);
      const e = find("etcd", size, c);
      return `${kib(size)} x${c}: kingbus ${k.serverCores.toFixed(2)} cores (${k.serverCpuUsPerWrite.toFixed(0)} µs/write), driver ${k.driverCores.toFixed(2)}, other ${k.otherCores.toFixed(2)}; etcd ${e.serverCores.toFixed(2)} cores (${e.serverCpuUsPerWrite.toFixed(0)} µs/write), driver ${e.driverCores.toFixed(2)}, other ${e.otherCores.toFixed(2)}`;
    }),
  ).join("; ");
  const errors = all.filter((p) => p.errors > 0).map((p) => `${p.system} ${kib(p.size)} x${p.concurrency} round ${p.round + 1}: ${p.errors} (${p.firstError})`);
  const spread = SIZES.flatMap((size) =>
    CONCURRENCY.flatMap((c) =>
      (["kingbus", "etcd"] as const).map((system) => {
        const rates = all.filter((p) => p.system === system && p.size === size && p.concurrency === c).map((p) => p.writesPerSecond.toFixed(0));
        return `${system} ${kib(size)} x${c}: ${rates.join(" / ")}`;
      }),
    ),
  ).join("; ");
  const m = machine();
  const notes = [
    `Goal (issue 5): more committed writes/s than etcd at every concurrency and a p99 no worse than etcd's. Met: ${met.length ? met.join(", ") : "none"}. Not met: ${missed.length ? missed.join(", ") : "none"}.`,
    "Ratio column: kingbus / etcd for every row, so > 1 is better for writes/s and < 1 is better for latency.",
    `![committed writes/s against concurrent writers](raft.svg)`,
    `Reproduce with \`make bench-raft\` (BENCH_RAFT_SECONDS=${SECONDS}, BENCH_RAFT_WARMUP=${WARMUP}, BENCH_RAFT_ROUNDS=${ROUNDS}, BENCH_RAFT_CONCURRENCY=${CONCURRENCY.join(",")}, BENCH_RAFT_SIZES=${SIZES.join(",")}, BENCH_RAFT_PROFILE=auto|1|0).`,
    `Closed loop: each writer waits for its write to commit before the next. Latency = time from sending to the commit answer at the client. Per payload size both clusters are started fresh and stay up; each point runs ${WARMUP} s warm-up then ${SECONDS} s measured, ${ROUNDS} rounds with the systems taking turns (kingbus first in odd rounds, etcd first in even ones); the table shows each point's round with the most writes/s, and that round's latencies. Writes/s of every round: ${spread}.`,
    `kingbus: 3 \`kingbus node\` processes (tick 50 ms, election 10 ticks), every append fdatasync'd; writes are HTTP/1.1 POSTs of the raw payload to the leader's test-only /debug/write over keep-alive connections (${sockets} sockets for the largest concurrency), answered once committed on a majority and applied on the leader.`,
    `etcd: ${etcd.version} (Debian etcd-server), 3 members with default settings (fsync on, heartbeat 100 ms, snapshot-count 100000) except --quota-backend-bytes 8 GiB; \`put\`s of the same payload to one key per writer through the etcd3 npm package (gRPC over one HTTP/2 connection) to the leader's client URL.`,
    `Everything on one machine (${m.cores} cores): the 3 servers and this driver share the cores, so CPU per write matters as much as the protocol. CPU in the window (servers = all 3 members together; driver = this process; other = every other process on the machine, i.e. noise from outside the benchmark): ${cpuLine}.`,
    `Data directories under ${process.env.TMPDIR ?? "/tmp"} (the same filesystem for both systems).${systemEtcd ? " A system etcd (or something) listened on 2379; the benchmark used other ports." : ""}`,
    ...(errors.length ? [`Errors during the windows: ${errors.join("; ")}.`] : []),
    ...(profiles.length > 0 ? [`Profiled run: the kingbus side again with the node processes under --cpu-prof (profiles in ${profiles[0]!.leaderFile} and beside it), each profile cut to the measuring window of each point; percentages are of the process's busy (non-idle) CPU time. "(program)" is native time outside any JS frame (libuv, the HTTP parser, V8 itself); "(native bindings)" are Node's C++ calls from JS (writeBuffer/writeUtf8String: socket and file writes; fdatasync; read).`] : []),
    ...profiles.flatMap(profileNotes),
  ];
  writeResult({
    name: "raft",
    title: "Raft replication: 3-node kingbus against 3-member etcd, fsync on",
    baseline: `${etcd.version}, 3 members on loopback (same machine, same run, same payloads)`,
    machine: m,
    date: new Date().toISOString(),
    rows,
    notes,
    details: { seconds: SECONDS, warmup: WARMUP, rounds: ROUNDS, points, allRounds: all, profiles },
  });
  progress("wrote bench/results/raft.svg");
}

await main();
