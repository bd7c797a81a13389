/**
 * Scenario 6: the primary restarted under load, then the source switched to a second MariaDB
 * primary that shares the GTID history (a replica of the first, promoted), with no gap.
 *
 * 1. The primary restarts (clean shutdown, start on the same data): the syncer reconnects and
 *    resumes from the committed GTID position; sysbench and the mix reconnect.
 * 2. Switch: the load stops, the old primary goes read-only, the standby has everything and is
 *    promoted (STOP SLAVE, RESET SLAVE ALL, a fresh binlog file), kingbus's syncer is stopped and
 *    started against it (the admin API's re-pointing), and the load resumes on the new primary.
 *    The replicas, attached to kingbus, never notice. The store's GTIDs go on without a gap from
 *    one server id to the other (store-checks.ts).
 */
import { performance } from "node:perf_hooks";
import { log, sleep, waitUntil } from "../harness/log.ts";
import { MariadbGtidPosition } from "../../node/src/binlog/gtid-mariadb.ts";
import { measureFailover, type Scenario } from "../harness/scenario.ts";

export const primaryChange: Scenario = {
  id: 6,
  slug: "primary",
  title: "the primary restarted, then the source switched to a second primary",
  env: () => ({ standby: true }),
  async run(ctx) {
    const { env } = ctx;
    const standby = env.standby!;
    env.startLoad();
    await sleep(4000);
    const restartAt = performance.now();
    await env.primary.restart();
    log(`primary restarted in ${((performance.now() - restartAt) / 1000).toFixed(1)} s`);
    const f = await measureFailover(env, "primary restarted", [], restartAt);
    ctx.failovers.push(f);
    ctx.check("kingbus pulls from the restarted primary again", f.pullingSeconds !== null, `pulling ${f.pullingSeconds} s after the restart began`);
    await sleep(ctx.short ? 2000 : 5000);

    // The switch.
    const old = env.primary;
    await env.stopLoad();
    await old.query("SET GLOBAL read_only = ON");
    const last = await old.gtidBinlogPos();
    await waitUntil("the standby holds the old primary's whole history", 60_000, async () => {
      const [row] = await standby.query("SELECT @@GLOBAL.gtid_slave_pos AS pos");
      return MariadbGtidPosition.parse(String(row!.pos)).equals(MariadbGtidPosition.parse(last)) ? true : undefined;
    });
    await env.waitKingbusAt(last);
    await standby.query("STOP SLAVE");
    await standby.query("RESET SLAVE ALL");
    await standby.flushBinaryLogs({ settle: true });
    const via = await env.cluster.waitForLeader();
    const switchAt = performance.now();
    await env.switchPrimary(standby, via);
    env.startLoad();
    const moved = await waitUntil("kingbus stores a transaction of the new primary", 60_000, async () => {
      const pos = MariadbGtidPosition.parse(await env.kingbusCommitted());
      return pos.gtids().some((g) => g.serverId === standby.serverId) ? performance.now() : undefined;
    });
    ctx.metrics.switchSeconds = Math.round(moved - switchAt) / 1000;
    log(`source switched from port ${old.port} to port ${standby.port} (server id ${standby.serverId}); kingbus stored its first transaction ${ctx.metrics.switchSeconds} s later`);
    const sw = await measureFailover(env, "source switched", [], switchAt);
    ctx.failovers.push(sw);
    ctx.check("the replicas follow the new primary through kingbus", sw.lagRecoverySeconds !== null, `lag under 1 s ${sw.lagRecoverySeconds} s after the switch`);
    await sleep(ctx.short ? 3000 : 8000);
  },
};
