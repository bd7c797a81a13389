import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { CoreV1Api, makeInformer, Watch, type V1ConfigMap } from "@kubernetes/client-node";
import { startFakeApiServer, type FakeApiServer, type Obj } from "./index.ts";
import { delay, eventually } from "./testing.ts";

let api: FakeApiServer;
let core: CoreV1Api;

before(async () => {
  api = await startFakeApiServer({ bookmarkIntervalMs: 50, historyLimit: 20 });
  core = api.kubeConfig().makeApiClient(CoreV1Api);
});
after(() => api.close());

interface Seen {
  events: { type: string; name: string; rv: string; object: Obj }[];
  done: (Error | null)[];
  abort: () => void;
}

async function watch(path: string, query: Record<string, string | boolean>): Promise<Seen> {
  const seen: Seen = { events: [], done: [], abort: () => undefined };
  const ctl = await new Watch(api.kubeConfig()).watch(path, query, (type, object: Obj) => {
    const m = (object.metadata as Obj | undefined) ?? {};
    seen.events.push({ type, name: String(m.name ?? ""), rv: String(m.resourceVersion ?? ""), object });
  }, (err) => seen.done.push(err as Error | null));
  seen.abort = () => ctl.abort();
  return seen;
}

const cm = (ns: string, name: string, labels: Record<string, string> = {}): { namespace: string; body: V1ConfigMap } =>
  ({ namespace: ns, body: { metadata: { name, labels }, data: { v: "1" } } });

test("a watch from a list's resourceVersion streams ADDED, MODIFIED, DELETED with increasing resourceVersions", async () => {
  await api.createNamespace("w1");
  await core.createNamespacedConfigMap(cm("w1", "before"));
  const list = await core.listNamespacedConfigMap({ namespace: "w1" });
  const w = await watch("/api/v1/namespaces/w1/configmaps", { resourceVersion: list.metadata!.resourceVersion! });
  await core.createNamespacedConfigMap(cm("w1", "x"));
  await core.patchNamespacedConfigMap({ namespace: "w1", name: "x", body: [{ op: "replace", path: "/data/v", value: "2" }] });
  await core.deleteNamespacedConfigMap({ namespace: "w1", name: "x" });
  await core.createNamespacedConfigMap(cm("default", "elsewhere"));
  await eventually(() => w.events.length >= 3);
  await delay(30);
  assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ["ADDED x", "MODIFIED x", "DELETED x"]);
  const rvs = w.events.map((e) => Number(e.rv));
  assert.ok(rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]!, "the DELETED event carries the deletion's resourceVersion");
  assert.equal(w.events[0]!.object.kind, "ConfigMap", "watch events carry apiVersion and kind");
  w.abort();
});

test("without a resourceVersion a watch starts with the current state as ADDED events", async () => {
  await api.createNamespace("w2");
  await core.createNamespacedConfigMap(cm("w2", "a"));
  await core.createNamespacedConfigMap(cm("w2", "b"));
  const w = await watch("/api/v1/namespaces/w2/configmaps", {});
  await eventually(() => w.events.length === 2);
  assert.deepEqual(w.events.map((e) => `${e.type} ${e.name}`), ["ADDED a", "ADDED b"]);
  w.abort();
});

test("resuming from a resourceVersion replays what happened since; one older than the history gets a 410 ERROR and the stream ends", async () => {
  await api.createNamespace("w3");
  const list = await core.listNamespacedConfigMap({ namespace: "w3" });
  await core.createNamespacedConfigMap(cm("w3", "missed"));
  const resumed = await watch("/api/v1/namespaces/w3/configmaps", { resourceVersion: list.metadata!.resourceVersion! });
  await eventually(() => resumed.events.length === 1);
  assert.equal(resumed.events[0]!.name, "missed");
  resumed.abort();
  api.compactHistory();
  const expired = await watch("/api/v1/namespaces/w3/configmaps", { resourceVersion: list.metadata!.resourceVersion! });
  await eventually(() => expired.done.length === 1);
  assert.equal(expired.events.length, 1);
  assert.equal(expired.events[0]!.type, "ERROR");
  assert.equal(expired.events[0]!.object.code, 410);
  assert.equal(expired.events[0]!.object.reason, "Expired");
  assert.match(String(expired.events[0]!.object.message), /^too old resource version: \d+ \(\d+\)$/);
  // The window also expires on its own: more than historyLimit (20) events on a resource.
  const rv = (await core.listNamespacedConfigMap({ namespace: "w3" })).metadata!.resourceVersion!;
  for (let i = 0; i < 25; i++) await core.createNamespacedConfigMap(cm("w3", `n${i}`));
  const old = await watch("/api/v1/namespaces/w3/configmaps", { resourceVersion: rv });
  await eventually(() => old.done.length === 1);
  assert.equal(old.events[0]!.object.code, 410);
});

