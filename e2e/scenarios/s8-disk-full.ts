/**
 * Scenario 8: one pod's disk full. A follower's data directory is moved onto a small tmpfs (it
 * needs root to mount). Under load, its disk fills: the pod reports the error (its log names the
 * full disk) and stops, as a pod whose volume is full must; the other two go on (the leader
 * pulls, the replicas stay current). Restarted while the disk is still full, it fails the same
 * way, with the same error and without damaging what it stored. Once space is freed it is
 * restarted, catches up, and stores exactly what the others store.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, renameSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { log, sleep, waitUntil } from "../harness/log.ts";
import type { Scenario } from "../harness/scenario.ts";

const NO_SPACE = /STORAGE_NO_SPACE|no space|ENOSPC/i;

function duBytes(dir: string): number {
  return Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0]);
}

export const diskFull: Scenario = {
  id: 8,
  slug: "disk-full",
  title: "one pod's disk full: it reports the error, the cluster goes on, it recovers",
  env: () => ({}),
  allowExits: true,
  skip: () => (process.getuid?.() === 0 ? undefined : "mounting a tmpfs needs root"),
  async run(ctx) {
    const { env } = ctx;
    const leader = await env.cluster.waitForPulling(30_000);
    const victim = env.cluster.ids.find((id) => id !== leader)!;
    const dir = env.cluster.node(victim).dataDir;
    await env.cluster.kill(victim, "SIGTERM");
    const used = duBytes(dir);
    const size = Math.ceil((used + 24 * 1024 * 1024) / (1024 * 1024));
    renameSync(dir, `${dir}.moving`);
    mkdirSync(dir);
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}m`, "tmpfs", dir]);
    env.onStop(() => void execFileSync("umount", ["-l", dir]));
    cpSync(`${dir}.moving`, dir, { recursive: true });
    rmSync(`${dir}.moving`, { recursive: true, force: true });
    // Leave about 1.5 MiB: the load fills it within seconds.
    const filler = join(dir, "filler");
    const st = statfsSync(dir);
    writeFileSync(filler, Buffer.alloc(Math.max(0, st.bavail * st.bsize - 1.5 * 1024 * 1024)));
    log(`pod ${victim}'s data (${(used / 2 ** 20).toFixed(1)} MiB) on a ${size} MiB tmpfs with ~1.5 MiB free`);
    env.cluster.tolerateExit(victim, NO_SPACE);
    env.cluster.start(victim);
    const loadAt = performance.now();
    env.startLoad();

    const fullAt = await waitUntil(`pod ${victim} stops on the full disk`, 90_000, async () => (env.cluster.isRunning(victim) ? undefined : performance.now()), 100);
    const exit = env.cluster.expectedExits.at(-1);
    const reported = exit?.log.split("\n").find((l) => NO_SPACE.test(l)) ?? "";
    ctx.check("the pod reports the full disk and stops", exit !== undefined && exit.id === victim && reported !== "", `exit code ${exit?.code}: ${reported.slice(0, 300)}`);

    // The others go on: still pulling, replicas current.
    const whileDown = performance.now();
    await sleep(ctx.short ? 3000 : 6000);
    const puller = await env.cluster.waitForPulling(5000, [victim]);
    const lagged = Math.max(...env.lagFollowers().map((n) => env.lag.maxLag(n, whileDown)));
    ctx.check("the cluster goes on without the pod", puller !== undefined && lagged < 1000, `pod ${puller} pulling; max lag ${lagged.toFixed(0)} ms while the pod was down`);

    // Restarted on the still-full disk (as Kubernetes restarts it): the same error, no damage.
    const exitsBefore = env.cluster.expectedExits.length;
    env.cluster.start(victim);
    const again = await waitUntil(`pod ${victim} fails again on the full disk`, 20_000, async () => env.cluster.expectedExits[exitsBefore], 100).catch(() => undefined);
    const againLine = again?.log.split("\n").find((l) => NO_SPACE.test(l)) ?? "";
    ctx.metrics.restartOnFullDisk = again ? `stopped again (code ${again.code}): ${againLine.slice(0, 240)}` : "kept running for 20 s";
    log(`pod ${victim} restarted on the full disk: ${ctx.metrics.restartOnFullDisk}`);
    if (env.cluster.isRunning(victim)) await env.cluster.kill(victim, "SIGTERM");

    // Space freed: it comes back and catches up.
    rmSync(filler);
    env.cluster.tolerateExit(victim, undefined);
    const freedAt = performance.now();
    env.cluster.start(victim);
    await env.waitReady([victim], 60_000);
    const commit = (await env.cluster.status(puller))!.commit;
    await waitUntil(`pod ${victim} applies index ${commit}`, 60_000, async () => ((await env.cluster.status(victim))?.applied ?? 0) >= commit ? true : undefined);
    ctx.metrics.fullAfterSeconds = Math.round(fullAt - loadAt) / 1000;
    ctx.metrics.recoverySeconds = Math.round(performance.now() - freedAt) / 1000;
    ctx.check("the pod recovers once space is freed", true, `caught up ${ctx.metrics.recoverySeconds} s after its restart`);
    await sleep(3000);
  },
};
