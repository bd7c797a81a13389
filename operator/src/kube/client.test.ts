import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startFakeApiServer, type FakeApiServer } from "../../test-support/apiserver/index.ts";
import { kingbusClusterCrd } from "../../test-support/apiserver/testing.ts";
import {
  ConfigMaps, EventRecorder, Events, isConflict, isInvalid, isNotFound, isTransient, KubeApiError, KubeClient, Leases, resourceType,
  StatefulSets, microTime, type KubeObject, type StatefulSet, type WatchEvent,
} from "./index.ts";

let api: FakeApiServer;
let client: KubeClient;

interface KingbusCluster extends KubeObject {
  spec?: { image?: string; replicas?: number };
  status?: { phase?: string; conditions?: { type: string; status: string; reason?: string }[] };
}
const KingbusClusters = resourceType<KingbusCluster>({ group: "kingbus.io", version: "v1alpha1", kind: "KingbusCluster", plural: "kingbusclusters", namespaced: true });

before(async () => {
  api = await startFakeApiServer();
  api.registerCrd(kingbusClusterCrd());
  await api.createNamespace("k");
  client = new KubeClient(api.kubeConfig(), { fieldManager: "kingbus-operator" });
});
after(() => api.close());

function desired(image: string, replicas = 3): StatefulSet {
  return {
    metadata: { name: "kb", namespace: "k", labels: { "app.kubernetes.io/name": "kingbus" } },
    spec: {
      replicas, serviceName: "kb", selector: { matchLabels: { app: "kb" } },
      template: { metadata: { labels: { app: "kb" } }, spec: { containers: [{ name: "kingbus", image }] } },
    },
  };
}

test("apply creates, then updates under the client's field manager; the result is wire JSON", async () => {
  const created = await client.apply(StatefulSets, desired("kingbus:1"));
  assert.equal(created.kind, "StatefulSet");
  assert.equal(typeof created.metadata!.creationTimestamp, "string", "times stay strings");
  assert.equal(created.metadata!.managedFields![0]!.manager, "kingbus-operator");
  assert.equal(created.metadata!.managedFields![0]!.operation, "Apply");
  const updated = await client.apply(StatefulSets, desired("kingbus:2"));
  assert.equal(updated.spec!.template.spec!.containers[0]!.image, "kingbus:2");
  assert.equal(updated.metadata!.generation, 2);
  const same = await client.apply(StatefulSets, desired("kingbus:2"));
  assert.equal(same.metadata!.resourceVersion, updated.metadata!.resourceVersion, "re-applying the same configuration is a no-op");
  // An object read back (with managedFields) can be applied: the client strips them. The manager
  // then owns every field it sent (defaults included), as on a real server.
  const again = await client.apply(StatefulSets, updated);
  assert.equal(again.metadata!.generation, 2);
  assert.ok(again.metadata!.managedFields![0]!.fieldsV1 !== undefined);
  const req = api.requests.filter((r) => r.resource === "statefulsets" && r.verb === "patch").at(-1)!;
  assert.equal(req.contentType, "application/apply-patch+yaml");
  assert.equal(req.query.force, "true");
});

test("apply without force meets another manager's field as a KUBE_CONFLICT naming it", async () => {
  await client.patch(StatefulSets, "k", "kb", { spec: { replicas: 5 } });
  const other = new KubeClient(api.kubeConfig(), { fieldManager: "someone-else" });
  await other.patch(StatefulSets, "k", "kb", { spec: { replicas: 7 } });
  const err = await client.apply(StatefulSets, desired("kingbus:2", 3), { force: false }).catch((e: unknown) => e);
  assert.ok(err instanceof KubeApiError);
  assert.ok(isConflict(err));
  assert.equal(err.causes[0]!.field, ".spec.replicas");
  assert.match(err.message, /conflict with "someone-else"/);
  const forced = await client.apply(StatefulSets, desired("kingbus:2", 3));
  assert.equal(forced.spec!.replicas, 3);
});

test("get returns undefined for a missing object; replace with a stale resourceVersion is a KUBE_CONFLICT", async () => {
  assert.equal(await client.get(ConfigMaps, "k", "missing"), undefined);
  const cm = await client.create(ConfigMaps, { metadata: { name: "c", namespace: "k" }, data: { a: "1" } });
  const first = await client.replace(ConfigMaps, { ...cm, data: { a: "2" } });
  const stale = await client.replace(ConfigMaps, { ...cm, data: { a: "3" } }).catch((e: unknown) => e);
  assert.ok(isConflict(stale));
  assert.equal((stale as KubeApiError).status, 409);
  assert.equal((stale as KubeApiError).reason, "Conflict");
  const fresh = await client.replace(ConfigMaps, { ...first, data: { a: "3" } });
  assert.equal(fresh.data!.a, "3");
  const invalid = await client.create(ConfigMaps, { metadata: { name: "Bad_Name", namespace: "k" } }).catch((e: unknown) => e);
  assert.ok(isInvalid(invalid));
  assert.equal((invalid as KubeApiError).causes[0]!.field, "metadata.name");
});

