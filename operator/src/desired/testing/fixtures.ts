/**
 * KingbusClusters the tests (and the golden files under ../testdata/) are made from.
 */
import { parseKingbusCluster, type KingbusCluster, type KingbusClusterSpecInput } from "../../api/kingbus-cluster.ts";
import type { DesiredOptions } from "../resources.ts";

export const TEST_IMAGE = "registry.example/kingbus:0.1.0";

export function testCluster(name: string, spec: KingbusClusterSpecInput = {}, namespace = "default"): KingbusCluster {
  return parseKingbusCluster({
    apiVersion: "kingbus.io/v1alpha1",
    kind: "KingbusCluster",
    metadata: { name, namespace, uid: "6c0b2a52-0d39-4bb4-9f0b-3c2f6f0a1c11", generation: 1 },
    spec,
  });
}

export interface GoldenCase {
  readonly name: string;
  readonly what: string;
  readonly cluster: KingbusCluster;
  readonly options: DesiredOptions;
}

/** Every option of the spec set, grown from 3 to 5 members after bootstrap. */
export const FULL_SPEC: KingbusClusterSpecInput = {
  replicas: 5,
  image: "registry.example/kingbus:0.2.0",
  imagePullPolicy: "IfNotPresent",
  imagePullSecrets: [{ name: "registry-credentials" }],
  resources: { requests: { cpu: "500m", memory: "1Gi" }, limits: { memory: "2Gi" } },
  storage: { size: "100Gi", className: "fast-ssd" },
  syncer: {
    enabled: true,
    source: { host: "mariadb-primary.data.svc", port: 3306 },
    credentialsSecret: { name: "replication", usernameKey: "user", passwordKey: "password" },
    serverId: 1001,
    semiSync: true,
    heartbeatPeriodSeconds: 1,
  },
  server: { enabled: true, port: 3307, usersSecret: { name: "binlog-readers" } },
  retention: { size: "50Gi", age: "7d" },
  placement: {
    affinity: {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { "app.kubernetes.io/name": "kingbus", "app.kubernetes.io/instance": "orders" } } },
        ],
      },
    },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "binlog", effect: "NoSchedule" }],
    nodeSelector: { "node.kubernetes.io/pool": "storage" },
    topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway" }],
  },
  monitoring: { serviceMonitor: { enabled: true, interval: "30s", scrapeTimeout: "10s", labels: { release: "prometheus" } } },
  logLevel: "debug",
};

export function goldenCases(): GoldenCase[] {
  return [
    { name: "minimal", what: "a bare KingbusCluster: every default", cluster: testCluster("demo"), options: { defaultImage: TEST_IMAGE } },
    {
      name: "full",
      what: "every spec field set; bootstrapped with 3 members, grown to 5; cluster domain set",
      cluster: testCluster("orders", FULL_SPEC, "data"),
      options: { defaultImage: TEST_IMAGE, bootstrapMembers: 3, statefulSetReplicas: 5, voters: 5, clusterDomain: "cluster.local" },
    },
    {
      name: "single",
      what: "one member: no PodDisruptionBudget (it would block every drain)",
      cluster: testCluster("solo", { replicas: 1, server: { enabled: true, usersSecret: { name: "readers" } } }),
      options: { defaultImage: TEST_IMAGE },
    },
  ];
}
