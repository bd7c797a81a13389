/**
 * Real `kingbus node` processes on loopback: a leader is elected, writes commit identically on
 * every node, SIGKILL of the leader gives a new leader within 3 s with no committed entry lost, and
 * a killed follower restarts and catches up.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";

const clusters: KingbusCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
});

async function assertSameLog(c: KingbusCluster, ids: number[], through: number): Promise<void> {
  for (const id of ids) await c.waitForApplied(id, through);
  const logs = await Promise.all(ids.map((id) => c.entries(id)));
  const reference = JSON.stringify(logs[0]!.filter((e) => e.index <= through));
  for (const [k, log] of logs.entries()) assert.equal(JSON.stringify(log.filter((e) => e.index <= through)), reference, `node ${ids[k]} holds the same entries`);
}

for (const size of [3, 5]) {
  test(`${size} kingbus node processes: election, identical commits, leader SIGKILL, follower restart`, { timeout: 120_000 }, async () => {
    const c = await KingbusCluster.create(size);
    clusters.push(c);
    const ids = c.nodes.map((n) => n.id);
    const leader = await c.waitForLeader(15_000);
    let last = 0;
    for (let i = 0; i < 50; i++) last = (await c.write(leader, `before-${i}`)).index;
    await assertSameLog(c, ids, last);

    const killedAt = Date.now();
    await c.kill(leader);
    const next = await c.waitForLeader(10_000, [leader]);
    const failoverMs = Date.now() - killedAt;
    assert.notEqual(next, leader);
    assert.ok(failoverMs < 3000, `new leader after ${failoverMs} ms`);
    const survivors = ids.filter((id) => id !== leader);
    const afterKill = await c.entries(next);
    assert.ok(afterKill.filter((e) => e.index <= last).length === last, "no committed entry lost");
    for (let i = 0; i < 30; i++) last = (await c.write(next, `after-${i}`)).index;
    await assertSameLog(c, survivors, last);

    c.start(leader);
    await assertSameLog(c, ids, last);
    const follower = survivors.find((id) => id !== next)!;
    await c.kill(follower);
    for (let i = 0; i < 30; i++) last = (await c.write(next, `follower-down-${i}`)).index;
    c.start(follower);
    await assertSameLog(c, ids, last);
    process.stderr.write(`# ${size} nodes: failover ${failoverMs} ms\n`);
  });
}
