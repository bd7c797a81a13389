/**
 * The reconcile pass against the in-process API server (real HTTP, the StatefulSet simulator
 * creating pods and claims) with a fake kingbus cluster behind the admin calls: what a pass
 * applies, the order of membership steps, crashes at every failpoint, a replaced volume, the
 * syncer and server from the spec, and the status it writes.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startFakeApiServer, type FakeApiServer, type Obj } from "../../test-support/apiserver/index.ts";
import { kingbusClusterCrd } from "../api/crd.ts";
import { findCondition } from "../api/conditions.ts";
import { kingbusClusterStatusSchema, type KingbusClusterSpecInput, type KingbusClusterStatus } from "../api/kingbus-cluster.ts";
import { FIELD_MANAGER } from "../desired/names.ts";
import { EventRecorder, KubeClient } from "../kube/index.ts";
import type { StatefulSetSimulator } from "../../test-support/apiserver/index.ts";
import { FAILPOINTS, FailpointCrash, type FailpointName } from "./failpoints.ts";
import { ANNOTATION_MEMBER_VOLUMES, mergePatch, Reconciler, type ReconcileAction, type ReconcileResult } from "./reconcile.ts";
import { FakeKingbus, type FakeKingbusOptions } from "./testing/fake-kingbus.ts";

const REFRESH_MS = 60_000;
let api: FakeApiServer;
let sim: StatefulSetSimulator;
let client: KubeClient;
let namespaceCounter = 0;

before(async () => {
  api = await startFakeApiServer();
  api.registerCrd(kingbusClusterCrd() as unknown as Obj);
  sim = api.simulateStatefulSets();
  client = new KubeClient(api.kubeConfig(), { fieldManager: FIELD_MANAGER });
});
after(() => api.close());

interface Setup {
  ns: string;
  name: string;
  fake: FakeKingbus;
  actions: ReconcileAction[];
  reconciler: (failpoint?: (name: FailpointName) => void) => Reconciler;
}

function setup(spec: KingbusClusterSpecInput = {}, options: FakeKingbusOptions = {}): Setup {
  const ns = `r${++namespaceCounter}`;
  const name = "orders";
  api.createNamespace(ns);
  api.create({ apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name, namespace: ns }, spec: spec as Obj });
  const fake = new FakeKingbus(api, ns, name, options);
  const actions: ReconcileAction[] = [];
  const events = new EventRecorder(client, { component: FIELD_MANAGER, instance: "test" });
  return {
    ns, name, fake, actions,
    reconciler: (failpoint) => new Reconciler({
      client, admin: fake, network: fake, defaultImage: "kingbus:test", events, progressIntervalMs: 1, refreshIntervalMs: REFRESH_MS,
      onAction: (a) => actions.push(a), ...(failpoint === undefined ? {} : { failpoint }), newToken: () => `token-${ns}`,
    }),
  };
}

/**
 * Passes until one finds nothing to do; each pass first lets the simulator catch up. A pass that
 * crashes at a failpoint is followed by a new operator (`next()`), as after a restart.
 */
async function converge(s: Setup, next: () => Reconciler = () => s.reconciler(), maxPasses = 60): Promise<ReconcileResult[]> {
  const results: ReconcileResult[] = [];
  let r = next();
  for (let i = 0; i < maxPasses; i++) {
    await sim.idle();
    let res: ReconcileResult;
    try {
      res = await r.reconcile(s.ns, s.name);
    } catch (e) {
      if (!(e instanceof FailpointCrash)) throw e;
      r = next();
      continue;
    }
    results.push(res);
    if (res.requeueAfterMs === REFRESH_MS) return results;
  }
  assert.fail(`not converged in ${maxPasses} passes: ${JSON.stringify(results.slice(-3).map((x) => ({ step: x.step, problems: x.problems })))}`);
}

function statusOf(s: Setup): KingbusClusterStatus {
  return kingbusClusterStatusSchema.parse(api.object("KingbusCluster", s.ns, s.name)!.status);
}

function spec(s: Setup, patch: Obj): void {
  api.mergePatch("KingbusCluster", s.ns, s.name, { spec: patch });
}

function eventReasons(s: Setup): string[] {
  return api.objects("Event", s.ns).map((e) => String(e.reason));
}

function stsReplicas(s: Setup): number {
  return Number((api.object("StatefulSet", s.ns, `kingbus-${s.name}`)!.spec as Obj).replicas);
}

