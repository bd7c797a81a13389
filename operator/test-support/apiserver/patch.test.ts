import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";
import { startFakeApiServer, type FakeApiServer, type Obj } from "./index.ts";
import { raw } from "./testing.ts";

let api: FakeApiServer;

before(async () => {
  api = await startFakeApiServer();
  await api.createNamespace("p");
});
after(() => api.close());

async function patch(path: string, contentType: string, body: unknown, query = ""): Promise<{ status: number; body: Obj }> {
  return raw(`${api.url}${path}${query}`, api.token, {
    method: "PATCH", headers: { "Content-Type": contentType }, body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function managers(o: Obj): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of ((o.metadata as Obj).managedFields as Obj[] | undefined) ?? []) {
    out[`${String(e.manager)}/${String(e.operation)}${e.subresource === undefined ? "" : `/${String(e.subresource)}`}`] = e.fieldsV1;
  }
  return out;
}

const pod = (name: string): Obj => ({
  apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "p", labels: { app: "x" } },
  spec: { containers: [{ name: "a", image: "a:1", env: [{ name: "A", value: "1" }] }, { name: "b", image: "b:1" }] },
});

test("merge patch: objects merge, null deletes, lists are replaced; a stale resourceVersion in the patch is a conflict", async () => {
  const cm = api.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "m", namespace: "p", labels: { a: "1", b: "2" } }, data: { x: "1" } });
  const res = await patch("/api/v1/namespaces/p/configmaps/m", "application/merge-patch+json", { metadata: { labels: { a: null, c: "3" } }, data: { y: "2" } });
  assert.equal(res.status, 200);
  assert.deepEqual((res.body.metadata as Obj).labels, { b: "2", c: "3" });
  assert.deepEqual(res.body.data, { x: "1", y: "2" });
  const stale = await patch("/api/v1/namespaces/p/configmaps/m", "application/merge-patch+json", { metadata: { resourceVersion: (cm.metadata as Obj).resourceVersion }, data: { z: "3" } });
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, "Conflict");
});

test("JSON patch: add, replace, remove, move, copy, test; a failed test is 422 and changes nothing; an object body is 400", async () => {
  api.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "j", namespace: "p" }, data: { a: "1", b: "2" } });
  const ok = await patch("/api/v1/namespaces/p/configmaps/j", "application/json-patch+json", [
    { op: "test", path: "/data/a", value: "1" },
    { op: "add", path: "/data/c", value: "3" },
    { op: "replace", path: "/data/a", value: "10" },
    { op: "remove", path: "/data/b" },
    { op: "copy", from: "/data/c", path: "/data/d" },
    { op: "add", path: "/metadata/annotations", value: {} },
    { op: "move", from: "/data/d", path: "/metadata/annotations/example.com~1f" },
  ]);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual(ok.body.data, { a: "10", c: "3" });
  assert.deepEqual((ok.body.metadata as Obj).annotations, { "example.com/f": "3" });
  const failed = await patch("/api/v1/namespaces/p/configmaps/j", "application/json-patch+json", [{ op: "test", path: "/data/a", value: "1" }, { op: "remove", path: "/data/a" }]);
  assert.equal(failed.status, 422);
  assert.deepEqual(api.object("ConfigMap", "p", "j")!.data, { a: "10", c: "3" });
  const wrongShape = await patch("/api/v1/namespaces/p/configmaps/j", "application/json-patch+json", { data: { a: "x" } });
  assert.equal(wrongShape.status, 400, "what client-node's typed patch methods send by default");
  const missing = await patch("/api/v1/namespaces/p/configmaps/j", "application/json-patch+json", [{ op: "remove", path: "/data/nope" }]);
  assert.equal(missing.status, 422);
});

