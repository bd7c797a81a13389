import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ClusterSpecError } from "../api/errors.ts";
import type { KingbusClusterSpecInput } from "../api/kingbus-cluster.ts";
import { adminTokenOf, credentialsFrom, desiredAdminTokenSecret, serverStartRequest, syncerStartRequest, syncerUuid } from "./admin.ts";
import { bootstrapMembersOf, configData, configHash, desiredConfigMap } from "./config.ts";
import { budgetMembers, desiredPodDisruptionBudget, tolerableFailures } from "./disruption.ts";
import { ANNOTATION_CONFIG_HASH, clusterNames, memberId, memberName, ordinalOf, selectorLabels } from "./names.ts";
import { desiredResources } from "./resources.ts";
import { desiredServiceMonitor } from "./service-monitor.ts";
import { desiredClientService, desiredPeerService } from "./services.ts";
import { defaultAffinity, desiredStatefulSet } from "./statefulset.ts";
import { FULL_SPEC, TEST_IMAGE, testCluster } from "./testing/fixtures.ts";
import { manifestProblems } from "./testing/manifest-checks.ts";

const opts = { defaultImage: TEST_IMAGE };

describe("names", () => {
  const c = testCluster("orders", {}, "data");

  it("member names, ids and ordinals", () => {
    assert.equal(memberName(c, 0), "kingbus-orders-0");
    assert.equal(memberId(0), 1);
    assert.equal(ordinalOf(c, "kingbus-orders-12"), 12);
    for (const other of ["kingbus-orders-", "kingbus-orders-01", "kingbus-orders-x", "kingbus-other-1", "orders-1", "kingbus-orders-peers"]) {
      assert.equal(ordinalOf(c, other), undefined, other);
    }
  });

  it("every name of a longest-name cluster fits Kubernetes' limits", () => {
    const long = testCluster("a".repeat(44));
    const names = clusterNames(long);
    assert.ok(names.statefulSet.length <= 52, "the controller-revision-hash label is <statefulset>-<10 chars>");
    assert.ok(names.peerService.length <= 63, "Service names are DNS labels");
    assert.ok(memberName(long, 8).length <= 63, "pod host names are DNS labels");
  });
});

describe("the disruption budget keeps a Raft majority", () => {
  it("tolerates a minority of failures", () => {
    assert.deepEqual([1, 3, 5, 7, 9].map(tolerableFailures), [0, 1, 2, 3, 4]);
    // Even counts occur while membership moves one member at a time: 4 members need 3 up.
    assert.deepEqual([2, 4, 6, 8].map(tolerableFailures), [0, 1, 2, 3]);
  });

  it("follows the smaller of spec, StatefulSet and voters while membership moves", () => {
    const five = testCluster("c", { replicas: 5 });
    assert.equal(desiredPodDisruptionBudget(five)?.spec?.maxUnavailable, 2);
    assert.equal(budgetMembers(five, { statefulSetReplicas: 3 }), 3);
    assert.equal(desiredPodDisruptionBudget(five, { statefulSetReplicas: 5, voters: 3 })?.spec?.maxUnavailable, 1);
    assert.equal(desiredPodDisruptionBudget(testCluster("c", { replicas: 3 }), { statefulSetReplicas: 5 })?.spec?.maxUnavailable, 1);
    assert.equal(desiredPodDisruptionBudget(five, { statefulSetReplicas: 4 })?.spec?.maxUnavailable, 1);
  });

  it("a single member has no budget, and desiredResources prunes a leftover one", () => {
    const solo = testCluster("solo", { replicas: 1 });
    assert.equal(desiredPodDisruptionBudget(solo), undefined);
    const { apply, prune } = desiredResources(solo, opts);
    assert.ok(!apply.some((m) => m.kind === "PodDisruptionBudget"));
    assert.deepEqual(prune.find((r) => r.kind === "PodDisruptionBudget"), { apiVersion: "policy/v1", kind: "PodDisruptionBudget", namespace: "default", name: "kingbus-solo" });
  });
});

