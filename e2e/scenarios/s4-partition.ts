/**
 * Scenario 4: the leader cut off from its peers. Every peer link goes through a TcpProxy; the
 * leader's links (both directions) stop forwarding, as in a network partition, while the primary
 * and the replicas still reach every pod. The majority elects a new leader, which pulls from the
 * primary; the old leader, which went on proposing what its syncer received, steps down. After
 * the links heal, the old leader follows the new one and the entries it appended but never
 * committed are gone: replaced by the new leader's, so nothing is stored twice.
 */
import { performance } from "node:perf_hooks";
import { log, sleep, waitUntil } from "../harness/log.ts";
import { measureFailover, measureLagRecovery, type Scenario } from "../harness/scenario.ts";

export const partition: Scenario = {
  id: 4,
  slug: "partition",
  title: "the leader cut off from its peers, then healed",
  env: () => ({ cluster: { proxiedPeers: true } }),
  async run(ctx) {
    const { env } = ctx;
    env.startLoad();
    await sleep(4000);
    const old = await env.cluster.waitForPulling(30_000);
    const oldTerm = (await env.cluster.status(old))!.term;
    // The GTID replica reads from the pod that gets cut off.
    const onOld = env.replicas[0];
    if (onOld && !(await env.placeReplica(onOld, old))) log(`could not place ${onOld.name} on pod ${old}`);
    const replicasOn = await env.replicaPods();
    const faultAt = performance.now();
    env.cluster.isolate(old);
    log(`pod ${old} (leader, term ${oldTerm}) cut off from its peers`);
    const f = await measureFailover(env, `leader ${old} cut off`, [old], faultAt, { exclude: [old], replicasOn, waitLag: false });
    ctx.failovers.push(f);
    ctx.check("the majority elects a new leader that pulls", f.leader !== undefined && f.leader !== old && f.pullingSeconds !== null, `pod ${f.leader} pulling after ${f.pullingSeconds} s`);
    const stepDown = await waitUntil(`pod ${old} steps down`, 20_000, async () => {
      const s = await env.cluster.status(old);
      return s && s.role !== "leader" ? performance.now() : undefined;
    });
    ctx.metrics.oldLeaderStepDownSeconds = Math.round(stepDown - faultAt) / 1000;
    await sleep(ctx.short ? 2000 : 4000);
    const cut = (await env.cluster.status(old))!;
    const oldSyncer = (await env.cluster.binlog(old))?.syncer.phase;
    log(`pod ${old} while cut off: role ${cut.role}, term ${cut.term}, commit ${cut.commit}, last index ${cut.lastIndex}, syncer ${oldSyncer}`);
    ctx.check("the cut-off leader had appended entries it could not commit", cut.lastIndex > cut.commit, `last index ${cut.lastIndex}, commit ${cut.commit}`);
    ctx.check("the cut-off pod stopped pulling once it stepped down", oldSyncer !== "running", `syncer ${oldSyncer}`);

    const healAt = performance.now();
    env.cluster.healAll();
    const newLeader = f.leader!;
    await waitUntil(`pod ${old} follows pod ${newLeader}`, 30_000, async () => {
      const s = await env.cluster.status(old);
      return s && s.role === "follower" && s.lead === newLeader ? true : undefined;
    });
    const leaderNow = (await env.cluster.status(newLeader))!;
    await waitUntil(`pod ${old} applies past its old last index`, 30_000, async () => ((await env.cluster.status(old))?.applied ?? 0) >= Math.max(cut.lastIndex, leaderNow.commit) ? true : undefined);
    ctx.metrics.rejoinSecondsAfterHeal = Math.round(performance.now() - healAt) / 1000;
    // A replica reading from the cut-off pod waits for the heal: the pod keeps its session (and
    // its heartbeats) and has nothing newer to send. Lag recovery counts from the cut.
    await measureLagRecovery(env, f, faultAt, healAt);
    ctx.metrics.partitionSeconds = Math.round(healAt - faultAt) / 1000;
    log(`after the heal: ${env.lagFollowers().join(" and ")} lag under 1 s ${f.lagRecoverySeconds ?? "-"} s after the cut (the partition lasted ${ctx.metrics.partitionSeconds} s; peak lag ${f.peakLagSeconds ?? "-"} s)`);
    ctx.check("the replicas catch up after the heal", f.lagRecoverySeconds !== null, `lag under 1 s ${f.lagRecoverySeconds} s after the cut`);
    // What the majority held of the old leader's log: everything before the new leader's first
    // entry of a later term. The old leader's entries past that were its alone (never committed);
    // they must now be the new leader's entries, of the new term.
    const theirs = await env.cluster.kc.entries(newLeader, cut.commit + 1);
    const firstNew = theirs.find((e) => e.term > oldTerm)?.index ?? Infinity;
    const sharedUpTo = firstNew - 1;
    const mine = await env.cluster.kc.entries(old, cut.commit + 1);
    const replaced = mine.filter((e) => e.index > sharedUpTo && e.index <= cut.lastIndex);
    const differ = mine.filter((e) => e.index <= cut.lastIndex).filter((e) => {
      const t = theirs.find((x) => x.index === e.index);
      return !t || t.sha256 !== e.sha256 || t.term !== e.term;
    });
    const stale = replaced.filter((e) => e.term <= oldTerm);
    ctx.metrics.uncommittedEntries = Math.max(0, cut.lastIndex - sharedUpTo);
    ctx.check(
      "after healing the old leader's uncommitted entries are gone",
      cut.lastIndex > sharedUpTo && replaced.length === cut.lastIndex - sharedUpTo && stale.length === 0 && differ.length === 0,
      `the cut-off leader alone held indexes ${sharedUpTo + 1}..${cut.lastIndex} (term ${oldTerm}); now pod ${old} holds pod ${newLeader}'s entries there (terms ${[...new Set(replaced.map((e) => e.term))].join(", ") || "none"})${differ.length ? `; ${differ.length} entries differ from the leader's` : ""}${stale.length ? `; ${stale.length} of term ${oldTerm} remain` : ""}`,
    );
    await sleep(3000);
  },
};
