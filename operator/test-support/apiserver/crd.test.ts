import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ApiextensionsV1Api, CustomObjectsApi, KubernetesObjectApi, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { startFakeApiServer, type FakeApiServer, type Obj } from "./index.ts";
import { kingbusClusterCrd, raw, statusOf } from "./testing.ts";

let api: FakeApiServer;
let custom: CustomObjectsApi;

before(async () => {
  api = await startFakeApiServer();
  custom = api.kubeConfig().makeApiClient(CustomObjectsApi);
});
after(() => api.close());

const kb = (name: string, spec: Obj = { image: "kingbus:1" }): Obj => ({ apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name }, spec });
function postJson(path: string, body: Obj): Promise<{ status: number; body: Obj }> {
  return raw(`${api.url}${path}`, api.token, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

const args = { group: "kingbus.io", version: "v1alpha1", namespace: "default", plural: "kingbusclusters" };

test("a CRD created over HTTP is established and its resource is served at once, in discovery too", async () => {
  const ext = api.kubeConfig().makeApiClient(ApiextensionsV1Api);
  const before404 = await raw(`${api.url}/apis/kingbus.io/v1alpha1/namespaces/default/kingbusclusters`, api.token);
  assert.equal(before404.status, 404);
  // As JSON: client-node's typed models would drop `default` and `x-kubernetes-*` (their TypeScript
  // names are _default, xKubernetesPreserveUnknownFields, ...), and the server would store that.
  const res = await postJson("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", kingbusClusterCrd());
  assert.equal(res.status, 201);
  const crd = await ext.readCustomResourceDefinition({ name: "kingbusclusters.kingbus.io" });
  assert.deepEqual(crd.status!.conditions!.map((c) => [c.type, c.status]), [["NamesAccepted", "True"], ["Established", "True"]]);
  const disc = await raw(`${api.url}/apis/kingbus.io/v1alpha1`, api.token);
  assert.deepEqual((disc.body.resources as Obj[]).map((r) => r.name), ["kingbusclusters", "kingbusclusters/status"]);
  const generic = KubernetesObjectApi.makeApiClient(api.kubeConfig());
  const created = await generic.create(kb("via-generic") as never) as unknown as Obj;
  assert.equal((created.metadata as Obj).generation, 1);
});

test("custom resources are defaulted, pruned of unknown fields and validated against the schema", async () => {
  const created = await custom.createNamespacedCustomObject({ ...args, body: kb("a", { image: "kingbus:1", unknownField: 1, primary: { host: "db", bogus: true }, extra: { anything: { goes: 1 } } }) }) as Obj;
  assert.deepEqual(created.spec, { image: "kingbus:1", replicas: 3, flavor: "mariadb", primary: { host: "db", port: 3306 }, extra: { anything: { goes: 1 } } });
  const bad = await statusOf(custom.createNamespacedCustomObject({ ...args, body: kb("b", { image: "", replicas: 0, flavor: "oracle" }) }));
  assert.equal(bad.code, 422);
  assert.match(String(bad.status.message), /^KingbusCluster\.kingbus\.io "b" is invalid: \[/);
  assert.deepEqual(((bad.status.details as Obj).causes as Obj[]).map((c) => `${String(c.field)}: ${String(c.message)}`).sort(), [
    'spec.flavor: Unsupported value: "oracle": supported values: "mariadb", "mysql"',
    'spec.image: Invalid value: "": spec.image in body should be at least 1 chars long',
    "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
  ]);
  const missing = await statusOf(custom.createNamespacedCustomObject({ ...args, body: kb("c", {}) }));
  assert.match(String(missing.status.message), /spec\.image: Required value/);
  const wrongType = await statusOf(custom.createNamespacedCustomObject({ ...args, body: kb("d", { image: "x", replicas: "3" }) }));
  assert.match(String(wrongType.status.message), /spec\.replicas: Invalid value: "3": spec\.replicas in body must be of type integer: "string"/);
});

test("a custom resource's status subresource, generation and conflicts behave as for built-in kinds", async () => {
  const created = await custom.createNamespacedCustomObject({ ...args, body: { ...kb("s"), status: { phase: "Ignored" } } }) as Obj;
  assert.equal(created.status, undefined, "status is dropped on create");
  const withStatus = await custom.replaceNamespacedCustomObjectStatus({ ...args, name: "s", body: { ...created, spec: { image: "ignored" }, status: { phase: "Running", unknown: "pruned", conditions: [{ type: "Ready", status: "True" }] } } }) as Obj;
  assert.deepEqual(withStatus.status, { phase: "Running", conditions: [{ type: "Ready", status: "True" }] });
  assert.equal((withStatus.spec as Obj).image, "kingbus:1");
  assert.equal((withStatus.metadata as Obj).generation, 1);
  const stale = await statusOf(custom.replaceNamespacedCustomObject({ ...args, name: "s", body: { ...created, spec: { image: "kingbus:2" } } }));
  assert.equal(stale.code, 409);
  const patched = await custom.patchNamespacedCustomObject({ ...args, name: "s", body: { spec: { image: "kingbus:2" } } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch)) as Obj;
  assert.equal((patched.metadata as Obj).generation, 2);
  assert.equal((patched.status as Obj).phase, "Running", "a main-endpoint patch keeps status");
  const smp = await statusOf(custom.patchNamespacedCustomObject({ ...args, name: "s", body: { spec: { image: "kingbus:3" } } }, setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)));
  assert.equal(smp.code, 415);
  // Custom resources come back from DELETE as the object, and from lists with apiVersion and kind.
  const list = await custom.listNamespacedCustomObject(args) as { items: Obj[] };
  assert.ok(list.items.every((i) => i.kind === "KingbusCluster"));
  const deleted = await custom.deleteNamespacedCustomObject({ ...args, name: "s" }) as Obj;
  assert.equal(deleted.kind, "KingbusCluster");
});

test("structural-schema rules refuse what the real API server refuses", async () => {
  const bad = kingbusClusterCrd();
  const spec = bad.spec as Obj;
  (spec.names as Obj).plural = "brokens";
  (bad.metadata as Obj).name = "brokens.kingbus.io";
  const schema = ((spec.versions as Obj[])[0]!.schema as Obj).openAPIV3Schema as Obj;
  const props = ((schema.properties as Obj).spec as Obj).properties as Obj;
  props.untyped = { description: "no type" };
  props.closed = { type: "object", properties: { a: { type: "string" } }, additionalProperties: false };
  props.ref = { $ref: "#/definitions/x" };
  const res = await postJson("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", bad);
  assert.equal(res.status, 422, JSON.stringify(res.body));
  const fields = ((res.body.details as Obj).causes as Obj[]).map((c) => c.field);
  assert.ok(fields.includes("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[untyped].type"), JSON.stringify(fields));
  assert.ok(fields.includes("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[closed].additionalProperties"));
  assert.ok(fields.includes("spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[ref].$ref"));
  const wrongName = kingbusClusterCrd();
  (wrongName.metadata as Obj).name = "kingbus.kingbus.io";
  assert.match(String((await postJson("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", wrongName)).body.message), /must be spec\.names\.plural\+"\."\+spec\.group/);
});

test("server-side apply of custom resources keys list-map items by their declared keys", async () => {
  api.apply({ ...kb("ssa"), metadata: { name: "ssa", namespace: "default" } }, { fieldManager: "user" });
  const one = api.apply({ apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name: "ssa", namespace: "default" }, status: { conditions: [{ type: "Ready", status: "True" }] } }, { fieldManager: "op", subresource: "status" });
  const two = api.apply({ apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name: "ssa", namespace: "default" }, status: { conditions: [{ type: "Synced", status: "False" }] } }, { fieldManager: "syncer", subresource: "status" });
  assert.equal(((one.status as Obj).conditions as Obj[]).length, 1);
  assert.deepEqual(((two.status as Obj).conditions as Obj[]).map((c) => c.type), ["Ready", "Synced"]);
});