describe("the StatefulSet", () => {
  it("spreads the pods across nodes by default; a spec affinity replaces that", () => {
    const plain = desiredStatefulSet(testCluster("c"), opts).spec!.template.spec!;
    assert.deepEqual(plain.affinity, defaultAffinity(testCluster("c")));
    const term = plain.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution![0]!.podAffinityTerm;
    assert.deepEqual(term.labelSelector?.matchLabels, selectorLabels(testCluster("c")));
    assert.equal(term.topologyKey, "kubernetes.io/hostname");
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "disk", operator: "In", values: ["ssd"] }] }] } } };
    const custom = desiredStatefulSet(testCluster("c", { placement: { affinity } }), opts).spec!.template.spec!;
    assert.deepEqual(custom.affinity, affinity);
  });

  it("fills the cluster's selector into spread constraints that have none, and keeps one that has", () => {
    const own = { matchLabels: { tier: "x" } };
    const spec = desiredStatefulSet(
      testCluster("c", { placement: { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule" }, { maxSkew: 2, topologyKey: "host", whenUnsatisfiable: "ScheduleAnyway", labelSelector: own }] } }),
      opts,
    ).spec!.template.spec!;
    assert.deepEqual(spec.topologySpreadConstraints?.map((c) => c.labelSelector), [{ matchLabels: selectorLabels(testCluster("c")) }, own]);
  });

  it("uses the operator's image unless the spec names one, and the replica count the controller asks for", () => {
    const image = (spec: KingbusClusterSpecInput): string | undefined => desiredStatefulSet(testCluster("c", spec), opts).spec!.template.spec!.containers[0]!.image;
    assert.equal(image({}), TEST_IMAGE);
    assert.equal(image({ image: "mine:1" }), "mine:1");
    assert.equal(desiredStatefulSet(testCluster("c", { replicas: 5 }), opts).spec!.replicas, 5);
    assert.equal(desiredStatefulSet(testCluster("c", { replicas: 5 }), { ...opts, statefulSetReplicas: 4 }).spec!.replicas, 4);
  });

  it("serves the binlog on spec.server.port in the pods and both Services", () => {
    const c = testCluster("c", { server: { port: 3307 } });
    const ports = desiredStatefulSet(c, opts).spec!.template.spec!.containers[0]!.ports!;
    assert.deepEqual(ports.map((p) => [p.name, p.containerPort]), [["peer", 9696], ["http", 9595], ["mysql", 3307]]);
    assert.deepEqual(desiredClientService(c).spec!.ports!.map((p) => [p.port, p.targetPort]), [[3307, "mysql"]]);
    assert.ok(desiredPeerService(c).spec!.ports!.some((p) => p.name === "mysql" && p.port === 3307));
    assert.equal(desiredPeerService(c).spec!.publishNotReadyAddresses, true);
    assert.equal(desiredClientService(c).spec!.publishNotReadyAddresses, undefined);
  });

  it("asks for the spec's volume, and runs as non-root", () => {
    const sts = desiredStatefulSet(testCluster("c", { storage: { size: "20Gi", className: "fast" } }), opts);
    const claim = sts.spec!.volumeClaimTemplates![0]!;
    assert.deepEqual([claim.spec!.resources!.requests!.storage, claim.spec!.storageClassName], ["20Gi", "fast"]);
    assert.equal(desiredStatefulSet(testCluster("c"), opts).spec!.volumeClaimTemplates![0]!.spec!.storageClassName, undefined);
    const pod = sts.spec!.template.spec!;
    assert.equal(pod.securityContext?.runAsNonRoot, true);
    assert.notEqual(pod.securityContext?.runAsUser, 0);
    assert.equal(pod.containers[0]!.securityContext?.readOnlyRootFilesystem, true);
    assert.equal(pod.enableServiceLinks, false);
    assert.equal(pod.containers[0]!.readinessProbe?.httpGet?.path, "/readyz");
  });
});

describe("configuration", () => {
  it("a configuration change rolls the pods; scaling does not", () => {
    const hash = (spec: KingbusClusterSpecInput, bootstrapMembers?: number): string =>
      desiredStatefulSet(testCluster("c", spec), { ...opts, bootstrapMembers }).spec!.template.metadata!.annotations![ANNOTATION_CONFIG_HASH]!;
    const base = hash({ replicas: 3 });
    assert.equal(hash({ replicas: 3 }), base);
    assert.equal(hash({ replicas: 5 }, 3), base, "a grown cluster keeps its bootstrap members: no restart");
    assert.notEqual(hash({ replicas: 3, retention: { age: "7d" } }), base);
    assert.notEqual(hash({ replicas: 3, logLevel: "debug" }), base);
    assert.equal(base, configHash(configData(testCluster("c", { replicas: 3 }))));
  });

  it("the bootstrap count round-trips through the ConfigMap", () => {
    const cm = desiredConfigMap(testCluster("c", { replicas: 5 }), { bootstrapMembers: 3 });
    assert.equal(bootstrapMembersOf(cm), 3);
    assert.equal(bootstrapMembersOf(desiredConfigMap(testCluster("c", { replicas: 5 }))), 5);
    assert.equal(bootstrapMembersOf(undefined), undefined);
    assert.equal(bootstrapMembersOf({ data: { "bootstrap-members": "0" } }), undefined);
    assert.throws(() => configData(testCluster("c"), { bootstrapMembers: 0 }), RangeError);
  });
});

describe("monitoring", () => {
  it("a ServiceMonitor only when enabled, selecting the peer Service's http port", () => {
    assert.equal(desiredServiceMonitor(testCluster("c")), undefined);
    assert.ok(desiredResources(testCluster("c"), opts).prune.some((r) => r.kind === "ServiceMonitor"));
    const sm = desiredServiceMonitor(testCluster("c", { monitoring: { serviceMonitor: { enabled: true, labels: { release: "prom", "app.kubernetes.io/name": "spoof" } } } }))!;
    const peer = desiredPeerService(testCluster("c"));
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels!)) assert.equal(peer.metadata!.labels![k], v, k);
    assert.ok(peer.spec!.ports!.some((p) => p.name === sm.spec.endpoints[0]!.port));
    assert.equal(sm.metadata.labels!.release, "prom");
    assert.equal(sm.metadata.labels!["app.kubernetes.io/name"], "kingbus", "the operator's labels win");
  });
});

