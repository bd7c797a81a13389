/**
 * Scenario 3: a follower SIGKILLed under load, then restarted. The leader keeps pulling (no
 * election), replicas attached to the dead pod move to another through the Service, and the pod,
 * restarted, catches up with everything committed while it was down.
 */
import { performance } from "node:perf_hooks";
import { log, sleep, waitUntil } from "../harness/log.ts";
import { measureFailover, type Scenario } from "../harness/scenario.ts";

export const followerKill: Scenario = {
  id: 3,
  slug: "follower-kill",
  title: "SIGKILL of a follower and its restart",
  env: () => ({}),
  async run(ctx) {
    const { env } = ctx;
    env.startLoad();
    await sleep(4000);
    const leader = await env.cluster.waitForPulling(30_000);
    const before = (await env.cluster.status(leader))!.term;
    const follower = env.cluster.ids.find((id) => id !== leader)!;
    // The file-and-position replica reads from the pod that dies.
    const onFollower = env.replicas[1];
    if (onFollower && !(await env.placeReplica(onFollower, follower))) log(`could not place ${onFollower.name} on pod ${follower}`);
    const replicasOn = await env.replicaPods();
    const faultAt = performance.now();
    await env.cluster.kill(follower, "SIGKILL");
    const f = await measureFailover(env, `follower ${follower} killed`, [follower], faultAt, { exclude: [follower], replicasOn });
    ctx.failovers.push(f);
    ctx.check("the leader stays leader and keeps pulling", f.leader === leader && (await env.cluster.status(leader))!.term === before, `leader ${f.leader} (was ${leader}), term ${before}`);
    await sleep(ctx.short ? 3000 : 8000);
    const downFor = (performance.now() - faultAt) / 1000;
    const restartAt = performance.now();
    env.cluster.start(follower);
    await env.waitReady([follower], 30_000);
    // Caught up: it applied what the leader had committed when it came back.
    const leaderAt = (await env.cluster.status(leader))!.commit;
    await waitUntil(`pod ${follower} applies index ${leaderAt}`, 60_000, async () => ((await env.cluster.status(follower))?.applied ?? 0) >= leaderAt ? true : undefined);
    const caughtUp = (performance.now() - restartAt) / 1000;
    ctx.metrics.downSeconds = Math.round(downFor * 10) / 10;
    ctx.metrics.catchUpSeconds = Math.round(caughtUp * 100) / 100;
    log(`pod ${follower} was down ${downFor.toFixed(1)} s; restarted, it caught up in ${caughtUp.toFixed(2)} s`);
    await sleep(3000);
  },
};
