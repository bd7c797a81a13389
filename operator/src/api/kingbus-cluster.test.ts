import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClusterSpecError } from "./errors.ts";
import { kingbusClusterStatusSchema, parseKingbusCluster, parseKingbusClusterSpec, type KingbusClusterSpecInput } from "./kingbus-cluster.ts";

function cluster(spec: unknown, name = "demo"): unknown {
  return { apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name, namespace: "ns", uid: "u-1" }, spec };
}

function issues(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof ClusterSpecError, `expected ClusterSpecError, got ${String(e)}`);
    assert.equal(e.code, "CLUSTER_SPEC_INVALID");
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("expected a ClusterSpecError");
}

describe("KingbusCluster spec", () => {
  it("fills every default of an empty spec", () => {
    const spec = parseKingbusClusterSpec({});
    assert.deepEqual(spec, {
      replicas: 3,
      storage: { size: "10Gi" },
      syncer: { enabled: false, semiSync: false },
      server: { enabled: false, port: 3306 },
      monitoring: { serviceMonitor: { enabled: false } },
      logLevel: "info",
    });
    assert.deepEqual(parseKingbusCluster(cluster(undefined)).spec, spec);
  });

  it("takes a full spec and defaults the keys of Secret references", () => {
    const spec = parseKingbusClusterSpec({
      syncer: { enabled: true, source: { host: "db" }, credentialsSecret: { name: "repl" }, serverId: 7 },
      server: { enabled: true, usersSecret: { name: "readers", passwordKey: "pw" } },
    } satisfies KingbusClusterSpecInput);
    assert.deepEqual(spec.syncer.source, { host: "db", port: 3306 });
    assert.deepEqual(spec.syncer.credentialsSecret, { name: "repl", usernameKey: "username", passwordKey: "password" });
    assert.deepEqual(spec.server.usersSecret, { name: "readers", usernameKey: "username", passwordKey: "pw" });
  });

  it("refuses an even or out-of-range replica count", () => {
    for (const replicas of [2, 4, 0, 11, 1.5]) assert.ok(issues(() => parseKingbusClusterSpec({ replicas })).length >= 1, String(replicas));
    assert.match(issues(() => parseKingbusClusterSpec({ replicas: 4 }))[0]!, /^spec\.replicas: must be odd/);
    for (const replicas of [1, 3, 5, 7, 9]) assert.equal(parseKingbusClusterSpec({ replicas }).replicas, replicas);
  });

  it("an enabled syncer needs its primary, credentials and server id, named one by one", () => {
    assert.deepEqual(issues(() => parseKingbusClusterSpec({ syncer: { enabled: true } })), [
      "spec.syncer.source: is required when the syncer is enabled",
      "spec.syncer.credentialsSecret: is required when the syncer is enabled",
      "spec.syncer.serverId: is required when the syncer is enabled",
    ]);
    // A disabled syncer may be half written (kept for later).
    assert.equal(parseKingbusClusterSpec({ syncer: { enabled: false, serverId: 3 } }).syncer.serverId, 3);
  });

  it("an enabled server needs its users Secret; its port must not be kingbus's own", () => {
    assert.deepEqual(issues(() => parseKingbusClusterSpec({ server: { enabled: true } })), ["spec.server.usersSecret: is required when the server is enabled"]);
    assert.match(issues(() => parseKingbusClusterSpec({ server: { port: 9595 } }))[0]!, /spec\.server\.port: must not be 9696 or 9595/);
    assert.match(issues(() => parseKingbusClusterSpec({ server: { port: 9696 } }))[0]!, /spec\.server\.port/);
    assert.equal(parseKingbusClusterSpec({ server: { port: 3307 } }).server.port, 3307);
  });

  it("checks sizes, durations and the retention limits", () => {
    assert.match(issues(() => parseKingbusClusterSpec({ storage: { size: "10GB" } }))[0]!, /spec\.storage\.size: must be a size/);
    assert.match(issues(() => parseKingbusClusterSpec({ retention: { size: "1Mi" } }))[0]!, /spec\.retention\.size: must be at least 64Mi/);
    assert.match(issues(() => parseKingbusClusterSpec({ retention: { age: "1week" } }))[0]!, /spec\.retention\.age: must be a duration/);
    assert.match(issues(() => parseKingbusClusterSpec({ retention: { age: "500ms" } }))[0]!, /spec\.retention\.age: must be at least 1s/);
    assert.deepEqual(issues(() => parseKingbusClusterSpec({ storage: { size: "10Gi" }, retention: { size: "20Gi" } })), [
      "spec.retention.size: must not exceed storage.size (20Gi > 10Gi)",
    ]);
    assert.deepEqual(parseKingbusClusterSpec({ storage: { size: "10Gi" }, retention: { size: "10Gi", age: "7d" } }).retention, { size: "10Gi", age: "7d" });
  });

  it("checks the syncer's identity", () => {
    assert.equal(issues(() => parseKingbusClusterSpec({ syncer: { serverId: 0 } })).length, 1);
    assert.equal(issues(() => parseKingbusClusterSpec({ syncer: { serverId: 2 ** 32 } })).length, 1);
    assert.equal(issues(() => parseKingbusClusterSpec({ syncer: { serverUuid: "not-a-uuid" } })).length, 1);
    assert.equal(issues(() => parseKingbusClusterSpec({ syncer: { source: { host: "a b" } } })).length, 1);
    assert.equal(parseKingbusClusterSpec({ syncer: { source: { host: "fd00::1", port: 3306 } } }).syncer.source?.host, "fd00::1");
  });
});

