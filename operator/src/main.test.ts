import { test } from "node:test";
import assert from "node:assert/strict";
import { OperatorConfigError, operatorConfig } from "./main.ts";

const chartEnv = {
  KINGBUS_OPERATOR_NAMESPACE: "kingbus-system",
  KINGBUS_OPERATOR_POD_NAME: "kingbus-operator-5d8c7-abcde",
  KINGBUS_OPERATOR_WATCH_NAMESPACES: "data, orders ,data",
  KINGBUS_OPERATOR_IMAGE: "kingbus/kingbus:0.1.0",
  KINGBUS_OPERATOR_HTTP: "0.0.0.0:8080",
  KINGBUS_OPERATOR_LEADER_ELECTION: "true",
  KINGBUS_OPERATOR_LOG_LEVEL: "debug",
};

test("the environment the chart sets is the whole configuration", () => {
  const c = operatorConfig({}, chartEnv, () => undefined);
  assert.deepEqual({ ...c, failpoints: [...c.failpoints] }, {
    namespace: "kingbus-system", podName: "kingbus-operator-5d8c7-abcde", watchNamespaces: ["data", "orders"], image: "kingbus/kingbus:0.1.0",
    http: { host: "0.0.0.0", port: 8080 }, leaderElection: true, logLevel: "debug", clusterDomain: undefined, leaseName: "kingbus-operator",
    resyncMs: 60_000, kubeconfig: undefined, failpoints: [],
  });
});

test("flags win over the environment; defaults where neither says", () => {
  const c = operatorConfig({ namespace: "ops", image: "kb:2", http: "[::1]:9000", leaderElection: "false", watchNamespaces: "", clusterDomain: "cluster.local", resync: "5m" }, chartEnv);
  assert.equal(c.namespace, "ops");
  assert.equal(c.image, "kb:2");
  assert.deepEqual(c.http, { host: "::1", port: 9000 });
  assert.equal(c.leaderElection, false);
  assert.deepEqual(c.watchNamespaces, [], "an empty flag: every namespace");
  assert.equal(c.clusterDomain, "cluster.local");
  assert.equal(c.resyncMs, 300_000);
  const d = operatorConfig({}, { KINGBUS_OPERATOR_IMAGE: "kb:1" }, () => "from-service-account");
  assert.equal(d.namespace, "from-service-account");
  assert.equal(d.leaderElection, true);
  assert.equal(d.logLevel, "info");
  assert.deepEqual(d.http, { host: "0.0.0.0", port: 8080 });
  assert.equal(operatorConfig({ http: "off" }, { KINGBUS_OPERATOR_IMAGE: "kb:1" }, () => undefined).namespace, "default");
  assert.equal(operatorConfig({ http: "off" }, { KINGBUS_OPERATOR_IMAGE: "kb:1" }).http, undefined);
  assert.deepEqual([...operatorConfig({}, { KINGBUS_OPERATOR_IMAGE: "kb:1", KINGBUS_OPERATOR_FAILPOINT: "after-scale, after-remove" }).failpoints], ["after-scale", "after-remove"]);
});

test("a configuration it refuses names the setting", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{}, /image: required/],
    [{ KINGBUS_OPERATOR_IMAGE: " " }, /image: required/],
    [{ KINGBUS_OPERATOR_IMAGE: "kb", KINGBUS_OPERATOR_HTTP: "8080" }, /http: must be host:port/],
    [{ KINGBUS_OPERATOR_IMAGE: "kb", KINGBUS_OPERATOR_HTTP: "0.0.0.0:99999" }, /http: must be host:port/],
    [{ KINGBUS_OPERATOR_IMAGE: "kb", KINGBUS_OPERATOR_LEADER_ELECTION: "maybe" }, /leader election: must be true or false/],
    [{ KINGBUS_OPERATOR_IMAGE: "kb", KINGBUS_OPERATOR_LOG_LEVEL: "loud" }, /log level: one of fatal, error/],
    [{ KINGBUS_OPERATOR_IMAGE: "kb", KINGBUS_OPERATOR_WATCH_NAMESPACES: "ok,Not_OK" }, /watch namespaces: "Not_OK"/],
    [{ KINGBUS_OPERATOR_IMAGE: "kb", KINGBUS_OPERATOR_RESYNC: "10ms" }, /resync: a duration of at least 1s/],
    [{ KINGBUS_OPERATOR_IMAGE: "kb", KINGBUS_OPERATOR_FAILPOINT: "after-lunch" }, /unknown failpoint "after-lunch": one of after-apply/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => operatorConfig({}, env, () => undefined), (e: unknown) => e instanceof OperatorConfigError && e.code === "OPERATOR_CONFIG_INVALID" && message.test(e.message), JSON.stringify(env));
  }
});
