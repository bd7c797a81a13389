/**
 * The controller with real `kingbus node` processes as the StatefulSet's pods (PodRunner): a new
 * cluster becomes Available; 3 -> 5 -> 3 while writes go on, with leadership on the member that
 * goes first, and no acknowledged write lost; a pod whose volume is replaced leaves the membership,
 * joins again as a learner, and holds the whole log.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startFakeApiServer, type FakeApiServer, type Obj, type StatefulSetSimulator } from "../../test-support/apiserver/index.ts";
import { eventually } from "../../test-support/apiserver/testing.ts";
import { PodRunner, type WriteAck } from "../../test-support/pods.ts";
import { kingbusClusterCrd } from "../api/crd.ts";
import { findCondition } from "../api/conditions.ts";
import { kingbusClusterStatusSchema, type KingbusClusterStatus } from "../api/kingbus-cluster.ts";
import { FIELD_MANAGER } from "../desired/names.ts";
import { KubeClient } from "../kube/index.ts";
import { OperatorController } from "./controller.ts";

const NS = "pods";
let api: FakeApiServer;
let sim: StatefulSetSimulator;
let runner: PodRunner;
let operator: OperatorController;

before(async () => {
  api = await startFakeApiServer({ bookmarkIntervalMs: 500 });
  api.registerCrd(kingbusClusterCrd() as unknown as Obj);
  sim = api.simulateStatefulSets({ podReady: false });
  api.createNamespace(NS);
  runner = await PodRunner.start({ api, sim, namespace: NS, cluster: "orders" });
  operator = new OperatorController({
    client: new KubeClient(api.kubeConfig(), { fieldManager: FIELD_MANAGER }),
    namespaces: [NS],
    defaultImage: "kingbus:test",
    identity: "operator-0",
    network: runner,
    progressIntervalMs: 300,
    retryIntervalMs: 1_000,
    refreshIntervalMs: 2_000,
    backoff: { baseMs: 200, maxMs: 2_000 },
    processMetrics: false,
  });
  await operator.start();
});
after(async () => {
  await operator?.stop();
  await runner?.stop();
  await api?.close();
});

function status(): KingbusClusterStatus | undefined {
  const raw = api.object("KingbusCluster", NS, "orders")?.status;
  return raw === undefined ? undefined : kingbusClusterStatusSchema.parse(raw);
}

/** Available, not progressing, every member a healthy voter, as many as asked, pods too. */
function settled(replicas: number): boolean {
  const s = status();
  return findCondition(s?.conditions, "Available")?.status === "True" && findCondition(s?.conditions, "Progressing")?.status === "False" &&
    findCondition(s?.conditions, "Degraded")?.status === "False" && s?.readyMembers === replicas && s.members?.length === replicas &&
    s.members.every((m) => m.healthy && (m.role === "Leader" || m.role === "Follower")) && runner.runningOrdinals().length === replicas;
}

function describe(): string {
  return JSON.stringify({ status: status(), running: runner.runningOrdinals() });
}

function eventReasons(): string[] {
  return api.objects("Event", NS).map((e) => `${String(e.reason)}: ${String(e.message)}`);
}

/** Every acknowledged write is in every listed member's applied log, at its index, byte for byte. */
async function assertNoWriteLost(acks: readonly WriteAck[], ordinals: readonly number[]): Promise<void> {
  const last = Math.max(...acks.map((a) => a.index));
  for (const o of ordinals) {
    await eventually(async () => ((await runner.debug<{ applied: number }>(o, "/debug/status"))?.applied ?? 0) >= last, 20_000, `member ${o} applied ${last}`);
    const entries = await runner.entries(o);
    const missing = acks.filter((a) => entries.get(a.index) !== a.sha256);
    assert.deepEqual(missing, [], `member ${o} holds every acknowledged write`);
  }
}

test("a new cluster of 3 real pods becomes Available", { timeout: 60_000 }, async () => {
  const t0 = Date.now();
  api.create({ apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name: "orders", namespace: NS }, spec: { replicas: 3, logLevel: "warn" } });
  await eventually(() => settled(3), 45_000, "3 members Available").catch((e: unknown) => assert.fail(`${String(e)}\n${describe()}\n${runner.stderrOf(0)}`));
  const ms = Date.now() - t0;
  const s = status()!;
  assert.equal(s.members!.filter((m) => m.role === "Leader").length, 1);
  assert.ok(s.leader?.startsWith("kingbus-orders-"));
  assert.deepEqual(runner.starts.map((x) => x.mode), ["bootstrap", "bootstrap", "bootstrap"]);
  process.stderr.write(`# created: Available after ${ms} ms\n`);
});

