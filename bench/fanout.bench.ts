/**
 * Fan-out (issue 7): how fast do binlog clients read from a kingbus pod, against the primary
 * itself serving them from its own files? A real MariaDB 10.11 primary writes BENCH_FANOUT_MB
 * (1024) of binlog (multi-row InnoDB inserts of 8 KiB rows, ~0.5 MiB transactions, files of
 * 256 MiB), three `kingbus node` processes store it through the syncer (fsync on), and the binlog
 * server is started on a follower pod. Then, for 1, 10, 50 and 100 concurrent binlog clients
 * (BENCH_FANOUT_CLIENTS), each reading the whole binlog from the first file with COM_BINLOG_DUMP
 * (MariaDB protocol, non-blocking: EOF at the end), from the kingbus pod and from the primary in
 * the same run (up to 10 clients, two rounds in alternating order, each server's better one):
 *
 * - aggregate MB/s (bytes of every client over the wall time until the last one finished) and
 *   MB/s per client;
 * - CPU seconds per GB served by the serving process (kingbus pod, or mariadbd), from /proc;
 * - the primary's CPU seconds while kingbus serves the clients: what the replicas cost the
 *   primary when they read from kingbus (nothing: it serves one syncer however many there are).
 *
 * Goal: kingbus at least as fast per client as MariaDB itself; the primary's load independent of
 * the number of replicas.
 *
 * The clients run in this process (a socket each, packets counted, not decoded: what a client
 * costs is the same for both servers). The machine is shared: on 2 cores the clients take one.
 * Knobs: BENCH_FANOUT_MB (1024), BENCH_FANOUT_CLIENTS ("1,10,50,100"), BENCH_RESULTS_DIR (where
 * fanout.json and fanout.md go; default bench/results), BENCH_FANOUT_PROFILE=1 (a CPU profile of
 * the kingbus pod, in the results folder).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { KingbusCluster } from "../node/test-support/kingbus-cluster.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../node/test-support/mariadb.ts";
import { createReplicationUser, startSyncer, waitForPosition } from "../node/test-support/syncer-harness.ts";
import { nativePasswordToken } from "../node/src/mysql/wire/auth.ts";
import { Capability, Command, NATIVE_PASSWORD_PLUGIN } from "../node/src/mysql/wire/constants.ts";
import { decodeHandshakeV10, encodeHandshakeResponse } from "../node/src/mysql/wire/handshake.ts";
import { decodeErr, isErrPacket } from "../node/src/mysql/wire/messages.ts";
import { framePayload } from "../node/src/mysql/wire/packet.ts";
import { ByteWriter } from "../node/src/binlog/bytes.ts";
import { freePort } from "../node/test-support/ports.ts";
import { processCpuSeconds } from "./lib/load.ts";
import { serverPid } from "./lib/mariadb-replica.ts";
import { envNumber, machine, markdown, progress, ratio, resultsDir, type BenchResult, type Row } from "./lib/report.ts";

const num = (name: string, fallback: number): number => envNumber(name, fallback, { positive: true });

const USER = "kb_fan";
/** Client counts this small read the binlog in seconds: measured twice. */
const SHORT_RUN_CLIENTS = 10;
const PASSWORD = "fan-Out-Pass-1";

export interface Target {
  port: number;
  user: string;
  password: string;
  firstFile: string;
}

/**
 * One binlog client: logs in, sets what a MariaDB replica sets, sends a non-blocking COM_BINLOG_DUMP
 * from the start of the first file and counts the bytes until the EOF packet. Packets are walked,
 * not decoded.
 */
