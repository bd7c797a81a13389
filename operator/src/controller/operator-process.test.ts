/**
 * `kingbus operator` as a real process (operator/test-support/operator-process.ts: the command's own
 * registration and configuration) against the in-process API server, with real `kingbus node`
 * processes as pods, crashed by KINGBUS_OPERATOR_FAILPOINT at each step of a create, a 3 -> 5 and a
 * 5 -> 3 while writes go on: every crash exits with status 1 right after its step, the next
 * process finishes the job from the facts, and no acknowledged write is lost. Also: a
 * configuration the command refuses exits with status 2 and names the setting.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer, type FakeApiServer, type Obj, type StatefulSetSimulator } from "../../test-support/apiserver/index.ts";
import { eventually } from "../../test-support/apiserver/testing.ts";
import { PodRunner, type WriteAck } from "../../test-support/pods.ts";
import { expectCrashAt, spawnOperator, type OperatorProcess } from "../../test-support/operators.ts";
import { kingbusClusterCrd } from "../api/crd.ts";
import { findCondition } from "../api/conditions.ts";
import { kingbusClusterStatusSchema, type KingbusClusterStatus } from "../api/kingbus-cluster.ts";
import type { FailpointName } from "./failpoints.ts";

const NS = "crash";
let api: FakeApiServer;
let sim: StatefulSetSimulator;
let runner: PodRunner;
let dir: string;
let kubeconfig: string;
const started: OperatorProcess[] = [];

before(async () => {
  api = await startFakeApiServer({ bookmarkIntervalMs: 500 });
  api.registerCrd(kingbusClusterCrd() as unknown as Obj);
  sim = api.simulateStatefulSets({ podReady: false });
  api.createNamespace(NS);
  runner = await PodRunner.start({ api, sim, namespace: NS, cluster: "orders" });
  dir = mkdtempSync(join(tmpdir(), "kingbus-operator-process-"));
  kubeconfig = join(dir, "kubeconfig.json");
  writeFileSync(kubeconfig, api.kubeConfig({ namespace: NS }).exportConfig());
});
after(async () => {
  for (const p of started) p.kill();
  await runner?.stop();
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

let instance = 0;

function startOperator(failpoint: FailpointName | undefined, options: { leaderElection?: boolean; env?: Record<string, string>; podName?: string } = {}): OperatorProcess {
  const p = spawnOperator({ kubeconfig, runner, namespace: NS, podName: options.podName ?? `operator-${++instance}`, ...(failpoint === undefined ? {} : { failpoint }), ...options });
  started.push(p);
  return p;
}

const crashAt = expectCrashAt;

function status(): KingbusClusterStatus | undefined {
  const raw = api.object("KingbusCluster", NS, "orders")?.status;
  return raw === undefined ? undefined : kingbusClusterStatusSchema.parse(raw);
}

function settled(replicas: number): boolean {
  const s = status();
  return findCondition(s?.conditions, "Available")?.status === "True" && findCondition(s?.conditions, "Progressing")?.status === "False" &&
    s?.readyMembers === replicas && s.members?.length === replicas && s.members.every((m) => m.healthy && (m.role === "Leader" || m.role === "Follower")) &&
    runner.runningOrdinals().length === replicas;
}

function stsReplicas(): number | undefined {
  const sts = api.object("StatefulSet", NS, "kingbus-orders");
  return sts === undefined ? undefined : Number((sts.spec as Obj).replicas);
}

async function membership(): Promise<{ voters: number[]; learners: number[] }> {
  const leader = await runner.leader();
  const s = leader === undefined ? undefined : await runner.debug<{ voters: number[]; learners: number[] }>(leader, "/debug/status");
  return { voters: [...(s?.voters ?? [])].sort((a, b) => a - b), learners: [...(s?.learners ?? [])].sort((a, b) => a - b) };
}

/** The voters are these (the state is still: no operator runs; only a leader must answer). */
async function votersAre(want: number[], what: string): Promise<void> {
  await eventually(async () => JSON.stringify((await membership()).voters) === JSON.stringify(want), 10_000, `${what}: voters ${JSON.stringify(want)} (now ${JSON.stringify(await membership())})`);
}

test("a configuration the command refuses exits with status 2 and names the setting", async () => {
  const p = startOperator(undefined, { env: { KINGBUS_OPERATOR_FAILPOINT: "after-lunch" } });
  assert.equal(await p.exited, 2);
  assert.match(p.stderr.join(""), /kingbus operator: invalid configuration: KINGBUS_OPERATOR_FAILPOINT: unknown failpoint "after-lunch"/);
  const q = spawnOperator({ kubeconfig: join(dir, "missing.json"), runner, namespace: NS, podName: "operator-x" });
  started.push(q);
  assert.equal(await q.exited, 2);
  assert.match(q.stderr.join(""), /kingbus operator: invalid configuration: kubeconfig: cannot load .*missing\.json/);
});

