/**
 * Scenario 2: the leader SIGKILLed under load, five times in a row (twice in the short form).
 * Each round: kill the pod whose syncer pulls from the primary, measure until a new leader pulls
 * again and until the replicas' lag is back under 1 s, restart the killed pod (as Kubernetes
 * would) and let it catch up before the next round.
 */
import { performance } from "node:perf_hooks";
import { log, sleep } from "../harness/log.ts";
import { measureFailover, type Scenario } from "../harness/scenario.ts";

export const leaderKill: Scenario = {
  id: 2,
  slug: "leader-kill",
  title: "SIGKILL of the leader under load, five times in a row",
  env: () => ({}),
  async run(ctx) {
    const { env } = ctx;
    const rounds = ctx.short ? 2 : 5;
    env.startLoad();
    await sleep(ctx.short ? 2000 : 4000);
    for (let round = 1; round <= rounds; round++) {
      const leader = await env.cluster.waitForPulling(30_000);
      // One replica reads from the leader: the GTID one in odd rounds, the file one in even ones.
      const onLeader = env.replicas[(round - 1) % Math.max(1, env.replicas.length)];
      if (onLeader && !(await env.placeReplica(onLeader, leader))) log(`round ${round}: could not place ${onLeader.name} on pod ${leader}`);
      const replicasOn = await env.replicaPods();
      const faultAt = performance.now();
      await env.cluster.kill(leader, "SIGKILL");
      const f = await measureFailover(env, `round ${round}: leader ${leader} killed`, [leader], faultAt, { exclude: [leader], replicasOn });
      ctx.failovers.push(f);
      ctx.check(`round ${round}: a new leader pulls within 10 s`, f.pullingSeconds !== null && f.pullingSeconds < 10 && f.leader !== leader, `pod ${f.leader} after ${f.pullingSeconds} s`);
      ctx.check(`round ${round}: lag back under 1 s within 30 s`, f.lagRecoverySeconds !== null && f.lagRecoverySeconds < 30, `${f.lagRecoverySeconds} s (peak ${f.peakLagSeconds} s)`);
      const restartAt = performance.now();
      env.cluster.start(leader);
      await env.waitReady(env.cluster.ids, 30_000);
      log(`round ${round}: pod ${leader} restarted and ready after ${((performance.now() - restartAt) / 1000).toFixed(1)} s`);
      await sleep(ctx.short ? 1500 : 3000);
    }
  },
};