export function readBinlog(t: Target, serverId: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(t.port, "127.0.0.1");
    socket.setNoDelay(true);
    let buffered: Buffer = Buffer.alloc(0);
    let phase: "greeting" | "auth" | "set" | "dump" = "greeting";
    let sets = 0;
    const setup = [
      "SET @master_binlog_checksum = @@global.binlog_checksum",
      "SET @mariadb_slave_capability = 4",
    ];
    let bytes = 0;
    // In the dump: bytes of the current packet still to skip (a packet's payload may span chunks).
    let skip = 0;
    let done = false;
    const fail = (e: Error): void => {
      if (done) return;
      done = true;
      socket.destroy();
      reject(e);
    };
    const send = (payload: Buffer, seq: number): void => {
      for (const chunk of framePayload(payload, seq).chunks) socket.write(chunk);
    };
    const query = (sql: string): void => send(Buffer.concat([Buffer.of(Command.QUERY), Buffer.from(sql)]), 0);
    socket.on("error", fail);
    socket.on("close", () => fail(new Error(`connection closed after ${bytes} bytes`)));
    socket.on("data", (chunk: Buffer) => {
      if (phase === "dump") {
        // Walk packet headers; stop at the EOF packet (0xfe, short).
        bytes += chunk.length;
        if (skip >= chunk.length) {
          skip -= chunk.length;
          return;
        }
        const head: Buffer = buffered.length > 0 ? Buffer.concat([buffered, chunk.subarray(skip)]) : chunk.subarray(skip);
        skip = 0;
        buffered = Buffer.alloc(0);
        let at = 0;
        while (head.length - at >= 5) {
          const length = head.readUIntLE(at, 3);
          const first = head[at + 4]!;
          if (first === 0xfe && length < 9) {
            done = true;
            socket.destroy();
            resolve(bytes);
            return;
          }
          if (first === 0xff) return fail(new Error(`ERR in the dump: ${decodeErr(head.subarray(at + 4, at + 4 + length)).message}`));
          const end = at + 4 + length;
          if (end > head.length) {
            skip = end - head.length;
            return;
          }
          at = end;
        }
        if (head.length > at) buffered = Buffer.from(head.subarray(at));
        return;
      }
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4) {
        const length = buffered.readUIntLE(0, 3);
        if (buffered.length < 4 + length) return;
        const payload = buffered.subarray(4, 4 + length);
        buffered = buffered.subarray(4 + length);
        if (isErrPacket(payload)) return fail(new Error(`${phase}: ${decodeErr(payload).message}`));
        if (phase === "greeting") {
          const hs = decodeHandshakeV10(payload);
          const caps = Capability.LONG_PASSWORD | Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH | Capability.TRANSACTIONS;
          send(encodeHandshakeResponse({ capabilities: caps & hs.capabilities, maxPacketSize: 1 << 30, collation: 45, user: t.user, authResponse: nativePasswordToken(t.password, hs.scramble), authPlugin: NATIVE_PASSWORD_PLUGIN }), 1);
          phase = "auth";
        } else if (phase === "auth") {
          if (payload[0] !== 0x00) return fail(new Error(`login: unexpected packet 0x${payload[0]!.toString(16)}`));
          phase = "set";
          query(setup[sets++]!);
        } else if (phase === "set") {
          if (sets < setup.length) {
            query(setup[sets++]!);
            continue;
          }
          phase = "dump";
          const name = Buffer.from(t.firstFile);
          send(new ByteWriter().u8(Command.BINLOG_DUMP).u32(4).u16(0x01).u32(serverId).bytes(name).toBuffer(), 0);
          const rest = buffered;
          buffered = Buffer.alloc(0);
          if (rest.length > 0) socket.emit("data", rest);
          return;
        }
      }
    });
  });
}

interface RunResult {
  clients: number;
  seconds: number;
  bytes: number;
  aggregateMBps: number;
  perClientMBps: number;
  serverCpuSeconds: number;
  cpuSecondsPerGB: number;
  primaryCpuSeconds: number;
  /** CPU seconds of the other kingbus pods (not serving) during the run: what else the machine did. */
  otherPodsCpuSeconds: number;
}

/** One run of `clients` readers; `otherPods`: the kingbus pods not serving, measured whoever serves. */
async function run(name: string, t: Target, clients: number, serverPidOf: () => number | undefined, primaryPid: number | undefined, otherPods: () => number[], firstId: number): Promise<RunResult> {
  const pid = serverPidOf();
  const cpu0 = pid ? processCpuSeconds(pid) : 0;
  const primary0 = primaryPid ? processCpuSeconds(primaryPid) : 0;
  const others = otherPods();
  const others0 = others.reduce((sum, p) => sum + processCpuSeconds(p), 0);
  const began = performance.now();
  const sizes = await Promise.all(Array.from({ length: clients }, (_, i) => readBinlog(t, firstId + i)));
  const seconds = (performance.now() - began) / 1000;
  const serverCpuSeconds = (pid ? processCpuSeconds(pid) : 0) - cpu0;
  const primaryCpuSeconds = (primaryPid ? processCpuSeconds(primaryPid) : 0) - primary0;
  const otherPodsCpuSeconds = others.reduce((sum, p) => sum + processCpuSeconds(p), 0) - others0;
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const r: RunResult = {
    clients,
    seconds,
    bytes,
    aggregateMBps: bytes / 1e6 / seconds,
    perClientMBps: bytes / 1e6 / seconds / clients,
    serverCpuSeconds,
    cpuSecondsPerGB: serverCpuSeconds / (bytes / 1e9),
    primaryCpuSeconds,
    otherPodsCpuSeconds,
  };
  progress(`${name}, ${clients} clients: ${(bytes / 1e9).toFixed(2)} GB in ${seconds.toFixed(1)} s = ${r.aggregateMBps.toFixed(0)} MB/s (${r.perClientMBps.toFixed(1)} per client), ${r.cpuSecondsPerGB.toFixed(2)} CPU s/GB; primary CPU ${primaryCpuSeconds.toFixed(2)} s; other pods ${otherPodsCpuSeconds.toFixed(2)} CPU s`);
  return r;
}