test("deleting the CRD deletes its custom resources and stops serving them", async () => {
  const ext = api.kubeConfig().makeApiClient(ApiextensionsV1Api);
  assert.ok(api.objects("KingbusCluster").length > 0);
  await ext.deleteCustomResourceDefinition({ name: "kingbusclusters.kingbus.io" });
  assert.equal((await raw(`${api.url}/apis/kingbus.io/v1alpha1/namespaces/default/kingbusclusters`, api.token)).status, 404);
  assert.equal((await raw(`${api.url}/apis/kingbus.io/v1alpha1`, api.token)).status, 404);
  api.registerCrd(kingbusClusterCrd());
  assert.deepEqual(api.objects("KingbusCluster"), []);
});

test("the ServiceMonitor CRD is installed unless disabled", async () => {
  const sm = await custom.createNamespacedCustomObject({ group: "monitoring.coreos.com", version: "v1", namespace: "default", plural: "servicemonitors", body: {
    apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "kb" },
    spec: { selector: { matchLabels: { app: "kb" } }, endpoints: [{ port: "metrics", interval: "30s", nonsense: 1 }] },
  } }) as Obj;
  assert.deepEqual((sm.spec as Obj).endpoints, [{ port: "metrics", interval: "30s" }]);
  const bare = await startFakeApiServer({ serviceMonitors: false });
  try {
    assert.equal((await raw(`${bare.url}/apis/monitoring.coreos.com/v1`, bare.token)).status, 404);
  } finally {
    await bare.close();
  }
});
