import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  AppsV1Api, CoordinationV1Api, CoreV1Api, KubernetesObjectApi, PolicyV1Api, type V1StatefulSet,
} from "@kubernetes/client-node";
import { startFakeApiServer, type FakeApiServer } from "./index.ts";
import { raw, statusOf, eventually } from "./testing.ts";

let api: FakeApiServer;
let core: CoreV1Api;
let apps: AppsV1Api;

before(async () => {
  api = await startFakeApiServer();
  core = api.kubeConfig().makeApiClient(CoreV1Api);
  apps = api.kubeConfig().makeApiClient(AppsV1Api);
});
after(() => api.close());

function statefulSet(name: string, labels: Record<string, string> = { app: name }): V1StatefulSet {
  return {
    metadata: { name },
    spec: {
      serviceName: name,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: "kingbus", image: "kingbus:1.0", volumeMounts: [{ name: "data", mountPath: "/data" }] }] } },
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
    },
  };
}

test("discovery lists the served groups and resources, with status subresources", async () => {
  const groups = await raw(`${api.url}/apis`, api.token);
  const names = (groups.body.groups as { name: string }[]).map((g) => g.name);
  for (const g of ["apps", "policy", "coordination.k8s.io", "apiextensions.k8s.io", "monitoring.coreos.com"]) assert.ok(names.includes(g), g);
  const v1 = await raw(`${api.url}/api/v1`, api.token);
  const resources = (v1.body.resources as { name: string; namespaced: boolean; kind: string }[]);
  assert.deepEqual(resources.find((r) => r.name === "pods"), { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"], shortNames: ["po"], categories: ["all"] });
  assert.ok(resources.some((r) => r.name === "pods/status"));
  assert.equal((await raw(`${api.url}/apis/nope.io/v1`, api.token)).status, 404);
  // The generic client resolves kinds through discovery.
  const generic = KubernetesObjectApi.makeApiClient(api.kubeConfig());
  const lease = await generic.create({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "l1", namespace: "default" }, spec: { holderIdentity: "a" } });
  assert.equal(lease.metadata?.name, "l1");
});

test("requests without the bearer token are refused with 401", async () => {
  const res = await fetch(`${api.url}/api/v1/namespaces/default/pods`);
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { reason: string }).reason, "Unauthorized");
});

test("create fills uid, creationTimestamp, resourceVersion from one global counter; duplicates and misses are Status errors", async () => {
  const a = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm-a" }, data: { k: "v" } } });
  const b = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm-b" }, data: { k: "v" } } });
  assert.match(a.metadata!.uid!, /^[0-9a-f-]{36}$/);
  assert.ok(a.metadata!.creationTimestamp instanceof Date);
  assert.ok(Number(b.metadata!.resourceVersion) > Number(a.metadata!.resourceVersion));
  assert.equal(a.metadata!.generation, undefined, "ConfigMaps carry no generation");
  const dup = await statusOf(core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "cm-a" } } }));
  assert.equal(dup.code, 409);
  assert.equal(dup.status.reason, "AlreadyExists");
  assert.equal(dup.status.message, 'configmaps "cm-a" already exists');
  const missing = await statusOf(apps.readNamespacedStatefulSet({ namespace: "default", name: "nope" }));
  assert.deepEqual(missing.status, {
    kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'statefulsets.apps "nope" not found',
    reason: "NotFound", details: { name: "nope", group: "apps", kind: "statefulsets" }, code: 404,
  });
  const noNs = await statusOf(core.createNamespacedConfigMap({ namespace: "ghost", body: { metadata: { name: "x" } } }));
  assert.equal(noNs.code, 404);
  assert.equal(noNs.status.message, 'namespaces "ghost" not found');
  const gen = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { generateName: "gen-" } } });
  assert.match(gen.metadata!.name!, /^gen-[a-z0-9]{5}$/);
});