test("a new cluster: the token Secret, every owned object applied under the field manager with owner references, pods, an Available status", async () => {
  const s = setup();
  const results = await converge(s);
  const cluster = api.object("KingbusCluster", s.ns, s.name)!;
  const uid = (cluster.metadata as Obj).uid;
  for (const [kind, name] of [["ConfigMap", "kingbus-orders-config"], ["Service", "kingbus-orders-peers"], ["Service", "kingbus-orders"], ["StatefulSet", "kingbus-orders"], ["PodDisruptionBudget", "kingbus-orders"], ["Secret", "kingbus-orders-admin-token"]] as const) {
    const o = api.object(kind, s.ns, name);
    assert.ok(o !== undefined, `${kind} ${name} exists`);
    const m = o.metadata as Obj;
    assert.deepEqual((m.ownerReferences as Obj[]).map((r) => [r.kind, r.uid, r.controller]), [["KingbusCluster", uid, true]], `${kind} ${name} is owned by the cluster`);
    if (kind !== "Secret") assert.ok((m.managedFields as Obj[]).some((f) => f.manager === FIELD_MANAGER && f.operation === "Apply"), `${kind} ${name} applied server-side`);
  }
  assert.equal(stsReplicas(s), 3);
  assert.equal((api.object("PodDisruptionBudget", s.ns, "kingbus-orders")!.spec as Obj).maxUnavailable, 1);
  assert.equal(api.objects("Pod", s.ns).length, 3);
  // The first pass applies the StatefulSet at 0 replicas, then scales it (a crash in between is safe).
  assert.deepEqual(results[0]!.step, { kind: "scale-statefulset", replicas: 3 });
  const stsApplies = api.requests.filter((r) => r.resource === "statefulsets" && r.verb === "patch" && r.namespace === s.ns);
  assert.equal(stsApplies.length >= 2, true, "the StatefulSet was applied, then scaled");
  const st = statusOf(s);
  assert.equal(findCondition(st.conditions, "Available")?.status, "True");
  assert.equal(findCondition(st.conditions, "Progressing")?.status, "False");
  assert.equal(findCondition(st.conditions, "Degraded")?.status, "False");
  assert.equal(st.leader, "kingbus-orders-0");
  assert.equal(st.readyMembers, 3);
  assert.deepEqual(st.members!.map((m) => [m.name, m.role, m.healthy]), [["kingbus-orders-0", "Leader", true], ["kingbus-orders-1", "Follower", true], ["kingbus-orders-2", "Follower", true]]);
  assert.equal(st.observedGeneration, (cluster.metadata as Obj).generation);
  assert.ok(eventReasons(s).includes("AdminTokenCreated") && eventReasons(s).includes("Scaled"));
  // Nothing moves once converged: no writes at all.
  const rv = api.resourceVersion;
  const again = await s.reconciler().reconcile(s.ns, s.name);
  assert.equal(again.step?.kind, "done");
  assert.equal(api.resourceVersion, rv, "a pass over a converged cluster writes nothing");
});