describe("admin requests", () => {
  const secret = (data: Record<string, string>) => ({ data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) });

  it("the syncer's start request from the spec and its Secret", () => {
    const c = testCluster("orders", FULL_SPEC, "data");
    const creds = credentialsFrom(secret({ user: "repl", password: "p@ss" }), c.spec.syncer.credentialsSecret!, "spec.syncer.credentialsSecret");
    assert.deepEqual(syncerStartRequest(c, creds), {
      syncer_id: 1001,
      syncer_uuid: syncerUuid(c),
      mysql_addr: "mariadb-primary.data.svc:3306",
      mysql_user: "repl",
      mysql_password: "p@ss",
      semi_sync: true,
      heartbeat_period: 1,
    });
    assert.equal(syncerStartRequest(testCluster("c"), creds), undefined);
    const v6 = testCluster("c", { syncer: { enabled: true, source: { host: "fd00::7", port: 3310 }, credentialsSecret: { name: "s" }, serverId: 2 } });
    assert.equal(syncerStartRequest(v6, creds)?.mysql_addr, "[fd00::7]:3310");
  });

  it("the syncer's server_uuid is stable per resource, distinct between resources, and overridable", () => {
    const a = testCluster("a");
    const uuid = syncerUuid(a);
    assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(syncerUuid(testCluster("a")), uuid);
    assert.notEqual(syncerUuid({ ...a, metadata: { ...a.metadata, uid: "another" } }), uuid);
    assert.equal(syncerUuid(testCluster("a", { syncer: { serverUuid: "f7e30637-f15a-11e8-accc-244427b6b60e" } })), "f7e30637-f15a-11e8-accc-244427b6b60e");
  });

  it("a Secret without the keys is refused by name, never quoting a value", () => {
    const ref = { name: "repl", usernameKey: "username", passwordKey: "password" };
    assert.throws(() => credentialsFrom(secret({ username: "u" }), ref, "spec.syncer.credentialsSecret"), (e: unknown) => {
      assert.ok(e instanceof ClusterSpecError);
      assert.deepEqual(e.issues, [{ path: "spec.syncer.credentialsSecret.passwordKey", message: "Secret repl has no key password" }]);
      return true;
    });
    assert.deepEqual(credentialsFrom({ stringData: { username: "u", password: "" } }, ref, "x"), { username: "u", password: "" });
  });

  it("the server's start request listens on every interface of the pod", () => {
    const c = testCluster("c", { server: { enabled: true, port: 3307, usersSecret: { name: "r" } } });
    assert.deepEqual(serverStartRequest(c, { username: "reader", password: "pw" }), { addr: "0.0.0.0:3307", user: "reader", password: "pw" });
    assert.throws(() => serverStartRequest(c, { username: "reader", password: "" }), ClusterSpecError);
    assert.equal(serverStartRequest(testCluster("c"), { username: "reader", password: "pw" }), undefined);
  });

  it("the admin token Secret round-trips and passes the schemas", () => {
    const c = testCluster("c");
    const s = desiredAdminTokenSecret(c, "tok-123");
    assert.deepEqual(manifestProblems(s), []);
    assert.equal(s.metadata!.name, "kingbus-c-admin-token");
    assert.equal(adminTokenOf(s), "tok-123");
    assert.equal(adminTokenOf({ data: { token: Buffer.from("tok-456").toString("base64") } }), "tok-456");
    assert.equal(adminTokenOf({ data: { token: Buffer.from("has space").toString("base64") } }), undefined);
    assert.throws(() => desiredAdminTokenSecret(c, "has space"), RangeError);
  });
});