test("crashed at every step of create, 3 -> 5 and 5 -> 3 with writes going on: each restart finishes the job, no write lost", { timeout: 240_000 }, async () => {
  const t0 = Date.now();
  const lap = (what: string): void => {
    process.stderr.write(`# ${what}: ${Date.now() - t0} ms\n`);
  };
  api.create({ apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name: "orders", namespace: NS }, spec: { replicas: 3, logLevel: "warn" } });

  // Creation: crash after the first apply (StatefulSet at 0 replicas), then after the scale.
  await crashAt(startOperator("after-apply"), "after-apply");
  assert.equal(stsReplicas(), 0, "the StatefulSet was applied with its replicas held at 0");
  await crashAt(startOperator("after-scale"), "after-scale");
  assert.equal(stsReplicas(), 3);
  lap("created through two crashes");

  // A run that converges, then crashes after adding the first learner of 3 -> 5.
  let op = startOperator("after-add-learner");
  await eventually(() => settled(3), 45_000, "3 members Available").catch((e: unknown) => assert.fail(`${String(e)}\n${op.stderr.join("")}`));
  const acks: WriteAck[] = [];
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      try {
        acks.push(await runner.write(`w-${i}`));
      } catch {
        // leadership moving: the next write retries
      }
    }
  })();
  try {
    await eventually(() => acks.length > 5, 10_000, "writes");
    api.mergePatch("KingbusCluster", NS, "orders", { spec: { replicas: 5 } });
    await crashAt(op, "after-add-learner");
    assert.equal(stsReplicas(), 4);
    await eventually(async () => (await membership()).voters.includes(4) || (await membership()).learners.includes(4), 10_000, "member 4 (ordinal 3) in the membership");
    lap("crashed after adding a learner");

    // The next run finishes 3 -> 5; then the member that goes first is made the leader.
    op = startOperator("after-transfer");
    await eventually(() => settled(5), 60_000, "5 members").catch((e: unknown) => assert.fail(`${String(e)}\n${op.stderr.join("")}`));
    lap("5 members");
    await runner.transferLeadership(4);
    await eventually(async () => (await runner.leader()) === 4, 10_000, "ordinal 4 leads");
    api.mergePatch("KingbusCluster", NS, "orders", { spec: { replicas: 3 } });
    await crashAt(op, "after-transfer");
    await eventually(async () => { const l = await runner.leader(); return l !== undefined && l !== 4; }, 10_000, "leadership moved off ordinal 4");
    await votersAre([1, 2, 3, 4, 5], "nobody removed yet");

    await crashAt(startOperator("after-remove"), "after-remove");
    await votersAre([1, 2, 3, 4], "member 5 removed, its pod still there");
    assert.equal(stsReplicas(), 5);
    await crashAt(startOperator("after-scale"), "after-scale");
    assert.equal(stsReplicas(), 4);
    lap("crashed after transfer, remove, scale");

    op = startOperator(undefined);
    await eventually(() => settled(3), 60_000, "back to 3").catch((e: unknown) => assert.fail(`${String(e)}\n${op.stderr.join("")}`));
    lap("3 members again");
    const n = acks.length;
    await eventually(() => acks.length > n + 5, 10_000, "writes after the last restart");
  } finally {
    writing = false;
    await writer;
  }
  await votersAre([1, 2, 3], "back to 3");
  const last = Math.max(...acks.map((a) => a.index));
  for (const o of [0, 1, 2]) {
    await eventually(async () => ((await runner.debug<{ applied: number }>(o, "/debug/status"))?.applied ?? 0) >= last, 20_000, `member ${o} applied ${last}`);
    const entries = await runner.entries(o);
    assert.deepEqual(acks.filter((a) => entries.get(a.index) !== a.sha256), [], `member ${o} holds every acknowledged write`);
  }
  // SIGTERM: a clean stop.
  op.child.kill("SIGTERM");
  assert.equal(await op.exited, 0);
  process.stderr.write(`# ${acks.length} writes acknowledged across 7 operator processes, none lost\n`);
});

test("with leader election: an operator that crashes holding the Lease is succeeded once the lease expires; a clean stop releases it", { timeout: 120_000 }, async () => {
  const holder = (): string | undefined => ((api.object("Lease", NS, "kingbus-operator")?.spec ?? {}) as Obj).holderIdentity as string | undefined;
  const a = startOperator("after-scale", { leaderElection: true, podName: "operator-a" });
  await eventually(() => holder() === "operator-a", 20_000, "operator-a holds the Lease");
  api.mergePatch("KingbusCluster", NS, "orders", { spec: { replicas: 5 } });
  await crashAt(a, "after-scale");
  const crashedAt = Date.now();
  const b = startOperator(undefined, { leaderElection: true, podName: "operator-b" });
  await eventually(() => holder() === "operator-b", 40_000, "operator-b takes the Lease over");
  const takeoverMs = Date.now() - crashedAt;
  assert.ok(takeoverMs >= 10_000, `the crashed holder's lease had to expire first (took ${takeoverMs} ms)`);
  await eventually(() => settled(5), 60_000, "operator-b finishes 3 -> 5").catch((e: unknown) => assert.fail(`${String(e)}\n${b.stderr.join("")}`));
  b.child.kill("SIGTERM");
  assert.equal(await b.exited, 0);
  assert.equal(holder(), "", "a clean stop releases the Lease");
  process.stderr.write(`# lease takeover after a crash: ${takeoverMs} ms\n`);
});
