import { test } from "node:test";
import assert from "node:assert/strict";
import { computeStatus, type Observation } from "./status.ts";
import { kingbusClusterStatusSchema } from "../api/kingbus-cluster.ts";
import { findCondition } from "../api/conditions.ts";
import { testCluster } from "../desired/testing/fixtures.ts";

const member = (i: number, role: "leader" | "follower" | "learner", ready = true) => ({ name: `kingbus-orders-${i}`, id: i + 1, role, ready, appliedIndex: 100 + i });

const healthy: Observation = {
  members: [member(0, "follower"), member(1, "leader"), member(2, "follower")],
  leaderName: "kingbus-orders-1",
  syncer: { phase: "running", executedGtidSet: "0-1-42", secondsBehind: 0, lastError: "" },
  connectedReplicas: [2, 1, 0],
  serverRunning: true,
  step: { kind: "done" },
  statefulSetReplicas: 3,
};

test("a healthy cluster: available, not progressing, not degraded, syncer and server running", () => {
  const cluster = { ...testCluster("orders", { syncer: { enabled: true, source: { host: "db", port: 3306 }, credentialsSecret: { name: "repl" }, serverId: 1001 }, server: { enabled: true, usersSecret: { name: "readers" } } }), metadata: { ...testCluster("orders").metadata, generation: 4 } };
  const now = new Date("2026-11-22T10:00:00Z");
  const s = computeStatus(cluster, healthy, now);
  assert.deepEqual(kingbusClusterStatusSchema.parse(s), s, "the status passes the CRD's own schema");
  assert.equal(s.observedGeneration, 4);
  assert.equal(s.readyMembers, 3);
  assert.equal(s.leader, "kingbus-orders-1");
  assert.deepEqual(s.conditions!.map((c) => [c.type, c.status, c.reason]), [
    ["Available", "True", "LeaderElected"],
    ["Progressing", "False", "Reconciled"],
    ["Degraded", "False", "AllMembersReady"],
    ["SyncerRunning", "True", "SyncerRunning"],
    ["ServerRunning", "True", "ServerRunning"],
  ]);
  assert.deepEqual(s.syncer, { state: "Running", executedGtidSet: "0-1-42", secondsBehind: 0 });
  assert.deepEqual(s.server, { connectedReplicas: 3 });
  assert.equal(s.members![1]!.role, "Leader");

  // A pod goes down: degraded, still available (a majority), and only the changed conditions move in time.
  const later = new Date("2026-11-22T10:05:00Z");
  const next = computeStatus({ ...cluster, status: s }, { ...healthy, members: [member(0, "follower", false), member(1, "leader"), member(2, "follower")] }, later);
  assert.equal(findCondition(next.conditions, "Degraded")!.status, "True");
  assert.match(findCondition(next.conditions, "Degraded")!.message, /kingbus-orders-0/);
  assert.equal(findCondition(next.conditions, "Degraded")!.lastTransitionTime, "2026-11-22T10:05:00Z");
  assert.equal(findCondition(next.conditions, "Available")!.lastTransitionTime, "2026-11-22T10:00:00Z");
  assert.equal(findCondition(next.conditions, "Available")!.status, "True");
});

test("no leader, a scale in progress, the syncer disabled", () => {
  const cluster = testCluster("orders", { replicas: 5 });
  const s = computeStatus(cluster, { ...healthy, leaderName: undefined, syncer: undefined, serverRunning: undefined, step: { kind: "scale-statefulset", replicas: 4 } }, new Date());
  assert.equal(findCondition(s.conditions, "Available")!.reason, "NoLeader");
  assert.equal(findCondition(s.conditions, "Progressing")!.status, "True");
  assert.match(findCondition(s.conditions, "Progressing")!.message, /going to 4/);
  assert.equal(s.syncer!.state, "Disabled");
  assert.equal(findCondition(s.conditions, "ServerRunning")!.reason, "ServerDisabled");
  assert.equal(findCondition(s.conditions, "Degraded")!.status, "True", "3 of 5 members");
});
