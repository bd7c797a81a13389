/**
 * make demo: the whole path on this machine, on loopback, in one command.
 *
 * A MariaDB primary with a small load (sysbench at a few transactions a second when sysbench is
 * installed or can be, and the project's mix of DDL, JSON, BLOB, large and XA transactions), a
 * 3-node kingbus cluster of real `kingbus node` processes pulling its binlog, and a MariaDB replica
 * attached to kingbus by GTID. It prints how to connect to each, then redraws a live view every
 * second (the leader, the GTID positions of the primary, of each kingbus pod and of the replica,
 * the replica's lag) until Ctrl-C, and cleans everything up.
 *
 * A pod that dies is restarted 3 s later, as Kubernetes would, so the leader can be killed again
 * and again: `kill -9 $(cat .tmp/demo/leader.pid)`.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ensureSysbench } from "../../bench/lib/sysbench.ts";
import { repoRoot } from "../../node/test-support/requirements.ts";
import { mariadbSkip, stopAllMariadb } from "../../node/test-support/mariadb.ts";
import { Environment } from "../harness/env.ts";
import { KINGBUS } from "../harness/lag.ts";
import { log, setQuiet, sleep } from "../harness/log.ts";
import { SERVER_PASSWORD, SERVER_USER } from "../harness/replicas.ts";

const demoDir = join(repoRoot, ".tmp", "demo");
const RESTART_AFTER_MS = 3000;

interface PodView {
  id: number;
  pid: number | undefined;
  role: string;
  term: number;
  executed: string;
  syncer: string;
}

function sysbenchAvailable(): boolean {
  try {
    ensureSysbench();
    return true;
  } catch (e) {
    process.stderr.write(`demo: running without sysbench (${e instanceof Error ? e.message : String(e)}); the mix alone writes\n`);
    return false;
  }
}

async function main(): Promise<void> {
  const skip = mariadbSkip();
  if (skip) {
    process.stderr.write(`demo: ${skip}\n`);
    process.exitCode = 1;
    return;
  }
  process.stderr.write("demo: starting a MariaDB primary, 3 kingbus pods and a MariaDB replica on 127.0.0.1 ...\n");
  const withSysbench = sysbenchAvailable();
  const env = await Environment.start({
    name: "demo",
    replicas: true,
    replicaModes: ["gtid"],
    sysbench: withSysbench ? { tables: 2, tableSize: 1000, threads: 2, rate: 20 } : false,
    mixPauseMs: 1000,
  });
  const replica = env.replicas[0]!;
  env.startLoad();
  mkdirSync(demoDir, { recursive: true });
  const pidFile = join(demoDir, "leader.pid");

  let stopping = false;
  const events: string[] = [];
  const event = (text: string): void => {
    events.push(`${new Date().toISOString().slice(11, 19)} ${text}`);
    if (events.length > 6) events.shift();
    if (!process.stdout.isTTY) process.stdout.write(`event: ${text}\n`);
  };
  const restarting = new Set<number>();
  let leader: number | undefined;
  let leaderLostAt: number | undefined;
  const began = performance.now();

  const cleanup = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\ndemo: stopping the load, the replica, the kingbus pods and the primary ...\n");
    await env.stop();
    await stopAllMariadb();
    rmSync(demoDir, { recursive: true, force: true });
    process.stdout.write("demo: cleaned up\n");
    process.exit(0);
  };
  process.on("SIGINT", () => void cleanup());
  process.on("SIGTERM", () => void cleanup());

  const help = [
    "Kingbus demo: a MariaDB primary -> 3 kingbus pods (Raft) -> a MariaDB replica, all on 127.0.0.1.",
    "",
    "Connect:",
    `  the primary:           mariadb -h 127.0.0.1 -P ${env.primary.port} -u root`,
    `  the replica:           mariadb -h 127.0.0.1 -P ${replica.server.port} -u root -e 'SHOW SLAVE STATUS\\G'`,
    `  kingbus, as replicas see it (any pod, or the Service on port ${env.service.port}):`,
    `                         mariadb -h 127.0.0.1 -P ${env.service.port} -u ${SERVER_USER} -p${SERVER_PASSWORD} -e 'SHOW MASTER STATUS; SHOW SLAVE HOSTS'`,
    `  a pod's admin API:     curl -s http://127.0.0.1:${env.cluster.node(env.cluster.ids[0]!).httpPort}/binlog/syncer/status`,
    "",
    `Watch a failover: kill -9 $(cat ${pidFile})`,
    "  (a dead pod is restarted 3 s later, as Kubernetes would; kill the leader again and again)",
    "Stop: Ctrl-C (everything started here is removed).",
  ];
  process.stdout.write(`${help.join("\n")}\n\n`);
  setQuiet(true);

  for (let tick = 0; !stopping; tick++) {
    // Pods that died are restarted after a pause, as a StatefulSet's pods are.
    for (const id of env.cluster.ids) {
      if (env.cluster.isRunning(id) || restarting.has(id)) continue;
      restarting.add(id);
      const exit = env.cluster.unexpectedExits.filter((x) => x.id === id).at(-1);
      event(`pod ${id} died${exit ? ` (${exit.signal ?? `exit code ${exit.code}`})` : ""}; restarting it in ${RESTART_AFTER_MS / 1000} s`);
      if (id === leader) leaderLostAt = performance.now() - (exit ? Date.now() - exit.at : 0);
      setTimeout(() => {
        restarting.delete(id);
        if (stopping) return;
        env.cluster.start(id);
        event(`pod ${id} restarted`);
      }, RESTART_AFTER_MS);
    }
    const pods: PodView[] = await Promise.all(
      env.cluster.ids.map(async (id) => {
        const [st, b] = await Promise.all([env.cluster.status(id), env.cluster.binlog(id)]);
        return { id, pid: env.cluster.pid(id), role: st?.role ?? (env.cluster.isRunning(id) ? "starting" : "down"), term: st?.term ?? 0, executed: b?.executed ?? "", syncer: b?.syncer.phase ?? "" };
      }),
    );
    const current = pods.find((p) => p.role === "leader");
    if (current && current.id !== leader) {
      if (leader !== undefined) event(`leader: pod ${leader} -> pod ${current.id} (term ${current.term})`);
      leader = current.id;
      if (current.pid) writeFileSync(pidFile, `${current.pid}\n`);
    }
    const puller = pods.find((p) => p.syncer === "running");
    if (leaderLostAt !== undefined && puller) {
      event(`failover: pod ${puller.id} pulls from the primary ${((performance.now() - leaderLostAt) / 1000).toFixed(1)} s after the leader died`);
      leaderLostAt = undefined;
    }
    const primaryPos = await env.primary.gtidBinlogPos().catch(() => "?");
    const replicaPos = await replica.position().catch(() => "?");
    const replicaLag = env.lag.current(replica.name);
    const kingbusLag = env.lag.current(KINGBUS);
    const on = (await env.replicaPods().catch(() => ({}) as Record<string, number | null>))[replica.name];
    const uptime = Math.round((performance.now() - began) / 1000);
    const primaryLine = `primary  127.0.0.1:${env.primary.port}  ${primaryPos}   load: ${env.sysbench ? `sysbench ${env.sysbench.lastTps.toFixed(0)} tps, ` : ""}mix ${env.mix.stats.ops} transactions`;
    const leaderLine = `kingbus  leader: ${current ? `pod ${current.id} (pid ${current.pid}, term ${current.term})` : "none"}   lag ${fmtLag(kingbusLag?.lagMs)}`;
    const replicaLine = `replica  127.0.0.1:${replica.server.port}  ${replicaPos}   lag ${fmtLag(replicaLag?.lagMs)}${on ? `   reading from pod ${on}` : ""}`;
    const lines = [
      `kingbus demo · up ${Math.floor(uptime / 60)}m${String(uptime % 60).padStart(2, "0")}s · Ctrl-C to stop and clean up`,
      "",
      primaryLine,
      leaderLine,
      ...pods.map((p) => `  pod ${p.id}  ${p.role.padEnd(13)} pid ${String(p.pid ?? "-").padEnd(7)} ${(p.executed || "-").padEnd(34)} binlog server 127.0.0.1:${env.serverPorts.get(p.id)}${p.syncer === "running" ? "  <- pulling from the primary" : ""}`),
      replicaLine,
      "",
      ...(events.length ? ["events:", ...events.map((e) => `  ${e}`)] : [`kill the leader: kill -9 $(cat ${pidFile})`]),
    ];
    if (process.stdout.isTTY) process.stdout.write(`\x1b[H\x1b[2J${help.join("\n")}\n\n${lines.join("\n")}\n`);
    else if (tick % 5 === 0) process.stdout.write(`${primaryLine}\n${leaderLine}\n${replicaLine}\n`);
    await sleep(1000);
  }
}

function fmtLag(ms: number | undefined): string {
  return ms === undefined ? "-" : `${(ms / 1000).toFixed(2)} s`;
}

main().catch(async (e: unknown) => {
  log(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  await stopAllMariadb();
  process.exit(1);
});