/** Writes the primary's binlog: multi-row inserts of 8 KiB random rows until `mb` MB are logged. */
export async function writeBinlog(primary: MariadbServer, mb: number): Promise<void> {
  await primary.query("CREATE DATABASE bench");
  await primary.query("CREATE TABLE bench.t (id BIGINT PRIMARY KEY AUTO_INCREMENT, pad VARBINARY(8192)) ENGINE=InnoDB");
  const c = await primary.connect();
  const row = `CONCAT(${Array.from({ length: 8 }, () => "RANDOM_BYTES(1024)").join(", ")})`;
  try {
    await c.query("USE bench");
    for (let written = 0, i = 0; written < mb * 1e6; i++) {
      await c.query(`INSERT INTO t (pad) SELECT ${row} FROM seq_1_to_8 a, seq_1_to_8 b`);
      if (i % 64 === 0) {
        const rows = (await c.query("SHOW BINARY LOGS"))[0] as Array<{ File_size: number }>;
        written = rows.reduce((n, r) => n + Number(r.File_size), 0);
        if (i % 512 === 0) progress(`primary binlog: ${(written / 1e6).toFixed(0)} MB`);
      }
    }
  } finally {
    await c.end();
  }
}

function writeResultTo(dir: string, r: BenchResult): void {
  mkdirSync(dir, { recursive: true });
  const rows = r.rows.map((row) => ({ ...row, ratio: Number.isFinite(ratio(row)) ? Number(ratio(row).toFixed(3)) : null }));
  writeFileSync(join(dir, `${r.name}.json`), JSON.stringify({ ...r, rows }, null, 2) + "\n");
  writeFileSync(join(dir, `${r.name}.md`), markdown(r));
  progress(`wrote ${join(dir, `${r.name}.json`)} and .md`);
}