test("scale 3 -> 5 -> 3: one step per pass, a learner at a time, leadership moved off a member before it goes", async () => {
  const s = setup();
  await converge(s);
  spec(s, { replicas: 5 });
  const up = await converge(s);
  const steps = up.map((r) => r.step!).filter((st) => st.kind !== "done" && st.kind !== "wait");
  assert.deepEqual(steps, [
    { kind: "scale-statefulset", replicas: 4 }, { kind: "add-learner", ordinal: 3, id: 4 },
    { kind: "scale-statefulset", replicas: 5 }, { kind: "add-learner", ordinal: 4, id: 5 },
  ]);
  assert.equal(s.actions.filter((a) => a === "promote-learner").length, 2, "the operator promoted each learner once it caught up");
  assert.equal(s.fake.maxLearners, 1, "never two members catching up");
  assert.deepEqual(s.fake.membership(), [0, 1, 2, 3, 4].map((o) => [o, "voter"]));
  assert.equal((api.object("PodDisruptionBudget", s.ns, "kingbus-orders")!.spec as Obj).maxUnavailable, 2);

  // The highest member leads: it hands leadership over before it is removed.
  s.fake.leaderId = 5;
  spec(s, { replicas: 3 });
  const down = await converge(s);
  const downSteps = down.map((r) => r.step!).filter((st) => st.kind !== "done" && st.kind !== "wait");
  assert.deepEqual(downSteps, [
    { kind: "transfer-leadership", fromOrdinal: 4, toOrdinal: 0 }, { kind: "remove-member", ordinal: 4, id: 5 }, { kind: "scale-statefulset", replicas: 4 },
    { kind: "remove-member", ordinal: 3, id: 4 }, { kind: "scale-statefulset", replicas: 3 },
  ]);
  assert.deepEqual(s.fake.membership(), [0, 1, 2].map((o) => [o, "voter"]));
  assert.equal(api.objects("Pod", s.ns).length, 3);
  assert.equal(api.objects("PersistentVolumeClaim", s.ns).length, 3, "claims of pods scaled away are deleted (whenScaled: Delete)");
  // A member is removed before its pod goes: every removal precedes the scale that follows it.
  const removeCalls = s.fake.calls.filter((c) => c.method === "RemoveMember");
  assert.equal(removeCalls.length, 2);
  assert.ok(removeCalls.every((c) => c.ordinal === 0), "membership changes go to the leader");
  for (const r of ["Scaled", "MemberAdded", "MemberPromoted", "LeadershipTransferred", "MemberRemoved"]) assert.ok(eventReasons(s).includes(r), `event ${r}`);
  assert.equal(findCondition(statusOf(s).conditions, "Progressing")?.status, "False");
});

test("pods that join by themselves, and a leader that promotes its learners: the operator's calls meet MEMBER_EXISTS and carry on", async () => {
  const s = setup({}, { selfJoin: true, autoPromote: true });
  await converge(s);
  spec(s, { replicas: 5 });
  await converge(s);
  assert.deepEqual(s.fake.membership(), [0, 1, 2, 3, 4].map((o) => [o, "voter"]));
});

/** Create, grow to 5 with leadership on the last member, shrink to 3, syncer and server on and off. */
async function fullScenario(s: Setup, next: () => Reconciler): Promise<void> {
  await converge(s, next);
  spec(s, { replicas: 5 });
  await converge(s, next);
  s.fake.leaderId = 5;
  spec(s, { replicas: 3 });
  await converge(s, next);
  spec(s, { syncer: { enabled: true, source: { host: "db.example" }, credentialsSecret: { name: "repl" }, serverId: 7 }, server: { enabled: true, usersSecret: { name: "readers" } } });
  await converge(s, next);
  spec(s, { syncer: { enabled: false }, server: { enabled: false } });
  await converge(s, next);
}

for (const failpoint of FAILPOINTS) {
  test(`a crash at ${failpoint}: the next operator finishes the job from the facts`, async () => {
    const s = setup();
    api.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "repl", namespace: s.ns }, stringData: { username: "kb_repl", password: "pw" } });
    api.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "readers", namespace: s.ns }, stringData: { username: "reader", password: "rpw" } });
    let crashes = 0;
    // Each "process" crashes the first time it reaches the failpoint; a new one takes over.
    const next = (): Reconciler => {
      let armed = crashes < 3;
      return s.reconciler((name) => {
        if (name === failpoint && armed) {
          armed = false;
          crashes++;
          throw new FailpointCrash(name);
        }
      });
    };
    await fullScenario(s, next);
    assert.ok(crashes >= 1, `the failpoint ${failpoint} was reached`);
    assert.deepEqual(s.fake.membership(), [0, 1, 2].map((o) => [o, "voter"]));
    assert.equal(stsReplicas(s), 3);
    assert.equal(s.fake.syncer.running, false);
    assert.ok([...s.fake.servers.values()].every((v) => !v.running));
    assert.equal(s.fake.maxLearners, 1);
    const st = statusOf(s);
    assert.equal(findCondition(st.conditions, "Available")?.status, "True");
    assert.equal(findCondition(st.conditions, "Progressing")?.status, "False");
  });
}

