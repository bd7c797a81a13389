/**
 * Real `kingbus node` processes on loopback: a leader is elected, writes commit identically on
 * every node, SIGKILL of the leader gives a new leader within 3 s with no committed entry lost, and
 * a killed follower restarts and catches up.
 */
import { execFile } from "node:child_process";
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../test-support/requirements.ts";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";
import { freePort } from "../../test-support/ports.ts";

const clusters: KingbusCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
});

/** Every node applied `through`, and the entries all of them still hold are identical. */
async function assertSameLog(c: KingbusCluster, ids: number[], through: number): Promise<void> {
  for (const id of ids) await c.waitForApplied(id, through);
  const logs = await Promise.all(ids.map((id) => c.entries(id)));
  const from = Math.max(...logs.map((l) => l[0]?.index ?? 1));
  const common = (log: Array<{ index: number }>) => JSON.stringify(log.filter((e) => e.index >= from && e.index <= through));
  for (const [k, log] of logs.entries()) assert.equal(common(log), common(logs[0]!), `node ${ids[k]} holds the same entries`);
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

test("members join as learners, are promoted once caught up, and are removed, while writes continue", { timeout: 120_000 }, async () => {
  const c = await KingbusCluster.create(3);
  clusters.push(c);
  const leader = await c.waitForLeader(15_000);
  let writing = true;
  let last = 0;
  let writeErrors = 0;
  const writer = (async () => {
    let target = leader;
    for (let i = 0; writing; i++) {
      try {
        last = (await c.write(target, `w-${i}`)).index;
      } catch {
        writeErrors++;
        target = await c.waitForLeader(10_000).catch(() => target);
      }
    }
  })();
  const progressed = async (since: number, phase: string): Promise<number> => {
    const deadline = Date.now() + 10_000;
    while (last <= since) {
      if (Date.now() > deadline) throw new Error(`no write committed during ${phase}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return last;
  };
  try {
    const atJoin = await progressed(0, "the start");
    await c.addJoiner(4, leader === 1 ? 2 : 1);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const s = await c.status(leader);
      if (s?.voters.includes(4)) break;
      if (Date.now() > deadline) throw new Error(`node 4 not promoted: ${JSON.stringify(s)}\n${c.node(4).stderr.join("")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const atPromotion = await progressed(atJoin, "the join");
    const members = await c.call<Array<{ name: string }>>(leader, "GET", "/cluster");
    assert.deepEqual(members.data.map((m) => m.name).sort(), ["kingbus_1", "kingbus_2", "kingbus_3", "kingbus_4"]);

    const victim = [1, 2, 3].find((id) => id !== leader)!;
    const removed = await c.call<Array<{ name: string }>>(4, "DELETE", "/members", JSON.stringify({ name: `kingbus_${victim}` }));
    assert.equal(removed.status, 200, removed.message);
    assert.ok(!removed.data.some((m) => m.name === `kingbus_${victim}`), "the answer lists the members without it");
    const s = await c.status(leader);
    assert.ok(s && !s.voters.includes(victim) && s.voters.length === 3, `membership after removal: ${JSON.stringify(s)}`);
    // A removed member is stopped by whoever removed it (the operator); it must not matter to the rest.
    await c.kill(victim);
    await progressed(atPromotion, "the removal");
  } finally {
    writing = false;
    await writer;
  }
  const voters = (await c.status(await c.waitForLeader(10_000)))!.voters;
  await assertSameLog(c, voters, last);
  assert.ok(writeErrors < 50, `few writes had to be retried (${writeErrors})`);
});

test("a follower whose data was wiped catches up from the leader's snapshot", { timeout: 120_000 }, async () => {
  const c = await KingbusCluster.create(3);
  clusters.push(c);
  const leader = await c.waitForLeader(15_000);
  let last = 0;
  for (let i = 0; i < 60; i++) last = (await c.write(leader, `early-${i}`)).index;
  await assertSameLog(c, [1, 2, 3], last);
  const follower = [1, 2, 3].find((id) => id !== leader)!;
  await c.kill(follower);
  rmSync(c.node(follower).dataDir, { recursive: true, force: true });
  const compacted = await c.call<{ firstIndex: number }>(leader, "POST", `/debug/compact?through=${last}`);
  assert.equal(compacted.status, 200, compacted.message);
  assert.equal(compacted.data.firstIndex, last + 1, "the leader forgot every entry through the last write");
  for (let i = 0; i < 20; i++) last = (await c.write(leader, `late-${i}`)).index;
  c.start(follower);
  await assertSameLog(c, [1, 2, 3], last);
  const s = await c.status(follower);
  assert.ok(s && s.firstIndex > 1, `the wiped follower's log starts after the snapshot (first index ${s?.firstIndex})`);
  for (let i = 0; i < 10; i++) last = (await c.write(leader, `after-${i}`)).index;
  await assertSameLog(c, [1, 2, 3], last);
});

test("kingbus ctl drives a running cluster over the admin gRPC service: status, members, leadership transfer", { timeout: 60_000 }, async () => {
  const c = await KingbusCluster.create(3);
  clusters.push(c);
  const leader = await c.waitForLeader(15_000);
  const ctl = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    return new Promise((resolve) => {
      execFile(join(repoRoot, "bin", "kingbus"), ["ctl", "--endpoint", `127.0.0.1:${c.node(leader).peerPort}`, ...args], (e, out, err) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }));
    });
  };
  const status = await ctl("status", "--json");
  assert.equal(status.code, 0, status.err);
  const s = JSON.parse(status.out) as { role: string; leaderId: number; members: Array<{ id: number; learner: boolean; isLeader: boolean }> };
  assert.deepEqual([s.role, s.leaderId], ["leader", leader]);
  assert.deepEqual(s.members.map((m) => [m.id, m.learner, m.isLeader]), [1, 2, 3].map((id) => [id, false, id === leader]));
  const target = [1, 2, 3].find((id) => id !== leader)!;
  const moved = await ctl("transfer-leadership", String(target));
  assert.equal(moved.code, 0, moved.err);
  assert.equal(await c.waitForLeader(10_000), target, "leadership moved where it was asked to");
  const refused = await ctl("members", "promote", "9");
  assert.equal(refused.code, 1);
  assert.match(refused.err, /^kingbus ctl: [A-Z_]+: /);
  // A leader-only call sent to a follower is forwarded to the leader and answered from there.
  const follower = [1, 2, 3].find((id) => id !== target)!;
  const viaFollower = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile(join(repoRoot, "bin", "kingbus"), ["ctl", "--endpoint", `127.0.0.1:${c.node(follower).peerPort}`, "transfer-leadership", String(follower)], (e, out, err) => resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }));
  });
  assert.equal(viaFollower.code, 0, viaFollower.err);
  assert.equal(await c.waitForLeader(10_000), follower, "the forwarded transfer ran on the leader");
});

