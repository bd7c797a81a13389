/**
 * The StatefulSet of kingbus pods: stable names (headless Service), one volume per pod, readiness
 * from /readyz, spread across nodes by default, non-root with a read-only root file system.
 */
import type {
  V1Affinity,
  V1Container,
  V1PersistentVolumeClaim,
  V1PodSpec,
  V1ResourceRequirements,
  V1StatefulSet,
  V1Toleration,
  V1TopologySpreadConstraint,
} from "@kubernetes/client-node";
import { HTTP_PORT, PEER_PORT, type KingbusCluster } from "../api/kingbus-cluster.ts";
import { ADMIN_TOKEN_DIR, CONFIG_DIR, configData, configHash, DATA_MOUNT, KEY_START_SCRIPT, type ConfigOptions } from "./config.ts";
import { ANNOTATION_CONFIG_HASH, clusterNames, commonLabels, ownerReference, selectorLabels } from "./names.ts";

/** The user and group of the image (the `node` user of the Node.js base image). */
export const POD_UID = 1000;
export const POD_GID = 1000;
export const CONTAINER_NAME = "kingbus";
export const DATA_VOLUME = "data";
export const ADMIN_TOKEN_KEY = "token";

export interface StatefulSetOptions extends ConfigOptions {
  /** Image of the pods when spec.image is unset: the operator's own image. */
  readonly defaultImage: string;
  /**
   * Replicas to apply. The controller moves membership one safe step at a time (a member is
   * removed from Raft before its pod goes), so it may hold this apart from spec.replicas; unset,
   * spec.replicas.
   */
  readonly statefulSetReplicas?: number;
}

function quantities(map: Readonly<Record<string, string | number>> | undefined): Record<string, string> | undefined {
  return map === undefined ? undefined : Object.fromEntries(Object.entries(map).map(([k, v]) => [k, String(v)]));
}

function resources(cluster: KingbusCluster): V1ResourceRequirements | undefined {
  const r = cluster.spec.resources;
  if (r === undefined) return undefined;
  const out: V1ResourceRequirements = {};
  const requests = quantities(r.requests);
  const limits = quantities(r.limits);
  if (requests !== undefined) out.requests = requests;
  if (limits !== undefined) out.limits = limits;
  return out;
}

/** Preferred anti-affinity on the node's host name: members on distinct nodes when the scheduler can. */
export function defaultAffinity(cluster: KingbusCluster): V1Affinity {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selectorLabels(cluster) } } },
      ],
    },
  };
}

function spreadConstraints(cluster: KingbusCluster): V1TopologySpreadConstraint[] | undefined {
  const list = cluster.spec.placement?.topologySpreadConstraints;
  if (list === undefined) return undefined;
  return list.map((c) => ({ labelSelector: { matchLabels: selectorLabels(cluster) }, ...c }) as unknown as V1TopologySpreadConstraint);
}

function container(cluster: KingbusCluster, options: StatefulSetOptions): V1Container {
  const c: V1Container = {
    name: CONTAINER_NAME,
    image: cluster.spec.image ?? options.defaultImage,
    command: ["/bin/sh", `${CONFIG_DIR}/${KEY_START_SCRIPT}`],
    // The start-up script derives the member's id, name and URLs from the pod name.
    env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
    ports: [
      { name: "peer", containerPort: PEER_PORT, protocol: "TCP" },
      { name: "http", containerPort: HTTP_PORT, protocol: "TCP" },
      { name: "mysql", containerPort: cluster.spec.server.port, protocol: "TCP" },
    ],
    // Ready: a member of a cluster with a leader, caught up with what was committed when it started.
    readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
    // Opening a large log (recovery of a torn tail, index rebuilds) may take minutes before HTTP listens.
    startupProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 120 },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: DATA_MOUNT },
      { name: "config", mountPath: CONFIG_DIR, readOnly: true },
      { name: "admin-token", mountPath: ADMIN_TOKEN_DIR, readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ],
  };
  if (cluster.spec.imagePullPolicy !== undefined) c.imagePullPolicy = cluster.spec.imagePullPolicy;
  const r = resources(cluster);
  if (r !== undefined) c.resources = r;
  return c;
}

function podSpec(cluster: KingbusCluster, options: StatefulSetOptions): V1PodSpec {
  const names = clusterNames(cluster);
  const placement = cluster.spec.placement;
  const spec: V1PodSpec = {
    // The pods never call the Kubernetes API, and Service links would inject KINGBUS_* variables
    // for a Service named kingbus-... (docs/configuration.md).
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: 60,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: POD_UID,
      runAsGroup: POD_GID,
      fsGroup: POD_GID,
      fsGroupChangePolicy: "OnRootMismatch",
      seccompProfile: { type: "RuntimeDefault" },
    },
    affinity: placement?.affinity === undefined ? defaultAffinity(cluster) : (placement.affinity as V1Affinity),
    containers: [container(cluster, options)],
    volumes: [
      { name: "config", configMap: { name: names.configMap, defaultMode: 0o444 } },
      { name: "admin-token", secret: { secretName: names.adminTokenSecret, defaultMode: 0o440, items: [{ key: ADMIN_TOKEN_KEY, path: "admin-token" }] } },
      { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
    ],
  };
  if (placement?.tolerations !== undefined) spec.tolerations = placement.tolerations as V1Toleration[];
  if (placement?.nodeSelector !== undefined) spec.nodeSelector = { ...placement.nodeSelector };
  const spread = spreadConstraints(cluster);
  if (spread !== undefined) spec.topologySpreadConstraints = spread;
  if (cluster.spec.imagePullSecrets !== undefined) spec.imagePullSecrets = cluster.spec.imagePullSecrets.map((s) => ({ name: s.name }));
  return spec;
}

function volumeClaim(cluster: KingbusCluster): V1PersistentVolumeClaim {
  const storage = cluster.spec.storage;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: DATA_VOLUME, labels: selectorLabels(cluster) },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: storage.size } },
      ...(storage.className === undefined ? {} : { storageClassName: storage.className }),
    },
  };
}

export function desiredStatefulSet(cluster: KingbusCluster, options: StatefulSetOptions): V1StatefulSet & { apiVersion: "apps/v1"; kind: "StatefulSet" } {
  const names = clusterNames(cluster);
  const replicas = options.statefulSetReplicas ?? cluster.spec.replicas;
  if (!Number.isSafeInteger(replicas) || replicas < 0) throw new RangeError(`statefulSetReplicas must be a non-negative integer (got ${replicas})`);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: {
      name: names.statefulSet,
      namespace: cluster.metadata.namespace,
      labels: commonLabels(cluster, "node"),
      ownerReferences: [ownerReference(cluster)],
    },
    spec: {
      replicas,
      serviceName: names.peerService,
      selector: { matchLabels: selectorLabels(cluster) },
      // Every member starts at once: a bootstrap member is not ready until a majority is up.
      podManagementPolicy: "Parallel",
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      // A pod scaled away was removed from Raft first; its data is of no use to a later member.
      // Deleting the cluster keeps the volumes (the binlog may be all there is).
      persistentVolumeClaimRetentionPolicy: { whenScaled: "Delete", whenDeleted: "Retain" },
      template: {
        metadata: {
          labels: commonLabels(cluster, "node"),
          annotations: { [ANNOTATION_CONFIG_HASH]: configHash(configData(cluster, options)) },
        },
        spec: podSpec(cluster, options),
      },
      volumeClaimTemplates: [volumeClaim(cluster)],
    },
  };
}