test("a member whose volume was replaced leaves the membership and joins again as a learner", async () => {
  const s = setup();
  await converge(s);
  const recorded = JSON.parse(String((api.object("KingbusCluster", s.ns, s.name)!.metadata as Obj & { annotations: Obj }).annotations[ANNOTATION_MEMBER_VOLUMES])) as Record<string, string>;
  assert.deepEqual(Object.keys(recorded).sort(), ["0", "1", "2"]);
  const oldUid = recorded["1"]!;
  api.delete("PersistentVolumeClaim", s.ns, "data-kingbus-orders-1");
  api.delete("Pod", s.ns, "kingbus-orders-1");
  await sim.idle();
  const newUid = String((api.object("PersistentVolumeClaim", s.ns, "data-kingbus-orders-1")!.metadata as Obj).uid);
  assert.notEqual(newUid, oldUid);
  const results = await converge(s);
  const steps = results.map((r) => r.step!).filter((st) => st.kind !== "done" && st.kind !== "wait");
  assert.deepEqual(steps, [{ kind: "remove-member", ordinal: 1, id: 2 }, { kind: "add-learner", ordinal: 1, id: 2 }]);
  assert.deepEqual(s.fake.membership(), [0, 1, 2].map((o) => [o, "voter"]));
  const after = JSON.parse(String((api.object("KingbusCluster", s.ns, s.name)!.metadata as Obj & { annotations: Obj }).annotations[ANNOTATION_MEMBER_VOLUMES])) as Record<string, string>;
  assert.equal(after["1"], newUid);
  const removed = api.objects("Event", s.ns).find((e) => e.reason === "MemberRemoved");
  assert.match(String(removed?.message), /volume was replaced/);

  // The leader's own volume: leadership moves first.
  api.delete("PersistentVolumeClaim", s.ns, "data-kingbus-orders-0");
  api.delete("Pod", s.ns, "kingbus-orders-0");
  await sim.idle();
  const again = await converge(s);
  const againSteps = again.map((r) => r.step!).filter((st) => st.kind !== "done" && st.kind !== "wait");
  // The fake elects another leader while pod 0 is away; if 0 leads again it hands over first.
  assert.deepEqual(againSteps.filter((st) => st.kind !== "transfer-leadership"), [{ kind: "remove-member", ordinal: 0, id: 1 }, { kind: "add-learner", ordinal: 0, id: 1 }]);
  assert.deepEqual(s.fake.membership(), [0, 1, 2].map((o) => [o, "voter"]));
});

test("the syncer and the server follow the spec with credentials from the Secrets; the status mirrors what the leader reports", async () => {
  const s = setup();
  api.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "repl", namespace: s.ns }, stringData: { username: "kb_repl", password: "s3cret" } });
  await converge(s);
  spec(s, { syncer: { enabled: true, source: { host: "db.example", port: 3307 }, credentialsSecret: { name: "repl" }, serverId: 1001, semiSync: true, heartbeatPeriodSeconds: 0.5 } });
  await converge(s);
  const cluster = api.object("KingbusCluster", s.ns, s.name)!;
  assert.equal(s.fake.syncer.running, true);
  assert.deepEqual({ ...s.fake.syncer.config, syncerUuid: "" }, {
    syncerId: 1001, syncerUuid: "", mysqlAddr: "db.example:3307", mysqlUser: "kb_repl", mysqlPassword: "s3cret", semiSync: true, heartbeatPeriodMs: 500,
    mysqlTls: false, mysqlTlsCa: "", mysqlTlsCert: "", mysqlTlsKey: "", mysqlTlsSkipVerify: false,
  });
  assert.match(s.fake.syncer.config.syncerUuid, /^[0-9a-f-]{36}$/);
  let st = kingbusClusterStatusSchema.parse(cluster.status);
  assert.deepEqual(st.syncer, { state: "Running", executedGtidSet: "0-1-5", secondsBehind: 0 });
  assert.equal(findCondition(st.conditions, "SyncerRunning")?.status, "True");
  const startCalls = s.fake.calls.filter((c) => c.method === "StartSyncer");
  assert.equal(startCalls.length, 1);
  assert.equal(startCalls[0]!.ordinal, 0, "the syncer is started on the leader");

  // A new primary: stop, then start (a running syncer refuses a start).
  spec(s, { syncer: { source: { host: "db2.example" } } });
  await converge(s);
  assert.equal(s.fake.syncer.config.mysqlAddr, "db2.example:3307");
  assert.ok(eventReasons(s).includes("SyncerRepointed"));

  // The syncer errs: the status says so.
  s.fake.syncer.phase = "error";
  s.fake.syncer.lastError = "Access denied for user 'kb_repl'";
  await s.reconciler().reconcile(s.ns, s.name);
  st = statusOf(s);
  assert.equal(st.syncer?.state, "Error");
  assert.equal(st.syncer?.lastError, "Access denied for user 'kb_repl'");
  assert.equal(findCondition(st.conditions, "SyncerRunning")?.status, "False");
  s.fake.syncer.phase = "running";
  s.fake.syncer.lastError = "";

  // The server on every member; the users Secret is missing first.
  spec(s, { server: { enabled: true, usersSecret: { name: "readers" } } });
  const missing = await s.reconciler().reconcile(s.ns, s.name);
  assert.ok(missing.problems.some((p) => /Secret readers not found/.test(p)));
  assert.ok(eventReasons(s).includes("SecretMissing"));
  api.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "readers", namespace: s.ns }, stringData: { username: "reader", password: "rpw" } });
  await converge(s);
  assert.deepEqual([...s.fake.servers].sort((a, b) => a[0] - b[0]).map(([o, v]) => [o, v.running, v.addr, v.user, v.password]), [0, 1, 2].map((o) => [o, true, "0.0.0.0:3306", "reader", "rpw"]));
  assert.equal(findCondition(statusOf(s).conditions, "ServerRunning")?.status, "True");

  spec(s, { syncer: { enabled: false }, server: { enabled: false } });
  await converge(s);
  assert.equal(s.fake.syncer.running, false);
  assert.ok([...s.fake.servers.values()].every((v) => !v.running));
  st = statusOf(s);
  assert.equal(st.syncer?.state, "Disabled");
  assert.equal(findCondition(st.conditions, "ServerRunning")?.reason, "ServerDisabled");
  for (const r of ["SyncerStarted", "SyncerStopped", "ServerStarted", "ServerStopped"]) assert.ok(eventReasons(s).includes(r), `event ${r}`);
  // No password ever reaches an Event or the status.
  const everything = JSON.stringify([api.objects("Event", s.ns), api.object("KingbusCluster", s.ns, s.name)]);
  assert.ok(!everything.includes("s3cret") && !everything.includes("rpw"));
});