test("status of a custom resource: apply, merge patch and replace go to the subresource", async () => {
  await client.apply(KingbusClusters, { metadata: { name: "c1", namespace: "k" }, spec: { image: "kingbus:1" } });
  const applied = await client.applyStatus(KingbusClusters, { metadata: { name: "c1", namespace: "k" }, status: { phase: "Creating", conditions: [{ type: "Ready", status: "False", reason: "Creating" }] } });
  assert.equal(applied.status!.phase, "Creating");
  assert.equal(applied.spec!.replicas, 3, "defaulted by the CRD schema");
  const patched = await client.patchStatus(KingbusClusters, "k", "c1", { status: { phase: "Running" } });
  assert.equal(patched.status!.phase, "Running");
  assert.equal(patched.metadata!.generation, 1);
  const replaced = await client.replaceStatus(KingbusClusters, { ...patched, spec: { image: "ignored" }, status: { phase: "Degraded" } });
  assert.equal(replaced.status!.phase, "Degraded");
  assert.equal(replaced.spec!.image, "kingbus:1");
  const { items, resourceVersion } = await client.list(KingbusClusters, { namespace: "k" });
  assert.deepEqual(items.map((i) => i.metadata!.name), ["c1"]);
  assert.match(resourceVersion, /^\d+$/);
});

test("list follows every page and sets apiVersion and kind on items", async () => {
  for (let i = 0; i < 7; i++) await client.create(ConfigMaps, { metadata: { name: `page-${i}`, namespace: "k", labels: { paged: "yes" } } });
  const { items } = await client.list(ConfigMaps, { namespace: "k", labelSelector: "paged=yes", pageSize: 3 });
  assert.equal(items.length, 7);
  assert.ok(items.every((i) => i.kind === "ConfigMap" && i.apiVersion === "v1"));
  assert.equal(api.requests.filter((r) => r.verb === "list" && r.query.labelSelector === "paged=yes").length, 3);
});

test("delete is true when it deleted, false when the object was gone; transient failures are marked", async () => {
  await client.create(ConfigMaps, { metadata: { name: "d", namespace: "k" } });
  assert.equal(await client.delete(ConfigMaps, "k", "d"), true);
  assert.equal(await client.delete(ConfigMaps, "k", "d"), false);
  api.failNext("get", "ConfigMap", 503);
  const e = await client.get(ConfigMaps, "k", "x").catch((err: unknown) => err);
  assert.ok(isTransient(e));
  assert.ok(!isNotFound(e));
  const kc = api.kubeConfig();
  kc.clusters[0] = { ...kc.clusters[0]!, server: "http://127.0.0.1:1" };
  const unreachable = await new KubeClient(kc, { fieldManager: "x" }).get(ConfigMaps, "k", "x").catch((err: unknown) => err);
  assert.equal((unreachable as KubeApiError).code, "KUBE_UNAVAILABLE");
  assert.ok(isTransient(unreachable));
});

test("Leases need MicroTime: microTime() writes six fraction digits, a plain ISO string is refused", async () => {
  const now = new Date("2025-03-01T10:00:00.123Z");
  assert.equal(microTime(now), "2025-03-01T10:00:00.123000Z");
  const bad = await client.create(Leases, { metadata: { name: "l", namespace: "k" }, spec: { renewTime: now.toISOString() } }).catch((e: unknown) => e);
  assert.equal((bad as KubeApiError).code, "KUBE_BAD_REQUEST");
  const ok = await client.create(Leases, { metadata: { name: "l", namespace: "k" }, spec: { renewTime: microTime(now), holderIdentity: "a" } });
  assert.equal(ok.spec!.renewTime, "2025-03-01T10:00:00.123000Z");
});

test("createEvent writes a valid core/v1 Event; the recorder aggregates repeats into a count", async () => {
  const cluster = await client.get(KingbusClusters, "k", "c1");
  const ev = await client.createEvent(cluster!, { type: "Normal", reason: "Scaled", message: "3 members", component: "kingbus-operator", instance: "op-0" });
  assert.equal(ev.involvedObject.uid, cluster!.metadata!.uid);
  assert.equal(ev.involvedObject.kind, "KingbusCluster");
  assert.match(ev.metadata!.name!, /^c1\.[0-9a-f]+$/);
  const errors: unknown[] = [];
  const recorder = new EventRecorder(client, { component: "kingbus-operator", instance: "op-0", onError: (e) => errors.push(e) });
  await recorder.warning(cluster!, "SyncFailed", "primary unreachable");
  await recorder.warning(cluster!, "SyncFailed", "primary unreachable");
  await recorder.warning(cluster!, "SyncFailed", "primary unreachable");
  await recorder.normal(cluster!, "SyncResumed", "ok");
  assert.deepEqual(errors, []);
  const events = (await client.list(Events, { namespace: "k", fieldSelector: "reason=SyncFailed" })).items;
  assert.equal(events.length, 1);
  assert.equal(events[0]!.count, 3);
  assert.equal(events[0]!.type, "Warning");
  assert.equal(events[0]!.reportingComponent, "kingbus-operator");
});

test("watch streams typed events and ends cleanly on stop", async () => {
  const { resourceVersion } = await client.list(ConfigMaps, { namespace: "k" });
  const seen: WatchEvent<{ metadata?: { name?: string } }>[] = [];
  const handle = await client.watch(ConfigMaps, { namespace: "k", resourceVersion }, (e) => seen.push(e));
  await client.create(ConfigMaps, { metadata: { name: "w", namespace: "k" } });
  const deadline = Date.now() + 2_000;
  while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(seen[0]!.type, "ADDED");
  assert.equal(seen[0]!.object.metadata!.name, "w");
  handle.stop();
  await handle.done;
});
