/**
 * The controller loop against the in-process API server (real HTTP watches) with the fake kingbus
 * cluster: informers and the keyed work queue drive passes to a converged cluster and react to
 * spec changes; the operator's own status writes do not loop; watches recover from dropped
 * connections and 410 Gone; one of two replicas leads through the Lease and the other takes over;
 * /healthz, /readyz and /metrics answer.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startFakeApiServer, type FakeApiServer, type Obj } from "../../test-support/apiserver/index.ts";
import { eventually } from "../../test-support/apiserver/testing.ts";
import { kingbusClusterCrd } from "../api/crd.ts";
import { findCondition } from "../api/conditions.ts";
import { kingbusClusterStatusSchema, type KingbusClusterStatus } from "../api/kingbus-cluster.ts";
import { FIELD_MANAGER } from "../desired/names.ts";
import { KubeClient } from "../kube/index.ts";
import { OperatorController, type ControllerOptions } from "./controller.ts";
import { FakeKingbus } from "./testing/fake-kingbus.ts";

let api: FakeApiServer;
let counter = 0;
const controllers: OperatorController[] = [];

before(async () => {
  api = await startFakeApiServer({ bookmarkIntervalMs: 200 });
  api.registerCrd(kingbusClusterCrd() as unknown as Obj);
  api.simulateStatefulSets();
});
after(async () => {
  for (const c of controllers) await c.stop();
  await api.close();
});

function cluster(spec: Obj = {}): { ns: string; name: string; fake: FakeKingbus } {
  const ns = `c${++counter}`;
  api.createNamespace(ns);
  const fake = new FakeKingbus(api, ns, "orders", { autoPromote: true });
  api.create({ apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name: "orders", namespace: ns }, spec });
  return { ns, name: "orders", fake };
}

function controller(fake: FakeKingbus, ns: string, extra: Partial<ControllerOptions> = {}): OperatorController {
  const c = new OperatorController({
    client: new KubeClient(api.kubeConfig(), { fieldManager: FIELD_MANAGER }),
    namespaces: [ns],
    defaultImage: "kingbus:test",
    identity: "operator-a",
    admin: fake,
    network: fake,
    progressIntervalMs: 50,
    refreshIntervalMs: 60_000,
    resyncMs: 60_000,
    backoff: { baseMs: 50, maxMs: 1_000 },
    informerBackoff: { initialMs: 50, maxMs: 500 },
    processMetrics: false,
    ...extra,
  });
  controllers.push(c);
  return c;
}

function status(ns: string): KingbusClusterStatus | undefined {
  const raw = api.object("KingbusCluster", ns, "orders")?.status;
  return raw === undefined ? undefined : kingbusClusterStatusSchema.parse(raw);
}

function settled(ns: string, replicas: number): boolean {
  const s = status(ns);
  return findCondition(s?.conditions, "Available")?.status === "True" && findCondition(s?.conditions, "Progressing")?.status === "False" &&
    s?.members?.length === replicas && s.members.every((m) => m.role === "Leader" || m.role === "Follower");
}

async function metricValue(c: OperatorController, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${c.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `) || (labels === "" && l.startsWith(`${name} `)));
  return line === undefined ? NaN : Number(line.split(" ").at(-1));
}

test("informers and the work queue take a new cluster to Available, follow spec changes, and do not loop on their own status writes", async () => {
  const { ns, fake } = cluster();
  const c = controller(fake, ns, { http: { host: "127.0.0.1", port: 0 } });
  const started = Date.now();
  await c.start();
  await eventually(() => settled(ns, 3), 20_000, "3 members Available");
  const createdMs = Date.now() - started;
  assert.equal(c.isLeader, true, "without election it works at once");

  const t0 = Date.now();
  api.mergePatch("KingbusCluster", ns, "orders", { spec: { replicas: 5 } });
  await eventually(() => settled(ns, 5), 20_000, "5 members");
  const grewMs = Date.now() - t0;
  assert.deepEqual(fake.membership(), [0, 1, 2, 3, 4].map((o) => [o, "voter"]));
  await c.idle();

  // Converged: the operator's own status writes and requeues do not trigger more passes.
  const before = await metricValue(c, "kingbus_operator_reconcile_total", '{result="success"}');
  await new Promise((r) => setTimeout(r, 1_500));
  const quiet = await metricValue(c, "kingbus_operator_reconcile_total", '{result="success"}');
  assert.ok(quiet - before <= 1, `passes while nothing changes: ${quiet - before}`);

  // A pod of the cluster changes (it goes not ready): its cluster gets a pass through the pod informer.
  api.mergePatch("Pod", ns, "kingbus-orders-2", { status: { conditions: [{ type: "Ready", status: "False" }] } }, { subresource: "status", fieldManager: "kubelet" });
  await eventually(() => status(ns)?.members?.find((m) => m.name === "kingbus-orders-2")?.healthy === false, 5_000, "the status sees the pod not ready");
  assert.equal(findCondition(status(ns)?.conditions, "Degraded")?.status, "True");
  process.stderr.write(`# created in ${createdMs} ms, 3 -> 5 in ${grewMs} ms\n`);

  // /healthz, /readyz, /metrics.
  assert.equal((await fetch(`${c.url}/healthz`)).status, 200);
  const ready = await fetch(`${c.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true, leading: true });
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  for (const name of ["kingbus_operator_reconcile_total", "kingbus_operator_reconcile_duration_seconds_bucket", "kingbus_operator_actions_total", "kingbus_operator_is_leader", "kingbus_operator_work_queue_depth", "kingbus_operator_clusters"]) {
    assert.ok(metrics.includes(name), `metric ${name}`);
  }
  assert.equal(await metricValue(c, "kingbus_operator_actions_total", '{action="add-learner"}'), 2);
  assert.equal(await metricValue(c, "kingbus_operator_is_leader"), 1);
  assert.equal(await metricValue(c, "kingbus_operator_clusters"), 1);
  assert.equal((await fetch(`${c.url}/nope`)).status, 404);
  await c.stop();
  assert.equal(c.isLeader, false);
});

test("watches recover: dropped connections and a compacted history (410 Gone) do not lose a spec change", async () => {
  const { ns, fake } = cluster();
  const c = controller(fake, ns);
  await c.start();
  await eventually(() => settled(ns, 3), 20_000, "3 members");
  await c.idle();
  api.dropWatches({ abrupt: true });
  api.compactHistory();
  api.mergePatch("KingbusCluster", ns, "orders", { spec: { replicas: 5 } });
  await eventually(() => settled(ns, 5), 20_000, "5 members after the watches broke");
  api.dropWatches();
  api.mergePatch("KingbusCluster", ns, "orders", { spec: { replicas: 3 } });
  await eventually(() => settled(ns, 3) && fake.membership().length === 3, 20_000, "back to 3 after a clean watch end");
  assert.ok(c.metrics.informerErrors !== undefined);
  await c.stop();
});

test("two replicas: only the Lease holder reconciles; when it stops the other takes over", async () => {
  const { ns, fake } = cluster();
  const election = { namespace: ns, name: "kingbus-operator", leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 200 };
  const a = controller(fake, ns, { identity: "operator-a", leaderElection: election, http: { host: "127.0.0.1", port: 0 } });
  const b = controller(fake, ns, { identity: "operator-b", leaderElection: election, http: { host: "127.0.0.1", port: 0 } });
  await a.start();
  await a.waitUntilLeading(10_000);
  await b.start();
  await eventually(() => settled(ns, 3), 20_000, "3 members");
  assert.equal(a.isLeader, true);
  assert.equal(b.isLeader, false);
  assert.equal((api.object("Lease", ns, "kingbus-operator")!.spec as Obj).holderIdentity, "operator-a");
  // The standby is ready (it can take over) and reconciles nothing.
  assert.equal((await fetch(`${b.url}/readyz`)).status, 200);
  assert.equal(await metricValue(b, "kingbus_operator_is_leader"), 0);
  const bPasses = await metricValue(b, "kingbus_operator_reconcile_total", '{result="success"}');
  assert.equal(bPasses, 0);

  const t0 = Date.now();
  await a.stop();
  await b.waitUntilLeading(10_000);
  const takeoverMs = Date.now() - t0;
  assert.equal((api.object("Lease", ns, "kingbus-operator")!.spec as Obj).holderIdentity, "operator-b");
  api.mergePatch("KingbusCluster", ns, "orders", { spec: { replicas: 5 } });
  await eventually(() => settled(ns, 5), 20_000, "the new leader scales");
  assert.ok(takeoverMs < 3_000, `took over in ${takeoverMs} ms (the lease was released)`);
  process.stderr.write(`# takeover after a released lease: ${takeoverMs} ms\n`);
  await b.stop();
});
