/**
 * Scenario 5: all three pods SIGKILLed at once under load, then restarted together (as after a
 * power cut). The cluster elects a leader from what is on disk, the syncer resumes from the
 * committed GTID position, and the replicas reconnect and catch up.
 */
import { performance } from "node:perf_hooks";
import { log, sleep } from "../harness/log.ts";
import { measureFailover, type Scenario } from "../harness/scenario.ts";

export const allKilled: Scenario = {
  id: 5,
  slug: "all-killed",
  title: "all three pods killed at once and restarted",
  env: () => ({}),
  async run(ctx) {
    const { env } = ctx;
    env.startLoad();
    await sleep(5000);
    const ids = env.cluster.ids;
    const killAt = performance.now();
    await Promise.all(ids.map((id) => env.cluster.kill(id, "SIGKILL")));
    log(`all pods killed; the primary goes on writing for 3 s`);
    await sleep(3000);
    const restartAt = performance.now();
    for (const id of ids) env.cluster.start(id);
    const f = await measureFailover(env, "all pods restarted", ids, restartAt);
    ctx.failovers.push(f);
    ctx.metrics.downSeconds = Math.round(restartAt - killAt) / 1000;
    ctx.check("the restarted cluster pulls again within 15 s of the restart", f.pullingSeconds !== null && f.pullingSeconds < 15, `pulling ${f.pullingSeconds} s after the restart`);
    ctx.check("lag back under 1 s within 30 s of the restart", f.lagRecoverySeconds !== null && f.lagRecoverySeconds < 30, `${f.lagRecoverySeconds} s`);
    await env.waitReady(ids, 30_000);
    await sleep(ctx.short ? 2000 : 5000);
  },
};