test("strategic merge patch merges containers by name and env by name, honours $patch: delete; custom resources refuse it", async () => {
  api.create({ apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "smp", namespace: "p" }, spec: {
    serviceName: "smp", selector: { matchLabels: { app: "x" } }, template: (({ metadata, spec }) => ({ metadata, spec }))(pod("t")),
  } });
  const path = "/apis/apps/v1/namespaces/p/statefulsets/smp";
  const res = await patch(path, "application/strategic-merge-patch+json", {
    metadata: { labels: { extra: "y" } },
    spec: { template: { spec: { containers: [{ name: "b", image: "b:2" }, { name: "a", env: [{ name: "B", value: "2" }] }] } } },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const containers = (o: Obj): Obj[] => (((o.spec as Obj).template as Obj).spec as Obj).containers as Obj[];
  assert.deepEqual(containers(res.body).map((c) => [c.name, c.image]), [["a", "a:1"], ["b", "b:2"]]);
  assert.deepEqual((containers(res.body)[0]!.env as Obj[]).map((e) => e.name), ["A", "B"]);
  const del = await patch(path, "application/strategic-merge-patch+json", { spec: { template: { spec: { containers: [{ name: "a", env: [{ name: "A", $patch: "delete" }] }] } } } });
  assert.deepEqual((containers(del.body)[0]!.env as Obj[]).map((e) => e.name), ["B"]);
  const merge = await patch(path, "application/merge-patch+json", { spec: { template: { spec: { containers: [{ name: "c", image: "c:1" }] } } } });
  assert.deepEqual(containers(merge.body).map((c) => c.name), ["c"], "a merge patch replaces the list");
  const cr = await patch("/apis/monitoring.coreos.com/v1/namespaces/p/servicemonitors/x", "application/strategic-merge-patch+json", { spec: {} });
  assert.equal(cr.status, 415);
  const unknown = await patch(path, "text/plain", "{}");
  assert.equal(unknown.status, 415);
  api.create(pod("immutable"));
  const podSpec = await patch("/api/v1/namespaces/p/pods/immutable", "application/strategic-merge-patch+json", { spec: { containers: [{ name: "a", env: [{ name: "B", value: "2" }] }] } });
  assert.equal(podSpec.status, 422, "a pod's spec is immutable but for images");
  const image = await patch("/api/v1/namespaces/p/pods/immutable", "application/strategic-merge-patch+json", { spec: { containers: [{ name: "a", image: "a:2" }] } });
  assert.equal(image.status, 200);
});

const SSA = "application/apply-patch+yaml";

test("server-side apply creates a missing object (201), records Apply ownership at leaf granularity, requires a field manager", async () => {
  const yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a1\n  labels:\n    team: db\ndata:\n  k: v\n";
  const noManager = await patch("/api/v1/namespaces/p/configmaps/a1", SSA, yaml);
  assert.equal(noManager.status, 400);
  const created = await patch("/api/v1/namespaces/p/configmaps/a1", SSA, yaml, "?fieldManager=op&force=true");
  assert.equal(created.status, 201);
  assert.deepEqual(managers(created.body), { "op/Apply": { "f:data": { "f:k": {} }, "f:metadata": { "f:labels": { "f:team": {} } } } });
  const again = await patch("/api/v1/namespaces/p/configmaps/a1", SSA, yaml, "?fieldManager=op&force=true");
  assert.equal(again.status, 200);
  assert.equal((again.body.metadata as Obj).resourceVersion, (created.body.metadata as Obj).resourceVersion, "re-applying the same configuration is a no-op");
  const noKind = await patch("/api/v1/namespaces/p/configmaps/a1", SSA, "metadata:\n  name: a1\n", "?fieldManager=op");
  assert.equal(noKind.status, 400);
});

test("two appliers own different labels side by side; a changed field owned by another is a conflict unless forced", async () => {
  const base = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shared", namespace: "p" } };
  api.apply({ ...base, metadata: { ...base.metadata, labels: { a: "1" } }, data: { x: "1" } }, { fieldManager: "one" });
  const both = api.apply({ ...base, metadata: { ...base.metadata, labels: { b: "2" } } }, { fieldManager: "two" });
  assert.deepEqual((both.metadata as Obj).labels, { a: "1", b: "2" });
  const clash = await patch("/api/v1/namespaces/p/configmaps/shared", SSA, JSON.stringify({ ...base, data: { x: "changed" } }), "?fieldManager=two");
  assert.equal(clash.status, 409);
  assert.equal(clash.body.message, 'Apply failed with 1 conflict: conflict with "one": .data.x');
  assert.deepEqual((clash.body.details as Obj).causes, [{ reason: "FieldManagerConflict", message: 'conflict with "one"', field: ".data.x" }]);
  // The same value is shared ownership, not a conflict.
  const same = await patch("/api/v1/namespaces/p/configmaps/shared", SSA, JSON.stringify({ ...base, metadata: { ...base.metadata, labels: { b: "2" } }, data: { x: "1" } }), "?fieldManager=two");
  assert.equal(same.status, 200);
  const forced = await patch("/api/v1/namespaces/p/configmaps/shared", SSA, JSON.stringify({ ...base, metadata: { ...base.metadata, labels: { b: "2" } }, data: { x: "forced" } }), "?fieldManager=two&force=true");
  assert.equal(forced.status, 200);
  assert.equal((forced.body.data as Obj).x, "forced");
  const m = managers(forced.body);
  assert.deepEqual(m["one/Apply"], { "f:metadata": { "f:labels": { "f:a": {} } } }, "one lost .data.x to the forced apply");
  assert.deepEqual(m["two/Apply"], { "f:data": { "f:x": {} }, "f:metadata": { "f:labels": { "f:b": {} } } });
});

test("a field a manager stops applying is removed, unless another manager owns it too", async () => {
  const base = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "rm", namespace: "p" } };
  api.apply({ ...base, data: { keep: "1", drop: "2", both: "3" } }, { fieldManager: "op" });
  api.apply({ ...base, data: { both: "3" } }, { fieldManager: "other" });
  const after = api.apply({ ...base, data: { keep: "1" } }, { fieldManager: "op" });
  assert.deepEqual(after.data, { keep: "1", both: "3" });
  const emptied = api.apply({ ...base, metadata: { ...base.metadata, labels: { l: "1" } }, data: { keep: "1" } }, { fieldManager: "op" });
  assert.deepEqual((emptied.metadata as Obj).labels, { l: "1" });
  const noLabels = api.apply({ ...base, data: { keep: "1" } }, { fieldManager: "op" });
  assert.equal((noLabels.metadata as Obj).labels, undefined);
});