export async function runFanoutBench(outDir = resultsDir): Promise<BenchResult> {
  const mb = num("BENCH_FANOUT_MB", 1024);
  const counts = (process.env.BENCH_FANOUT_CLIENTS || "1,10,50,100").split(",").map((s) => Number(s.trim()));
  const skip = mariadbSkip();
  if (skip !== undefined) throw new Error(`${skip} (make debs installs it as root)`);
  progress(`plan: ${mb} MB of binlog; ${counts.join(", ")} clients reading all of it, from a kingbus pod then from the primary`);
  const primary = await startMariadb({ name: "fanout-primary", extraArgs: ["--max-binlog-size=256M", "--max-connections=400", "--innodb-buffer-pool-size=256M"] });
  let cluster: KingbusCluster | undefined;
  try {
    await primary.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`);
    await primary.query(`GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '${USER}'@'%'`);
    await createReplicationUser(primary);
    const writeBegan = performance.now();
    await writeBinlog(primary, mb);
    await primary.flushBinaryLogs({ settle: true });
    const files = await primary.binlogFiles();
    progress(`primary wrote ${files.length} binlog files in ${((performance.now() - writeBegan) / 1000).toFixed(1)} s`);

    const env = process.env.BENCH_FANOUT_PROFILE === "1" ? { KINGBUS_NODE_ARGS: `--cpu-prof --cpu-prof-dir=${join(outDir, "fanout-profile")}` } : {};
    Object.assign(process.env, env);
    cluster = await KingbusCluster.create(3);
    const leader = await cluster.waitForLeader(20_000);
    const syncBegan = performance.now();
    await startSyncer(cluster, leader, primary, { heartbeat_period: 1 });
    // Committed means on a majority: the leader and the first follower to have it all; that follower serves.
    const target = await primary.gtidBinlogPos();
    const followers = cluster.nodes.map((n) => n.id).filter((id) => id !== leader);
    const pod = await Promise.any(followers.map(async (id) => (await waitForPosition(cluster!, [leader, id], target, 600_000), id)));
    const syncSeconds = (performance.now() - syncBegan) / 1000;
    progress(`kingbus stored the binlog on a majority in ${syncSeconds.toFixed(1)} s; node ${pod} (a follower) serves`);
    const port = await freePort();
    const started = await cluster.call<string>(pod, "PUT", "/binlog/server/start", JSON.stringify({ addr: `127.0.0.1:${port}`, user: USER, password: PASSWORD }));
    if (started.status !== 200) throw new Error(`server start: ${started.message}`);

    const firstFile = files[0]!.split("/").at(-1)!;
    const kingbusTarget: Target = { port, user: USER, password: PASSWORD, firstFile };
    const primaryTarget: Target = { port: primary.port, user: USER, password: PASSWORD, firstFile };
    const primaryPid = serverPid(primary);
    const podPid = (): number | undefined => cluster?.node(pod).child?.pid;
    const otherPods = (): number[] => cluster!.nodes.filter((n) => n.id !== pod).flatMap((n) => (n.child?.pid ? [n.child.pid] : []));
    let id = 100_000;
    const measure = (who: "kingbus" | "mariadb", n: number): Promise<RunResult> =>
      who === "kingbus" ? run("kingbus", kingbusTarget, n, podPid, primaryPid, otherPods, (id += 1000)) : run("mariadb", primaryTarget, n, () => primaryPid, undefined, otherPods, (id += 1000));
    // What the primary and the pods wrote reaches the disk now, not in the kernel's writeback
    // half a minute later, in the middle of whichever run comes then.
    execFileSync("sync");
    // Warm both (page cache): one client each.
    await readBinlog(kingbusTarget, 90_000);
    await readBinlog(primaryTarget, 90_001);

    const results: Array<{ kingbus: RunResult; mariadb: RunResult; rounds: Array<{ kingbus: RunResult; mariadb: RunResult }> }> = [];
    for (const n of counts) {
      // Short runs (a second at one client) meet every hiccup of the machine whole: two rounds,
      // kingbus-MariaDB then MariaDB-kingbus, and the better of each server's two.
      const rounds: Array<{ kingbus: RunResult; mariadb: RunResult }> = [];
      for (let round = 0; round < (n <= SHORT_RUN_CLIENTS ? 2 : 1); round++) {
        if (round === 0) {
          const kingbus = await measure("kingbus", n);
          rounds.push({ kingbus, mariadb: await measure("mariadb", n) });
        } else {
          const mariadb = await measure("mariadb", n);
          rounds.push({ kingbus: await measure("kingbus", n), mariadb });
        }
      }
      const best = (who: "kingbus" | "mariadb"): RunResult => rounds.map((r) => r[who]).reduce((a, b) => (b.aggregateMBps > a.aggregateMBps ? b : a));
      results.push({ kingbus: best("kingbus"), mariadb: best("mariadb"), rounds });
    }

    const rows: Row[] = [];
    for (const { kingbus, mariadb } of results) {
      rows.push({ measure: `${kingbus.clients} clients: aggregate`, kingbus: kingbus.aggregateMBps, baseline: mariadb.aggregateMBps, unit: "MB/s", goal: "kingbus >= MariaDB" });
      rows.push({ measure: `${kingbus.clients} clients: per client`, kingbus: kingbus.perClientMBps, baseline: mariadb.perClientMBps, unit: "MB/s", goal: "kingbus >= MariaDB" });
      rows.push({ measure: `${kingbus.clients} clients: server CPU per GB`, kingbus: kingbus.cpuSecondsPerGB, baseline: mariadb.cpuSecondsPerGB, unit: "CPU s/GB", goal: "lower is better" });
      rows.push({ measure: `${kingbus.clients} clients: primary CPU while they read`, kingbus: kingbus.primaryCpuSeconds, baseline: mariadb.serverCpuSeconds, unit: "CPU s", goal: "kingbus: flat in the client count" });
    }
    const result: BenchResult = {
      name: "fanout",
      title: `Fan-out: binlog clients reading ${mb} MB from a kingbus pod and from the primary`,
      baseline: "the MariaDB 10.11 primary serving the same clients from its own binlog files",
      machine: machine(),
      date: new Date().toISOString(),
      rows,
      notes: [
        `${files.length} binlog files of up to 256 MiB (multi-row InnoDB inserts of 8 KiB rows, about 0.5 MiB per transaction), committed by 3 kingbus node processes with fsync on (on a majority) in ${syncSeconds.toFixed(1)} s; the server runs on a follower pod that holds it all.`,
        "Each client: COM_BINLOG_DUMP from the first file at 4, non-blocking, MariaDB protocol; bytes counted until EOF. Clients run in the benchmark's process, on the same machine.",
        "CPU per GB: CPU seconds of the serving process (kingbus pod, mariadbd) over the GB it sent. Primary CPU in the kingbus column: mariadbd's CPU while kingbus served the clients.",
        `Up to ${SHORT_RUN_CLIENTS} clients, two rounds (kingbus then MariaDB, then MariaDB then kingbus) and each server's better round; every round is in the JSON's details. The written files are synced to disk before the first run.`,
      ],
      details: { mb, files: files.length, syncSeconds, results },
    };
    writeResultTo(outDir, result);
    return result;
  } finally {
    await cluster?.stop();
    await primary.stop();
    await stopAllMariadb();
  }
}

if (import.meta.main) {
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));
  await runFanoutBench(process.env.BENCH_RESULTS_DIR || undefined);
}
