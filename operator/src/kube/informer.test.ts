import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startFakeApiServer, type FakeApiServer } from "../../test-support/apiserver/index.ts";
import { ConfigMaps, Informer, KubeClient, type ConfigMap, type InformerEvent } from "./index.ts";

let api: FakeApiServer;
let client: KubeClient;

before(async () => {
  api = await startFakeApiServer({ bookmarkIntervalMs: 100 });
  client = new KubeClient(api.kubeConfig(), { fieldManager: "test" });
});
after(() => api.close());

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function recorder(informer: Informer<ConfigMap>): string[] {
  const log: string[] = [];
  informer.onEvent((e: InformerEvent<ConfigMap>) => {
    const name = e.object.metadata!.name!;
    log.push(e.type === "update" ? `update ${name} ${e.old.data?.v ?? ""}->${e.object.data?.v ?? ""}` : `${e.type} ${name}`);
  });
  return log;
}

const cm = (ns: string, name: string, v = "1", labels: Record<string, string> = {}): ConfigMap =>
  ({ metadata: { name, namespace: ns, labels }, data: { v } });

test("start lists and syncs; then add, update and delete arrive in order, with the old object on update", async () => {
  await api.createNamespace("i1");
  await client.create(ConfigMaps, cm("i1", "pre"));
  const informer = new Informer(client, ConfigMaps, { namespace: "i1" });
  const log = recorder(informer);
  await informer.start();
  assert.ok(informer.synced);
  assert.deepEqual(log, ["add pre"]);
  assert.equal(informer.get("i1", "pre")!.kind, "ConfigMap", "list items get their kind back");
  await client.create(ConfigMaps, cm("i1", "x"));
  await client.patch(ConfigMaps, "i1", "x", { data: { v: "2" } });
  await client.delete(ConfigMaps, "i1", "x");
  await eventually(() => log.length === 4, "events");
  assert.deepEqual(log, ["add pre", "add x", "update x 1->2", "delete x"]);
  assert.deepEqual(informer.list().map((o) => o.metadata!.name), ["pre"]);
  assert.equal(informer.resourceVersion, api.resourceVersion);
  await informer.stop();
});

test("after a 410 it relists and tells handlers exactly what changed while the watch was away", async () => {
  await api.createNamespace("i2");
  for (const n of ["keep", "change", "remove"]) await client.create(ConfigMaps, cm("i2", n));
  const informer = new Informer(client, ConfigMaps, { namespace: "i2", backoff: { initialMs: 20, maxMs: 100 } });
  await informer.start();
  const log = recorder(informer);
  log.length = 0;
  // Everything a client holds expires, the watch drops, and things change before it comes back.
  api.compactHistory();
  api.failNext("watch", "ConfigMap", 503, { times: 3 });
  api.dropWatches();
  await client.patch(ConfigMaps, "i2", "change", { data: { v: "2" } });
  await client.delete(ConfigMaps, "i2", "remove");
  await client.create(ConfigMaps, cm("i2", "new"));
  await eventually(() => log.length === 3, "relisted");
  assert.deepEqual(log.sort(), ["add new", "delete remove", "update change 1->2"]);
  assert.ok(informer.stats.expired >= 1);
  assert.equal(informer.stats.lists, 2);
  assert.deepEqual(informer.keys().sort(), ["i2/change", "i2/keep", "i2/new"]);
  await informer.stop();
});

test("a cleanly ended watch resumes from the last resourceVersion without relisting", async () => {
  await api.createNamespace("i3");
  const informer = new Informer(client, ConfigMaps, { namespace: "i3" });
  const log = recorder(informer);
  await informer.start();
  await client.create(ConfigMaps, cm("i3", "a"));
  await eventually(() => log.length === 1, "a");
  api.dropWatches();
  await client.create(ConfigMaps, cm("i3", "b"));
  await eventually(() => log.length === 2, "b after the drop");
  assert.deepEqual(log, ["add a", "add b"]);
  assert.equal(informer.stats.lists, 1);
  assert.ok(informer.stats.watches >= 2);
  await informer.stop();
});

test("a broken connection and failing requests are retried with backoff until the watch is back", async () => {
  await api.createNamespace("i4");
  const errors: unknown[] = [];
  const informer = new Informer(client, ConfigMaps, { namespace: "i4", backoff: { initialMs: 20, maxMs: 200 }, onError: (e) => errors.push(e) });
  const log = recorder(informer);
  api.failNext("list", "ConfigMap", 500, { times: 2 });
  await informer.start();
  assert.equal(errors.length, 2, "the first two lists failed and were retried");
  api.failNext("watch", "ConfigMap", 500, { times: 3 });
  api.dropWatches({ abrupt: true });
  await client.create(ConfigMaps, cm("i4", "after"));
  await eventually(() => log.includes("add after"), "recovered");
  assert.ok(errors.length >= 5, `errors: ${errors.length}`);
  const watches = api.requests.filter((r) => r.verb === "watch" && r.namespace === "i4");
  assert.ok(watches.filter((r) => r.status === 500).length === 3);
  await informer.stop();
});

test("label selectors narrow the cache; a handler added after sync hears every cached object", async () => {
  await api.createNamespace("i5");
  await client.create(ConfigMaps, cm("i5", "mine", "1", { owner: "kingbus" }));
  await client.create(ConfigMaps, cm("i5", "theirs", "1", { owner: "other" }));
  const informer = new Informer(client, ConfigMaps, { namespace: "i5", labelSelector: "owner=kingbus" });
  await informer.start();
  const late = recorder(informer);
  assert.deepEqual(late, ["add mine"]);
  await client.patch(ConfigMaps, "i5", "theirs", { metadata: { labels: { owner: "kingbus" } } });
  await client.patch(ConfigMaps, "i5", "mine", { metadata: { labels: { owner: "other" } } });
  await eventually(() => late.length === 3, "selector transitions");
  assert.deepEqual(late, ["add mine", "add theirs", "delete mine"]);
  await informer.stop();
});

test("every namespace when none is given; stop() ends the watch", async () => {
  await api.createNamespace("i6a");
  await api.createNamespace("i6b");
  await client.create(ConfigMaps, cm("i6a", "one"));
  await client.create(ConfigMaps, cm("i6b", "two"));
  const watchesBefore = api.watchCount();
  const informer = new Informer(client, ConfigMaps, {});
  await informer.start();
  assert.ok(informer.get("i6a", "one"));
  assert.ok(informer.get("i6b", "two"));
  assert.equal(informer.list("i6b").length, 1);
  await eventually(() => api.watchCount() === watchesBefore + 1, "watching");
  await informer.stop();
  await eventually(() => api.watchCount() === watchesBefore, "watch closed");
});