test("an update with a stale resourceVersion is a 409 Conflict; without one it is unconditional; a no-op keeps the version", async () => {
  const cm = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "occ" }, data: { n: "1" } } });
  const first = await core.replaceNamespacedConfigMap({ namespace: "default", name: "occ", body: { ...cm, data: { n: "2" } } });
  const stale = await statusOf(core.replaceNamespacedConfigMap({ namespace: "default", name: "occ", body: { ...cm, data: { n: "3" } } }));
  assert.equal(stale.code, 409);
  assert.equal(stale.status.reason, "Conflict");
  assert.equal(stale.status.message, 'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please apply your changes to the latest version and try again');
  const unconditional = await core.replaceNamespacedConfigMap({ namespace: "default", name: "occ", body: { metadata: { name: "occ" }, data: { n: "4" } } });
  assert.ok(Number(unconditional.metadata!.resourceVersion) > Number(first.metadata!.resourceVersion));
  const same = await core.replaceNamespacedConfigMap({ namespace: "default", name: "occ", body: unconditional });
  assert.equal(same.metadata!.resourceVersion, unconditional.metadata!.resourceVersion, "no-op update");
  const wrongName = await statusOf(core.replaceNamespacedConfigMap({ namespace: "default", name: "occ", body: { metadata: { name: "other" } } }));
  assert.equal(wrongName.code, 400);
});

test("StatefulSets are defaulted as the real server does, and generation moves with spec only", async () => {
  const sts = await apps.createNamespacedStatefulSet({ namespace: "default", body: statefulSet("gen") });
  assert.equal(sts.metadata!.generation, 1);
  assert.equal(sts.spec!.replicas, 1);
  assert.equal(sts.spec!.podManagementPolicy, "OrderedReady");
  assert.deepEqual(JSON.parse(JSON.stringify(sts.spec!.updateStrategy)), { type: "RollingUpdate", rollingUpdate: { partition: 0 } });
  assert.equal(sts.spec!.revisionHistoryLimit, 10);
  const c = sts.spec!.template.spec!.containers[0]!;
  assert.equal(c.imagePullPolicy, "IfNotPresent");
  assert.equal(c.terminationMessagePath, "/dev/termination-log");
  assert.equal(sts.spec!.template.spec!.restartPolicy, "Always");
  assert.equal(sts.spec!.volumeClaimTemplates![0]!.spec!.volumeMode, "Filesystem");
  assert.deepEqual(JSON.parse(JSON.stringify(sts.status)), { replicas: 0, availableReplicas: 0 });
  const labelled = await apps.replaceNamespacedStatefulSet({ namespace: "default", name: "gen", body: { ...sts, metadata: { ...sts.metadata, labels: { x: "y" } } } });
  assert.equal(labelled.metadata!.generation, 1, "metadata changes keep generation");
  const scaled = await apps.replaceNamespacedStatefulSet({ namespace: "default", name: "gen", body: { ...labelled, spec: { ...labelled.spec!, replicas: 3 } } });
  assert.equal(scaled.metadata!.generation, 2);
  const withStatus = await apps.replaceNamespacedStatefulSetStatus({ namespace: "default", name: "gen", body: { ...scaled, status: { replicas: 3, readyReplicas: 2, observedGeneration: 2 } } });
  assert.equal(withStatus.metadata!.generation, 2, "status changes keep generation");
  assert.equal(withStatus.status!.readyReplicas, 2);
});

test("the status subresource: the main endpoint ignores status, .../status ignores everything else", async () => {
  const sts = await apps.createNamespacedStatefulSet({ namespace: "default", body: { ...statefulSet("st"), status: { replicas: 9 } } });
  assert.equal(sts.status!.replicas, 0, "status is reset on create");
  const main = await apps.replaceNamespacedStatefulSet({ namespace: "default", name: "st", body: { ...sts, status: { replicas: 5 } } });
  assert.equal(main.status!.replicas, 0);
  assert.equal(main.metadata!.resourceVersion, sts.metadata!.resourceVersion, "a status-only change on the main endpoint is a no-op");
  const viaStatus = await apps.replaceNamespacedStatefulSetStatus({ namespace: "default", name: "st", body: { ...main, spec: { ...main.spec!, replicas: 7 }, status: { replicas: 5 } } });
  assert.equal(viaStatus.status!.replicas, 5);
  assert.equal(viaStatus.spec!.replicas, 1, "spec is ignored on /status");
});