test("/metrics on a leader under writes: replication counters, append and fsync latency, per-peer lag, term and indexes", { timeout: 60_000 }, async () => {
  const c = await KingbusCluster.create(3);
  clusters.push(c);
  const leader = await c.waitForLeader(15_000);
  let last = 0;
  for (let i = 0; i < 40; i++) last = (await c.write(leader, `m-${i}`.repeat(50))).index;
  await new Promise((r) => setTimeout(r, 1200));
  const text = await (await fetch(`http://127.0.0.1:${c.node(leader).httpPort}/metrics`)).text();
  const value = (pattern: RegExp): number => {
    const m = pattern.exec(text);
    assert.ok(m, `metric ${pattern} is exposed`);
    return Number(m[1]);
  };
  assert.ok(value(/^kingbus_raft_replicated_entries_total\{direction="sent"\} (\d+)/m) >= 2 * 40, "every write sent to both followers");
  assert.ok(value(/^kingbus_raft_replicated_bytes_total\{direction="sent"\} (\d+)/m) >= 2 * 40 * 150, "at least each payload to each follower");
  assert.ok(value(/^kingbus_storage_append_duration_seconds_count (\d+)/m) > 0);
  assert.ok(value(/^kingbus_storage_fsync_duration_seconds_count (\d+)/m) > 0);
  assert.equal(value(/^kingbus_raft_is_leader (\d+)/m), 1);
  assert.ok(value(/^kingbus_raft_term (\d+)/m) >= 1);
  assert.ok(value(/^kingbus_raft_commit_index (\d+)/m) >= last);
  const lags = [...text.matchAll(/^kingbus_raft_peer_lag_entries\{peer="(\d+)"\} (\d+)/gm)];
  assert.equal(lags.length, 2, "a lag for each follower");
  const followerText = await (await fetch(`http://127.0.0.1:${c.node([1, 2, 3].find((id) => id !== leader)!).httpPort}/metrics`)).text();
  assert.match(followerText, /^kingbus_raft_replicated_entries_total\{direction="received"\} [1-9]\d*/m);
});

test("PUT /members moves a member to a new peer URL: it comes back on another port and catches up", { timeout: 60_000 }, async () => {
  const c = await KingbusCluster.create(3);
  clusters.push(c);
  const leader = await c.waitForLeader(15_000);
  const moving = [1, 2, 3].find((id) => id !== leader)!;
  const n = c.node(moving);
  await c.kill(moving);
  // The pod comes back at another address: its own configuration says where it listens now.
  n.peerPort = await freePort();
  const config = JSON.parse(readFileSync(n.configFile, "utf8")) as { listen: { peer: string } };
  config.listen.peer = `127.0.0.1:${n.peerPort}`;
  writeFileSync(n.configFile, JSON.stringify(config));
  c.start(moving);
  let last = 0;
  for (let i = 0; i < 5; i++) last = (await c.write(leader, `moved-${i}`)).index;
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(((await c.status(moving))?.applied ?? 0) < last, "the leader cannot reach it at the old address");
  const answer = await c.call<Array<{ Id: number; name: string; peerURLs: string[] }>>(leader, "PUT", "/members", JSON.stringify({ name: n.name, new_peer_url: `http://127.0.0.1:${n.peerPort}` }));
  assert.equal(answer.status, 200, answer.message);
  assert.deepEqual(answer.data.find((m) => m.name === n.name)?.peerURLs, [`http://127.0.0.1:${n.peerPort}`]);
  for (let i = 0; i < 5; i++) last = (await c.write(leader, `after-move-${i}`)).index;
  await c.waitForApplied(moving, last, 15_000);
  assert.deepEqual(await c.entries(moving, 1), await c.entries(leader, 1));
  // Every member learned the new address (it was committed, not just set on the leader).
  const other = [1, 2, 3].find((id) => id !== leader && id !== moving)!;
  const seen = await c.call<Array<{ name: string; peerURLs: string[] }>>(other, "GET", "/cluster");
  assert.deepEqual(seen.data.find((m) => m.name === n.name)?.peerURLs, [`http://127.0.0.1:${n.peerPort}`]);
  const unknown = await c.call(leader, "PUT", "/members", JSON.stringify({ name: "kingbus_99", new_peer_url: "http://127.0.0.1:1" }));
  assert.equal(unknown.status, 404);
});