describe("the offline manifest checks", () => {
  it("catch a misspelt field and a wrong type (they are not vacuous)", () => {
    const sts = structuredClone(desiredStatefulSet(testCluster("c"), opts)) as unknown as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
    const container = sts.spec.template.spec.containers[0]!;
    container.readinesProbe = container.readinessProbe;
    (container.ports as Array<Record<string, unknown>>)[0]!.containerPort = "9696";
    const problems = manifestProblems(sts).join("\n");
    assert.match(problems, /unknown field spec\.template\.spec\.containers\[0\]\.readinesProbe/);
    assert.match(problems, /containerPort must be integer/);
  });
});

describe("every spec gives valid manifests", () => {
  const spec = fc.record(
    {
      replicas: fc.constantFrom(1, 3, 5, 7, 9),
      storage: fc.record({ size: fc.constantFrom("1Gi", "100Gi", "2Ti"), className: fc.constantFrom("standard", "fast-ssd") }, { requiredKeys: ["size"] }),
      server: fc.record({ enabled: fc.constant(false), port: fc.integer({ min: 1024, max: 65535 }).filter((p) => p !== 9595 && p !== 9696) }),
      retention: fc.record({ age: fc.constantFrom("1h", "7d", "1h30m") }),
      resources: fc.record({ requests: fc.record({ cpu: fc.constantFrom("100m", "2"), memory: fc.constantFrom("512Mi", "4Gi") }) }),
      placement: fc.record({
        tolerations: fc.array(fc.record({ key: fc.constantFrom("a", "b"), operator: fc.constant("Exists" as const), effect: fc.constantFrom("NoSchedule" as const, "NoExecute" as const) }), { maxLength: 2 }),
        nodeSelector: fc.dictionary(fc.constantFrom("pool", "zone"), fc.constantFrom("x", "y")),
      }),
      monitoring: fc.record({ serviceMonitor: fc.record({ enabled: fc.boolean(), interval: fc.constantFrom("15s", "1m") }) }),
      logLevel: fc.constantFrom("info" as const, "debug" as const),
    },
    { requiredKeys: [] },
  );

  it("passes the Kubernetes schemas, with a budget that keeps a majority", () => {
    fc.assert(
      fc.property(spec, fc.constantFrom("a", "orders-eu-1", "x".repeat(44)), fc.integer({ min: 1, max: 9 }), (s, name, bootstrap) => {
        const c = testCluster(name, s as KingbusClusterSpecInput, "ns-1");
        const { apply } = desiredResources(c, { ...opts, bootstrapMembers: bootstrap });
        for (const m of apply) assert.deepEqual(manifestProblems(m), []);
        const pdb = apply.find((m) => m.kind === "PodDisruptionBudget");
        const n = c.spec.replicas;
        if (n === 1) assert.equal(pdb, undefined);
        else assert.ok(n - Number((pdb as { spec: { maxUnavailable: number } }).spec.maxUnavailable) > n / 2, "a majority stays");
      }),
      { numRuns: 60 },
    );
  });
});