test("a spec the operator refuses is reported in Degraded with an Event, and nothing is applied", async () => {
  const s = setup({ storage: { size: "1Gi" }, retention: { size: "2Gi" } });
  const res = await s.reconciler().reconcile(s.ns, s.name);
  assert.equal(res.found, true);
  assert.equal(api.object("StatefulSet", s.ns, "kingbus-orders"), undefined);
  const st = statusOf(s);
  const degraded = findCondition(st.conditions, "Degraded");
  assert.equal(degraded?.status, "True");
  assert.equal(degraded?.reason, "InvalidSpec");
  assert.match(degraded!.message, /spec\.retention\.size: must not exceed storage\.size/);
  assert.ok(eventReasons(s).includes("InvalidSpec"));
  // Fixed: the condition clears once the cluster is reconciled.
  spec(s, { retention: { size: "512Mi" } });
  await converge(s);
  assert.equal(findCondition(statusOf(s).conditions, "Degraded")?.status, "False");
  // A cluster that is gone: nothing to do.
  assert.deepEqual(await s.reconciler().reconcile(s.ns, "nope"), { found: false, problems: [] });
});

test("no member answers: the pass waits, says so in the status, and asks to be called again soon", async () => {
  const s = setup();
  await converge(s);
  for (const o of [0, 1, 2]) s.fake.unreachable.add(o);
  const res = await s.reconciler().reconcile(s.ns, s.name);
  assert.equal(res.step?.kind, "wait");
  assert.equal(res.requeueAfterMs, 1);
  const st = statusOf(s);
  assert.equal(findCondition(st.conditions, "Available")?.reason, "NoLeader");
  assert.deepEqual(st.members!.map((m) => m.role), ["Unknown", "Unknown", "Unknown"]);
  s.fake.unreachable.clear();
  await converge(s);
  assert.equal(findCondition(statusOf(s).conditions, "Available")?.status, "True");
});

test("the status patch: what changed, nulls for what went, lists whole, nothing when equal", () => {
  assert.equal(mergePatch({ a: 1, l: [1] }, { a: 1, l: [1] }), undefined);
  assert.deepEqual(mergePatch({ a: 1, b: { c: 1, d: 2 }, l: [1, 2] }, { b: { c: 1 }, l: [2], e: { f: 3 } }), { a: null, b: { d: null }, l: [2], e: { f: 3 } });
});