test("3 -> 5 -> 3 with writes going on: learners promoted one at a time, leadership moved off the member that goes, no write lost", { timeout: 120_000 }, async () => {
  const acks: WriteAck[] = [];
  let writing = true;
  let failures = 0;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      try {
        acks.push(await runner.write(`w-${i}`));
      } catch {
        failures++;
      }
    }
  })();
  const progressed = async (since: number, phase: string): Promise<void> => eventually(() => acks.length > since + 5, 15_000, `writes during ${phase}`);
  try {
    await progressed(0, "the start");
    const t0 = Date.now();
    let maxLearners = 0;
    const sampler = setInterval(() => {
      maxLearners = Math.max(maxLearners, status()?.members?.filter((m) => m.role === "Learner").length ?? 0);
    }, 20);
    api.mergePatch("KingbusCluster", NS, "orders", { spec: { replicas: 5 } });
    await eventually(() => settled(5), 60_000, "5 members").catch((e: unknown) => assert.fail(`${String(e)}\n${describe()}\n${runner.stderrOf(3)}\n${runner.stderrOf(4)}`));
    clearInterval(sampler);
    const upMs = Date.now() - t0;
    assert.ok(maxLearners <= 1, `at most one learner at a time (saw ${maxLearners})`);
    const atFive = acks.length;
    await progressed(atFive, "5 members");
    assert.deepEqual(runner.starts.slice(3).map((x) => [x.ordinal, x.mode]), [[3, "join"], [4, "join"]]);

    // The member that goes first leads: the operator moves leadership before removing it.
    await runner.transferLeadership(4);
    await eventually(async () => (await runner.leader()) === 4, 10_000, "member 4 leads");
    const t1 = Date.now();
    api.mergePatch("KingbusCluster", NS, "orders", { spec: { replicas: 3 } });
    await eventually(() => settled(3), 60_000, "back to 3 members").catch((e: unknown) => assert.fail(`${String(e)}\n${describe()}`));
    const downMs = Date.now() - t1;
    await progressed(acks.length, "3 members again");
    process.stderr.write(`# 3 -> 5 in ${upMs} ms, 5 -> 3 in ${downMs} ms; ${acks.length} writes acknowledged, ${failures} retried\n`);
  } finally {
    writing = false;
    await writer;
  }
  assert.equal(Number((api.object("StatefulSet", NS, "kingbus-orders")!.spec as Obj).replicas), 3);
  assert.equal((api.object("PodDisruptionBudget", NS, "kingbus-orders")!.spec as Obj).maxUnavailable, 1);
  await assertNoWriteLost(acks, [0, 1, 2]);
  const reasons = eventReasons();
  for (const r of ["Scaled", "MemberAdded", "LeadershipTransferred", "MemberRemoved"]) assert.ok(reasons.some((x) => x.startsWith(`${r}:`)), `event ${r}: ${reasons.join("\n")}`);
  assert.ok(reasons.some((x) => /leadership moved from kingbus-orders-4/.test(x)), "leadership moved off member 4 before its removal");
});

test("a pod whose volume is replaced leaves the membership, joins again as a learner and holds the whole log", { timeout: 90_000 }, async () => {
  const acks: WriteAck[] = [];
  for (let i = 0; i < 30; i++) acks.push(await runner.write(`before-replace-${i}`));
  const leader = await runner.leader();
  const victim = [0, 1, 2].find((o) => o !== leader)!;
  const startsBefore = runner.starts.length;
  const t0 = Date.now();
  runner.replaceVolume(victim);
  await eventually(() => eventReasons().some((x) => x.startsWith(`MemberRemoved: removed kingbus-orders-${victim}`) && /volume was replaced/.test(x)), 30_000, "the member with the new volume removed")
    .catch((e: unknown) => assert.fail(`${String(e)}\n${describe()}\n${eventReasons().join("\n")}`));
  // Added back as a learner (the status of the pass that removed it still shows the old facts).
  await eventually(() => eventReasons().some((x) => x.startsWith(`MemberAdded: added kingbus-orders-${victim}`)), 30_000, "the member added again")
    .catch((e: unknown) => assert.fail(`${String(e)}\n${describe()}\n${eventReasons().join("\n")}`));
  const voter = async (): Promise<boolean> => {
    const l = await runner.leader();
    return l !== undefined && ((await runner.debug<{ voters: number[] }>(l, "/debug/status"))?.voters ?? []).includes(victim + 1);
  };
  await eventually(async () => (await voter()) && settled(3), 45_000, "the member back as a voter").catch((e: unknown) => assert.fail(`${String(e)}\n${describe()}\n${runner.stderrOf(victim)}`));
  const ms = Date.now() - t0;
  const restart = runner.starts.slice(startsBefore).find((x) => x.ordinal === victim);
  assert.ok(restart !== undefined, "the pod was started again");
  for (let i = 0; i < 10; i++) acks.push(await runner.write(`after-replace-${i}`));
  await assertNoWriteLost(acks, [0, 1, 2]);
  process.stderr.write(`# volume of member ${victim} replaced: back as a voter after ${ms} ms\n`);
});