test("validation errors are 422 Invalid with the real field paths and messages", async () => {
  const mismatch = statefulSet("bad");
  mismatch.spec!.template.metadata!.labels = { app: "other" };
  const e1 = await statusOf(apps.createNamespacedStatefulSet({ namespace: "default", body: mismatch }));
  assert.equal(e1.code, 422);
  assert.equal(e1.status.reason, "Invalid");
  assert.match(String(e1.status.message), /^StatefulSet\.apps "bad" is invalid: spec\.template\.metadata\.labels: Invalid value: \{"app":"other"\}: `selector` does not match template `labels`$/);
  const noVolume = statefulSet("novol");
  noVolume.spec!.volumeClaimTemplates = [];
  const e2 = await statusOf(apps.createNamespacedStatefulSet({ namespace: "default", body: noVolume }));
  assert.deepEqual((e2.status.details as { causes: unknown[] }).causes, [{ reason: "FieldValueNotFound", message: 'Not found: "data"', field: "spec.template.spec.containers[0].volumeMounts[0].name" }]);
  const svc = await statusOf(core.createNamespacedService({ namespace: "default", body: { metadata: { name: "1bad" }, spec: { ports: [{ port: 80 }] } } }));
  assert.equal(svc.code, 422);
  assert.match(String(svc.status.message), /metadata\.name: Invalid value: "1bad": a DNS-1035 label/);
  const label = await statusOf(core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "l", labels: { app: "x".repeat(64) } } } }));
  assert.match(String(label.status.message), /metadata\.labels: Invalid value: "x{64}": must be no more than 63 characters/);
  const finalizer = await statusOf(core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "f", finalizers: ["cleanup"] } } }));
  assert.match(String(finalizer.status.message), /name is neither a standard finalizer name nor is it fully qualified/);
  const badType = await raw(`${api.url}/apis/apps/v1/namespaces/default/statefulsets`, api.token, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ ...statefulSet("typed"), spec: { ...statefulSet("typed").spec, replicas: "3" } }),
  });
  assert.equal(badType.status, 400);
  assert.match(String(badType.body.message), /cannot unmarshal string into Go struct field StatefulSet\.spec\.replicas/);
});

test("immutable fields: a StatefulSet's serviceName and claim templates, a Service's clusterIP", async () => {
  const sts = await apps.createNamespacedStatefulSet({ namespace: "default", body: statefulSet("imm") });
  const moved = await statusOf(apps.replaceNamespacedStatefulSet({ namespace: "default", name: "imm", body: { ...sts, spec: { ...sts.spec!, serviceName: "elsewhere" } } }));
  assert.equal(moved.code, 422);
  assert.match(String(moved.status.message), /spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden/);
  const svc = await core.createNamespacedService({ namespace: "default", body: { metadata: { name: "svc" }, spec: { selector: { app: "x" }, ports: [{ name: "mysql", port: 3306 }] } } });
  assert.match(svc.spec!.clusterIP!, /^10\.96\./);
  assert.equal(svc.spec!.ports![0]!.targetPort, 3306);
  assert.equal(svc.spec!.type, "ClusterIP");
  // An update without clusterIP keeps the allocated one, as the real server does.
  const again = await core.replaceNamespacedService({ namespace: "default", name: "svc", body: { metadata: { name: "svc" }, spec: { selector: { app: "y" }, ports: [{ name: "mysql", port: 3306 }] } } });
  assert.equal(again.spec!.clusterIP, svc.spec!.clusterIP);
  const changed = await statusOf(core.replaceNamespacedService({ namespace: "default", name: "svc", body: { ...again, spec: { ...again.spec!, clusterIP: "10.96.9.9", clusterIPs: ["10.96.9.9"] } } }));
  assert.equal(changed.code, 422);
});

test("Lease and Event times must be MicroTime with six fraction digits, as Go parses them", async () => {
  const coordination = api.kubeConfig().makeApiClient(CoordinationV1Api);
  const three = await statusOf(coordination.createNamespacedLease({ namespace: "default", body: { metadata: { name: "mt" }, spec: { holderIdentity: "a", renewTime: new Date() } } }));
  assert.equal(three.code, 400);
  assert.match(String(three.status.message), /cannot parse "\.\d{3}Z" as "\.000000"/);
  const ok = await raw(`${api.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`, api.token, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ metadata: { name: "mt" }, spec: { holderIdentity: "a", renewTime: "2025-01-01T00:00:00.123456Z", leaseDurationSeconds: 15 } }),
  });
  assert.equal(ok.status, 201);
  const event = await statusOf(core.createNamespacedEvent({
    namespace: "default",
    body: { metadata: { name: "ev" }, involvedObject: { kind: "Pod", name: "p", namespace: "other" }, reason: "R", message: "m" },
  }));
  assert.match(String(event.status.message), /involvedObject\.namespace: Invalid value: "other": does not match event\.namespace/);
});

