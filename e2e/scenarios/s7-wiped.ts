/**
 * Scenario 7: one pod's data directory wiped. A follower is killed and its directory deleted;
 * the leader compacts its log (as retention would), so the pod, restarted empty, can only rejoin
 * from a snapshot streamed by the leader. It catches up under load, serves replicas again (its
 * binlog server configuration went with the directory and is started again, as the operator
 * would), and stores what the others store.
 */
import { rmSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { log, sleep, waitUntil } from "../harness/log.ts";
import type { Scenario } from "../harness/scenario.ts";

export const wiped: Scenario = {
  id: 7,
  slug: "wiped",
  title: "one pod's data directory wiped: it rejoins from a snapshot",
  env: () => ({}),
  async run(ctx) {
    const { env } = ctx;
    env.startLoad();
    await sleep(5000);
    const leader = await env.cluster.waitForPulling(30_000);
    const victim = env.cluster.ids.find((id) => id !== leader)!;
    await env.cluster.kill(victim, "SIGKILL");
    rmSync(env.cluster.node(victim).dataDir, { recursive: true, force: true });
    await sleep(1000);
    const applied = (await env.cluster.status(leader))!.applied;
    const compacted = await env.cluster.kc.call<{ firstIndex: number }>(leader, "POST", `/debug/compact?through=${applied}`);
    ctx.check("the leader compacts its log", compacted.status === 200 && compacted.data.firstIndex === applied + 1, `first index ${compacted.data?.firstIndex} (${compacted.status} ${compacted.message})`);
    log(`pod ${victim} wiped; leader ${leader} compacted through ${applied}`);
    await sleep(2000);
    const restartAt = performance.now();
    env.cluster.start(victim);
    await waitUntil(`pod ${victim} answers`, 30_000, async () => ((await env.cluster.status(victim)) ? true : undefined));
    await env.startServer(victim);
    await env.waitReady([victim], 60_000);
    const commit = (await env.cluster.status(leader))!.commit;
    await waitUntil(`pod ${victim} applies index ${commit}`, 60_000, async () => ((await env.cluster.status(victim))?.applied ?? 0) >= commit ? true : undefined);
    const s = (await env.cluster.status(victim))!;
    ctx.metrics.rejoinSeconds = Math.round(performance.now() - restartAt) / 1000;
    ctx.metrics.snapshotIndex = s.firstIndex - 1;
    ctx.check("the wiped pod rejoined from a snapshot", s.firstIndex > applied, `its log starts at index ${s.firstIndex} (the leader compacted through ${applied}); caught up ${ctx.metrics.rejoinSeconds} s after its restart`);
    await sleep(ctx.short ? 2000 : 5000);
  },
};