test("bookmarks carry the current resourceVersion when allowed, and only then", async () => {
  await api.createNamespace("w4");
  const rv = (await core.listNamespacedConfigMap({ namespace: "w4" })).metadata!.resourceVersion!;
  const withBookmarks = await watch("/api/v1/namespaces/w4/configmaps", { resourceVersion: rv, allowWatchBookmarks: true });
  const without = await watch("/api/v1/namespaces/w4/configmaps", { resourceVersion: rv });
  await core.createNamespacedConfigMap(cm("default", "bump"));
  await eventually(() => withBookmarks.events.some((e) => e.type === "BOOKMARK" && Number(e.rv) >= Number(api.resourceVersion)));
  assert.equal(without.events.length, 0);
  const b = withBookmarks.events.find((e) => e.type === "BOOKMARK")!;
  assert.deepEqual(Object.keys(b.object).sort(), ["apiVersion", "kind", "metadata"]);
  withBookmarks.abort();
  without.abort();
});

test("a label-selected watch sees an object that stops matching as DELETED and one that starts as ADDED", async () => {
  await api.createNamespace("w5");
  await core.createNamespacedConfigMap(cm("w5", "s", { role: "leader" }));
  const rv = (await core.listNamespacedConfigMap({ namespace: "w5" })).metadata!.resourceVersion!;
  const w = await watch("/api/v1/namespaces/w5/configmaps", { resourceVersion: rv, labelSelector: "role=leader" });
  await core.patchNamespacedConfigMap({ namespace: "w5", name: "s", body: [{ op: "replace", path: "/metadata/labels/role", value: "follower" }] });
  await core.patchNamespacedConfigMap({ namespace: "w5", name: "s", body: [{ op: "replace", path: "/metadata/labels/role", value: "leader" }] });
  await eventually(() => w.events.length === 2);
  assert.deepEqual(w.events.map((e) => e.type), ["DELETED", "ADDED"]);
  w.abort();
});

test("dropWatches ends streams cleanly (done without error) or abruptly (done with an error)", async () => {
  const clean = await watch("/api/v1/namespaces/default/configmaps", { resourceVersion: api.resourceVersion });
  await eventually(() => api.watchCount() >= 1);
  api.dropWatches();
  await eventually(() => clean.done.length === 1);
  assert.equal(clean.done[0], null);
  const abrupt = await watch("/api/v1/namespaces/default/configmaps", { resourceVersion: api.resourceVersion });
  await eventually(() => api.watchCount() >= 1);
  api.dropWatches({ abrupt: true });
  await eventually(() => abrupt.done.length === 1);
  assert.ok(abrupt.done[0] instanceof Error);
});

test("client-node's own informer lists, watches, and relists after a 410", async () => {
  await api.createNamespace("w6");
  await core.createNamespacedConfigMap(cm("w6", "first"));
  const informer = makeInformer(api.kubeConfig(), "/api/v1/namespaces/w6/configmaps", () => core.listNamespacedConfigMap({ namespace: "w6" }));
  const added: string[] = [];
  const deleted: string[] = [];
  informer.on("add", (o) => added.push(o.metadata!.name!));
  informer.on("delete", (o) => deleted.push(o.metadata!.name!));
  await informer.start();
  await core.createNamespacedConfigMap(cm("w6", "second"));
  await eventually(() => added.includes("second"));
  const lists = () => api.requests.filter((r) => r.verb === "list" && r.namespace === "w6").length;
  const listsBefore = lists();
  // Expire the history and drop the watch: the informer resumes, gets 410, and must relist.
  api.compactHistory();
  api.dropWatches();
  await core.deleteNamespacedConfigMap({ namespace: "w6", name: "first" });
  await core.createNamespacedConfigMap(cm("w6", "third"));
  await eventually(() => added.includes("third") && deleted.includes("first"), 5_000, "relisted");
  assert.ok(lists() > listsBefore);
  assert.deepEqual(informer.list().map((o) => o.metadata!.name).sort(), ["second", "third"]);
  await informer.stop();
});