test("label and field selectors on list, with pagination", async () => {
  await api.createNamespace("sel");
  for (const [name, labels] of [["a", { tier: "db", env: "prod" }], ["b", { tier: "db", env: "dev" }], ["c", { tier: "web" }], ["d", { tier: "web", canary: "1" }]] as const) {
    await core.createNamespacedConfigMap({ namespace: "sel", body: { metadata: { name, labels } } });
  }
  const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> =>
    (await core.listNamespacedConfigMap({ namespace: "sel", labelSelector, fieldSelector })).items.map((i) => i.metadata!.name!);
  assert.deepEqual(await names("tier=db"), ["a", "b"]);
  assert.deepEqual(await names("tier==db,env!=prod"), ["b"]);
  assert.deepEqual(await names("env in (prod, dev)"), ["a", "b"]);
  assert.deepEqual(await names("tier notin (db)"), ["c", "d"]);
  assert.deepEqual(await names("canary"), ["d"]);
  assert.deepEqual(await names("!canary,tier=web"), ["c"]);
  assert.deepEqual(await names("env"), ["a", "b"]);
  assert.deepEqual(await names(undefined, "metadata.name=c"), ["c"]);
  assert.deepEqual(await names(undefined, "metadata.name!=c"), ["a", "b", "d"]);
  assert.equal((await statusOf(core.listNamespacedConfigMap({ namespace: "sel", labelSelector: "a in (x" }))).code, 400);
  const unsupported = await statusOf(core.listNamespacedConfigMap({ namespace: "sel", fieldSelector: "data.x=1" }));
  assert.equal(unsupported.status.message, "field label not supported: data.x");
  const page1 = await core.listNamespacedConfigMap({ namespace: "sel", limit: 3 });
  assert.equal(page1.items.length, 3);
  assert.equal(page1.metadata!.remainingItemCount, 1);
  const page2 = await core.listNamespacedConfigMap({ namespace: "sel", limit: 3, _continue: page1.metadata!._continue });
  assert.deepEqual(page2.items.map((i) => i.metadata!.name), ["d"]);
  assert.equal(page2.metadata!._continue, undefined);
  // Items of a built-in list carry no apiVersion or kind on the wire.
  const wire = await raw(`${api.url}/api/v1/namespaces/sel/configmaps`, api.token);
  assert.equal((wire.body.items as Record<string, unknown>[])[0]!.kind, undefined);
  assert.equal(wire.body.kind, "ConfigMapList");
  assert.equal(typeof (wire.body.metadata as { resourceVersion: string }).resourceVersion, "string");
});

test("deleting an owner deletes its dependents in the background; Orphan keeps them; a dependent with another owner stays", async () => {
  await api.createNamespace("gc");
  const owner = await core.createNamespacedConfigMap({ namespace: "gc", body: { metadata: { name: "owner" } } });
  const other = await core.createNamespacedConfigMap({ namespace: "gc", body: { metadata: { name: "other" } } });
  const ref = (o: typeof owner) => ({ apiVersion: "v1", kind: "ConfigMap", name: o.metadata!.name!, uid: o.metadata!.uid! });
  await core.createNamespacedSecret({ namespace: "gc", body: { metadata: { name: "dep", ownerReferences: [ref(owner)] } } });
  await core.createNamespacedSecret({ namespace: "gc", body: { metadata: { name: "shared", ownerReferences: [ref(owner), ref(other)] } } });
  const status = await core.deleteNamespacedConfigMap({ namespace: "gc", name: "owner" });
  assert.equal(status.status, "Success");
  await eventually(() => api.object("Secret", "gc", "dep") === undefined, 2_000, "dependent deleted");
  await eventually(() => (api.object("Secret", "gc", "shared")?.metadata as { ownerReferences?: unknown[] }).ownerReferences?.length === 1, 2_000, "dangling reference dropped");
  assert.ok(api.object("Secret", "gc", "shared"));
  const owner2 = await core.createNamespacedConfigMap({ namespace: "gc", body: { metadata: { name: "owner2" } } });
  await core.createNamespacedSecret({ namespace: "gc", body: { metadata: { name: "orphan", ownerReferences: [ref(owner2)] } } });
  await core.deleteNamespacedConfigMap({ namespace: "gc", name: "owner2", propagationPolicy: "Orphan" });
  await new Promise((r) => setTimeout(r, 50));
  const orphan = api.object("Secret", "gc", "orphan");
  assert.ok(orphan);
  assert.equal((orphan.metadata as { ownerReferences?: unknown }).ownerReferences, undefined);
  // A reference to an owner that does not exist (a wrong uid) gets the object collected, as on a real cluster.
  await core.createNamespacedSecret({ namespace: "gc", body: { metadata: { name: "wrong-uid", ownerReferences: [{ ...ref(other), uid: "00000000-0000-0000-0000-000000000000" }] } } });
  await eventually(() => api.object("Secret", "gc", "wrong-uid") === undefined, 2_000, "object with a dangling owner collected");
});

