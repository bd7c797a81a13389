import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startFakeApiServer, type FakeApiServer, type Obj, type StatefulSetSimulator } from "./index.ts";

let api: FakeApiServer;
let sim: StatefulSetSimulator;

before(async () => {
  api = await startFakeApiServer();
  sim = api.simulateStatefulSets();
});
after(() => api.close());

function sts(name: string, ns: string, replicas: number, extra: Obj = {}): Obj {
  return {
    apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name, namespace: ns },
    spec: {
      replicas, serviceName: name, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "kingbus", image: "kingbus:1", volumeMounts: [{ name: "data", mountPath: "/data" }] }] } },
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      ...extra,
    },
  };
}

const status = (ns: string, name: string): Obj => (api.object("StatefulSet", ns, name)!.status as Obj);
const podNames = (ns: string): string[] => api.objects("Pod", ns).map((p) => String((p.metadata as Obj).name));
const ready = (p: Obj): boolean => (((p.status as Obj).conditions as Obj[] | undefined) ?? []).some((c) => c.type === "Ready" && c.status === "True");

test("OrderedReady: pods appear one by one, each with its claim, and the status counts them", async () => {
  await api.createNamespace("s1");
  const log: string[] = [];
  const stop = api.onChange("Pod", (c) => {
    const name = String((c.object.metadata as Obj).name);
    if (c.type === "ADDED") log.push(`created ${name}`);
    else if (ready(c.object) && !(c.old !== undefined && ready(c.old))) log.push(`ready ${name}`);
  });
  api.apply(sts("kb", "s1", 3), { fieldManager: "operator" });
  await api.waitFor("StatefulSet", "s1", "kb", (o) => (o?.status as Obj | undefined)?.readyReplicas === 3);
  assert.deepEqual(podNames("s1"), ["kb-0", "kb-1", "kb-2"]);
  const pod = api.object("Pod", "s1", "kb-1")!;
  const m = pod.metadata as Obj;
  assert.equal((m.labels as Obj)["statefulset.kubernetes.io/pod-name"], "kb-1");
  assert.equal((m.labels as Obj)["apps.kubernetes.io/pod-index"], "1");
  assert.equal(((m.ownerReferences as Obj[])[0]!).kind, "StatefulSet");
  assert.equal((pod.spec as Obj).hostname, "kb-1");
  assert.equal((pod.spec as Obj).subdomain, "kb");
  assert.deepEqual(((pod.spec as Obj).volumes as Obj[])[0], { name: "data", persistentVolumeClaim: { claimName: "data-kb-1" } });
  assert.match(String((pod.status as Obj).podIP), /^10\.244\./);
  assert.deepEqual(api.objects("PersistentVolumeClaim", "s1").map((c) => [(c.metadata as Obj).name, (c.status as Obj).phase]), [["data-kb-0", "Bound"], ["data-kb-1", "Bound"], ["data-kb-2", "Bound"]]);
  const s = status("s1", "kb");
  assert.equal(s.replicas, 3);
  assert.equal(s.currentRevision, s.updateRevision);
  assert.equal(s.observedGeneration, 1);
  stop();
  assert.deepEqual(log, ["created kb-0", "ready kb-0", "created kb-1", "ready kb-1", "created kb-2", "ready kb-2"]);
});

test("a pod that is not ready holds back the next one; marking it ready lets the set proceed", async () => {
  await api.createNamespace("s2");
  sim.setPodReady("s2", "hold-1", false);
  api.apply(sts("hold", "s2", 3), { fieldManager: "operator" });
  await api.waitFor("Pod", "s2", "hold-1", (o) => o !== undefined);
  await sim.idle();
  assert.deepEqual(podNames("s2"), ["hold-0", "hold-1"]);
  assert.equal(status("s2", "hold").readyReplicas, 1);
  sim.setPodReady("s2", "hold-1", true);
  await api.waitFor("StatefulSet", "s2", "hold", (o) => (o?.status as Obj | undefined)?.readyReplicas === 3);
});

test("scale-down removes the highest ordinals and keeps their claims; a deleted pod comes back", async () => {
  await api.createNamespace("s3");
  api.apply(sts("sd", "s3", 3, { podManagementPolicy: "Parallel" }), { fieldManager: "operator" });
  await api.waitFor("StatefulSet", "s3", "sd", (o) => (o?.status as Obj | undefined)?.readyReplicas === 3);
  api.apply(sts("sd", "s3", 1, { podManagementPolicy: "Parallel" }), { fieldManager: "operator" });
  await api.waitFor("StatefulSet", "s3", "sd", (o) => (o?.status as Obj | undefined)?.replicas === 1);
  assert.deepEqual(podNames("s3"), ["sd-0"]);
  assert.equal(api.objects("PersistentVolumeClaim", "s3").length, 3, "claims are retained");
  const uid = (api.object("Pod", "s3", "sd-0")!.metadata as Obj).uid;
  api.delete("Pod", "s3", "sd-0");
  const back = await api.waitFor("Pod", "s3", "sd-0", (o) => o !== undefined && (o.metadata as Obj).uid !== uid && ready(o));
  assert.ok(back);
  assert.equal(((back.metadata as Obj).labels as Obj)["controller-revision-hash"], status("s3", "sd").updateRevision);
});

test("a template change rolls pods from the highest ordinal, one at a time, honouring the partition", async () => {
  await api.createNamespace("s4");
  api.apply(sts("ru", "s4", 3), { fieldManager: "operator" });
  await api.waitFor("StatefulSet", "s4", "ru", (o) => (o?.status as Obj | undefined)?.readyReplicas === 3);
  const oldRevision = status("s4", "ru").updateRevision;
  const next = sts("ru", "s4", 3, { updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 1 } } });
  (((((next.spec as Obj).template as Obj).spec as Obj).containers as Obj[])[0]!).image = "kingbus:2";
  api.apply(next, { fieldManager: "operator" });
  await api.waitFor("StatefulSet", "s4", "ru", (o) => (o?.status as Obj | undefined)?.updatedReplicas === 2 && (o?.status as Obj).readyReplicas === 3);
  await sim.idle();
  const image = (n: string): unknown => (((api.object("Pod", "s4", n)!.spec as Obj).containers as Obj[])[0]!).image;
  assert.deepEqual(["ru-0", "ru-1", "ru-2"].map(image), ["kingbus:1", "kingbus:2", "kingbus:2"]);
  const s = status("s4", "ru");
  assert.equal(s.currentRevision, oldRevision, "not every pod is updated: the current revision stays");
  assert.notEqual(s.updateRevision, oldRevision);
  assert.equal(s.observedGeneration, 2);
});

test("deleting the StatefulSet garbage-collects its pods", async () => {
  await api.createNamespace("s5");
  api.apply(sts("gone", "s5", 2, { podManagementPolicy: "Parallel" }), { fieldManager: "operator" });
  await api.waitFor("StatefulSet", "s5", "gone", (o) => (o?.status as Obj | undefined)?.readyReplicas === 2);
  api.delete("StatefulSet", "s5", "gone");
  await api.waitFor("Pod", "s5", "gone-0", (o) => o === undefined);
  await api.waitFor("Pod", "s5", "gone-1", (o) => o === undefined);
  assert.equal(api.objects("PersistentVolumeClaim", "s5").length, 2, "claims outlive the set (retention policy Retain)");
});