describe("KingbusCluster object", () => {
  it("refuses names that cannot name a StatefulSet's pods, and objects of another kind", () => {
    assert.match(issues(() => parseKingbusCluster(cluster({}, "a".repeat(45))))[0]!, /^metadata\.name: must be at most 44 characters/);
    assert.equal(parseKingbusCluster(cluster({}, "a".repeat(44))).metadata.name.length, 44);
    assert.match(issues(() => parseKingbusCluster(cluster({}, "with.dot")))[0]!, /^metadata\.name: must be lower-case/);
    assert.match(issues(() => parseKingbusCluster({ ...(cluster({}) as object), kind: "Pod" }))[0]!, /^kind:/);
    assert.match(issues(() => parseKingbusCluster({ ...(cluster({}) as object), metadata: { name: "x", namespace: "ns" } }))[0]!, /^metadata\.uid:/);
  });

  it("keeps metadata fields it does not check (resourceVersion, managedFields...)", () => {
    const parsed = parseKingbusCluster({ ...(cluster({}) as object), metadata: { name: "x", namespace: "ns", uid: "u", resourceVersion: "12", finalizers: ["f"] } });
    assert.deepEqual((parsed.metadata as Record<string, unknown>).finalizers, ["f"]);
  });

  it("a status it cannot read is dropped, never an obstacle to reconciling the spec", () => {
    const parsed = parseKingbusCluster({ ...(cluster({ replicas: 5 }) as object), status: { syncer: { state: "Teleporting" }, readyMembers: 2 } });
    assert.equal(parsed.status, undefined);
    assert.equal(parsed.spec.replicas, 5);
    const kept = parseKingbusCluster({ ...(cluster({}) as object), status: { readyMembers: 2, leader: "kingbus-demo-0" } });
    assert.deepEqual(kept.status, { readyMembers: 2, leader: "kingbus-demo-0" });
  });

  it("the status schema takes what the operator writes and refuses a malformed condition", () => {
    const status = {
      observedGeneration: 2,
      readyMembers: 3,
      leader: "kingbus-demo-1",
      conditions: [{ type: "Available", status: "True", reason: "QuorumReady", message: "3 of 3 members ready", lastTransitionTime: "2025-01-02T03:04:05Z", observedGeneration: 2 }],
      members: [{ name: "kingbus-demo-0", id: 1, role: "Follower", healthy: true, appliedIndex: 42 }],
      syncer: { state: "Running", executedGtidSet: "0-1-100", secondsBehind: null },
      server: { connectedReplicas: 2 },
    };
    assert.deepEqual(kingbusClusterStatusSchema.parse(status), status);
    const bad = { conditions: [{ ...status.conditions[0], reason: "has spaces" }] };
    assert.equal(kingbusClusterStatusSchema.safeParse(bad).success, false);
    assert.equal(kingbusClusterStatusSchema.safeParse({ conditions: [{ ...status.conditions[0], lastTransitionTime: "yesterday" }] }).success, false);
  });
});
