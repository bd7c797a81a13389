/**
 * Kingbus as a follower of a MariaDB primary, for the ingest benchmark: three `kingbus node`
 * processes (fsync on, as in production) whose syncer pulls the primary's binlog. Its position is
 * read through the public admin API (GET /binlog/syncer/status on the leader), the executed GTID
 * set of what is committed on a majority and applied on the leader.
 */
import { KingbusCluster } from "../../node/test-support/kingbus-cluster.ts";
import type { MariadbServer } from "../../node/test-support/mariadb.ts";
import { createReplicationUser, startSyncer } from "../../node/test-support/syncer-harness.ts";
import type { KingbusFollower } from "../ingest.bench.ts";

export async function startKingbusFollower(primary: MariadbServer): Promise<KingbusFollower> {
  await createReplicationUser(primary);
  const cluster = await KingbusCluster.create(3);
  try {
    const leader = await cluster.waitForLeader(20_000);
    await startSyncer(cluster, leader, primary, { heartbeat_period: 1 });
    let current = leader;
    const position = async (): Promise<string> => {
      // Ask the leader known last; a follower would forward, at the cost of one more hop.
      for (let attempt = 0; attempt < 3; attempt++) {
        const r = await cluster.call<{ executed_gtid_set?: string }>(current, "GET", "/binlog/syncer/status").catch(() => undefined);
        if (r?.status === 200 && typeof r.data.executed_gtid_set === "string") return r.data.executed_gtid_set;
        current = await cluster.waitForLeader(5000);
      }
      throw new Error("kingbus: no syncer status from the leader");
    };
    // Connected once the syncer reports running.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await cluster.call<{ phase?: string; last_error?: string }>(leader, "GET", "/binlog/syncer/status");
      if (r.data.phase === "running") break;
      if (Date.now() > deadline) throw new Error(`kingbus syncer not running: ${r.data.last_error ?? r.message}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    return {
      position,
      stop: () => cluster.stop(),
      pids: () => cluster.nodes.map((n) => n.child?.pid).filter((p): p is number => p !== undefined),
      description: "3 kingbus node processes on this machine, every append fdatasync'd, syncer on the leader (entries of up to 1 MiB of whole transactions)",
    };
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}