test("apply merges containers by name and owns each container's fields; an update by another manager takes ownership", async () => {
  const generic = KubernetesObjectApi.makeApiClient(api.kubeConfig());
  const sts = (image: string, replicas: number): Obj => ({
    apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "ssa", namespace: "p" },
    spec: {
      replicas, serviceName: "ssa", selector: { matchLabels: { app: "ssa" } },
      template: { metadata: { labels: { app: "ssa" } }, spec: { containers: [{ name: "kingbus", image, ports: [{ containerPort: 3306, name: "mysql" }] }] } },
    },
  });
  const created = await generic.patch(sts("kingbus:1", 3), undefined, undefined, "kingbus-operator", true, PatchStrategy.ServerSideApply) as unknown as Obj;
  const fields = managers(JSON.parse(JSON.stringify(created)) as Obj)["kingbus-operator/Apply"] as Obj;
  const container = ((((fields["f:spec"] as Obj)["f:template"] as Obj)["f:spec"] as Obj)["f:containers"] as Obj)['k:{"name":"kingbus"}'] as Obj;
  assert.deepEqual(Object.keys(container).sort(), [".", "f:image", "f:name", "f:ports"]);
  assert.deepEqual(Object.keys(container["f:ports"] as Obj), ['k:{"containerPort":3306,"protocol":"TCP"}']);
  assert.deepEqual((fields["f:spec"] as Obj)["f:selector"], {}, "a LabelSelector is atomic");
  // kubectl scale: an Update by another manager takes spec.replicas.
  const scaled = await patch("/apis/apps/v1/namespaces/p/statefulsets/ssa", "application/merge-patch+json", { spec: { replicas: 5 } }, "?fieldManager=kubectl");
  assert.deepEqual(managers(scaled.body)["kubectl/Update"], { "f:spec": { "f:replicas": {} } });
  const conflict = await patch("/apis/apps/v1/namespaces/p/statefulsets/ssa", SSA, JSON.stringify(sts("kingbus:2", 3)), "?fieldManager=kingbus-operator");
  assert.equal(conflict.status, 409);
  assert.match(String(conflict.body.message), /conflict with "kubectl": \.spec\.replicas/);
  const forced = await patch("/apis/apps/v1/namespaces/p/statefulsets/ssa", SSA, JSON.stringify(sts("kingbus:2", 3)), "?fieldManager=kingbus-operator&force=true");
  assert.equal(((forced.body.spec as Obj).replicas), 3);
  assert.equal(((forced.body.metadata as Obj).generation), 3);
  assert.equal(managers(forced.body)["kubectl/Update"], undefined, "kubectl owned nothing else");
});

test("apply to the status subresource changes and owns only status", async () => {
  api.apply({ apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "sst", namespace: "p" }, spec: {
    serviceName: "sst", selector: { matchLabels: { app: "s" } }, template: { metadata: { labels: { app: "s" } }, spec: { containers: [{ name: "c", image: "c" }] } },
  } }, { fieldManager: "op" });
  const res = await patch("/apis/apps/v1/namespaces/p/statefulsets/sst/status", SSA, JSON.stringify({
    apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "sst" }, spec: { replicas: 9 }, status: { replicas: 2, readyReplicas: 1 },
  }), "?fieldManager=controller&force=true");
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal((res.body.spec as Obj).replicas, 1);
  assert.equal((res.body.status as Obj).readyReplicas, 1);
  const entry = ((res.body.metadata as Obj).managedFields as Obj[]).find((e) => e.manager === "controller")!;
  assert.equal(entry.subresource, "status");
  assert.deepEqual(entry.fieldsV1, { "f:status": { "f:readyReplicas": {}, "f:replicas": {} } });
});