test("finalizers hold deletion: 202 with deletionTimestamp, no new finalizers, gone when the last one is removed", async () => {
  await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "fin", finalizers: ["kingbus.io/cleanup"] } } });
  const res = await raw(`${api.url}/api/v1/namespaces/default/configmaps/fin`, api.token, { method: "DELETE" });
  assert.equal(res.status, 202);
  const pending = await core.readNamespacedConfigMap({ namespace: "default", name: "fin" });
  assert.ok(pending.metadata!.deletionTimestamp);
  const more = await statusOf(core.replaceNamespacedConfigMap({ namespace: "default", name: "fin", body: { ...pending, metadata: { ...pending.metadata, finalizers: ["kingbus.io/cleanup", "kingbus.io/more"] } } }));
  assert.equal(more.code, 422);
  await core.replaceNamespacedConfigMap({ namespace: "default", name: "fin", body: { ...pending, metadata: { ...pending.metadata, finalizers: [] } } });
  assert.equal(api.object("ConfigMap", "default", "fin"), undefined);
  const pre = await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "pre" } } });
  const precondition = await statusOf(core.deleteNamespacedConfigMap({ namespace: "default", name: "pre", body: { preconditions: { resourceVersion: "1" } } }));
  assert.equal(precondition.code, 409);
  await core.deleteNamespacedConfigMap({ namespace: "default", name: "pre", body: { preconditions: { uid: pre.metadata!.uid } } });
});

test("PodDisruptionBudgets: minAvailable and maxUnavailable are exclusive; Secrets take stringData", async () => {
  const policy = api.kubeConfig().makeApiClient(PolicyV1Api);
  const both = await statusOf(policy.createNamespacedPodDisruptionBudget({ namespace: "default", body: { metadata: { name: "pdb" }, spec: { minAvailable: 2, maxUnavailable: 1, selector: { matchLabels: { app: "x" } } } } }));
  assert.match(String(both.status.message), /minAvailable and maxUnavailable cannot be both set/);
  const pdb = await policy.createNamespacedPodDisruptionBudget({ namespace: "default", body: { metadata: { name: "pdb" }, spec: { maxUnavailable: 1, selector: { matchLabels: { app: "x" } } } } });
  assert.equal(pdb.metadata!.generation, 1);
  const secret = await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: "s" }, stringData: { password: "hunter2" } } });
  assert.deepEqual(secret.data, { password: Buffer.from("hunter2").toString("base64") });
  assert.equal(secret.stringData, undefined);
  assert.equal(secret.type, "Opaque");
});

test("failNext injects errors for a verb and kind; the request log records what clients did", async () => {
  api.failNext("get", "ConfigMap", 500, { message: "etcd is sad" });
  await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "inj" } } });
  const failed = await statusOf(core.readNamespacedConfigMap({ namespace: "default", name: "inj" }));
  assert.equal(failed.code, 500);
  assert.equal(failed.status.message, "etcd is sad");
  assert.equal((await core.readNamespacedConfigMap({ namespace: "default", name: "inj" })).metadata!.name, "inj", "only the next one fails");
  api.failNext("*", "*", 429, { retryAfterSeconds: 1 });
  const throttled = await raw(`${api.url}/api/v1/namespaces/default/configmaps/inj`, api.token);
  assert.equal(throttled.status, 429);
  const gets = api.requests.filter((r) => r.verb === "get" && r.kind === "ConfigMap" && r.name === "inj");
  assert.deepEqual(gets.map((r) => r.status), [500, 200, 429]);
});

test("deleting a namespace deletes what is in it", async () => {
  await api.createNamespace("doomed");
  await core.createNamespacedConfigMap({ namespace: "doomed", body: { metadata: { name: "x" } } });
  await core.deleteNamespace({ name: "doomed" });
  assert.deepEqual(api.objects("ConfigMap", "doomed"), []);
  assert.equal(api.object("Namespace", "", "doomed"), undefined);
});
