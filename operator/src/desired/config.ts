/**
 * The configuration of the pods: one ConfigMap per cluster holding what every member shares (the
 * `kingbus node` configuration file, the bootstrap members) and a start-up script that derives the
 * rest from the pod's name, which the downward API puts in POD_NAME:
 *
 *   id = ordinal + 1, name = pod name, advertised URLs = the pod's DNS name under the peer Service;
 *   ordinals below the bootstrap count start with `initialCluster`, later ones `join` through
 *   member 0 (the node adds itself as a learner and is promoted once caught up).
 *
 * The bootstrap count is fixed when the cluster is created: scaling changes the StatefulSet, never
 * this ConfigMap, so no pod restarts for it (`bootstrapMembersOf` reads it back).
 */
import { createHash } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { HTTP_PORT, PEER_PORT, type KingbusCluster } from "../api/kingbus-cluster.ts";
import { parseByteQuantity, parseDurationMs } from "../api/units.ts";
import { clusterNames, commonLabels, memberAddress, memberAddresses, ownerReference, type AddressOptions } from "./names.ts";

/** Where the ConfigMap is mounted in the pods. */
export const CONFIG_DIR = "/etc/kingbus";
/** Where the pod's volume is mounted; the node's data directory is a sub-directory (a fresh ext4 volume has lost+found). */
export const DATA_MOUNT = "/var/lib/kingbus";
export const DATA_DIR = `${DATA_MOUNT}/data`;
/** The admin token Secret's mount; the node reads the token from ADMIN_TOKEN_FILE. */
export const ADMIN_TOKEN_DIR = "/run/secrets/kingbus";
export const ADMIN_TOKEN_FILE = `${ADMIN_TOKEN_DIR}/admin-token`;

export const KEY_NODE_CONFIG = "node.json";
export const KEY_INITIAL_CLUSTER = "initial-cluster.json";
export const KEY_BOOTSTRAP_MEMBERS = "bootstrap-members";
export const KEY_START_SCRIPT = "start.sh";

export interface ConfigOptions extends AddressOptions {
  /** Members the cluster was (or will be) bootstrapped with; spec.replicas when unset (a new cluster). */
  readonly bootstrapMembers?: number;
}

/** The part of `kingbus node`'s configuration file every member shares (docs/configuration.md). */
export interface SharedNodeConfig {
  readonly dataDir: string;
  readonly listen: { readonly peer: string; readonly http: string };
  readonly adminTokenFile: string;
  readonly storage?: { readonly retentionMaxBytes?: number; readonly retentionMaxAgeMs?: number };
  readonly logLevel: string;
}

export function sharedNodeConfig(cluster: KingbusCluster): SharedNodeConfig {
  const retention = cluster.spec.retention;
  const maxBytes = retention?.size === undefined ? undefined : parseByteQuantity(retention.size);
  const maxAgeMs = retention?.age === undefined ? undefined : parseDurationMs(retention.age);
  const storage = {
    ...(maxBytes === undefined ? {} : { retentionMaxBytes: maxBytes }),
    ...(maxAgeMs === undefined ? {} : { retentionMaxAgeMs: maxAgeMs }),
  };
  return {
    dataDir: DATA_DIR,
    listen: { peer: `0.0.0.0:${PEER_PORT}`, http: `0.0.0.0:${HTTP_PORT}` },
    adminTokenFile: ADMIN_TOKEN_FILE,
    ...(Object.keys(storage).length === 0 ? {} : { storage }),
    logLevel: cluster.spec.logLevel,
  };
}

export function bootstrapMembers(cluster: KingbusCluster, options: ConfigOptions = {}): number {
  const n = options.bootstrapMembers ?? cluster.spec.replicas;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`bootstrapMembers must be a positive integer (got ${n})`);
  return n;
}

/**
 * The start-up script of the pods. Cluster and namespace names are RFC 1123 labels (the CRD and the
 * API server enforce it), so they are safe inside the shell text.
 */
export function startScript(cluster: KingbusCluster, options: ConfigOptions = {}): string {
  const names = clusterNames(cluster);
  const domain = options.clusterDomain === undefined || options.clusterDomain === "" ? "" : `.${options.clusterDomain}`;
  const join = memberAddress(cluster, 0, options).adminUrl;
  return [
    "#!/bin/sh",
    "# Start-up of a kingbus pod, written by the kingbus operator. The member's id, name and URLs come",
    "# from the pod's StatefulSet ordinal; the first members bootstrap the cluster, later ones join it.",
    "set -eu",
    'name="${POD_NAME:?POD_NAME is not set}"',
    `case "$name" in ${names.statefulSet}-*) ;; *) echo "kingbus: pod $name is not a member of ${names.statefulSet}" >&2; exit 2 ;; esac`,
    'ordinal="${name##*-}"',
    `case "$ordinal" in ''|*[!0-9]*) echo "kingbus: pod name $name does not end in an ordinal" >&2; exit 2 ;; esac`,
    `host="$name.${names.peerService}.${cluster.metadata.namespace}.svc${domain}"`,
    'export KINGBUS_ID="$((ordinal + 1))"',
    'export KINGBUS_NAME="$name"',
    `export KINGBUS_ADVERTISE_PEER_URL="http://$host:${PEER_PORT}"`,
    `export KINGBUS_ADVERTISE_ADMIN_URL="http://$host:${HTTP_PORT}"`,
    `bootstrap="$(cat ${CONFIG_DIR}/${KEY_BOOTSTRAP_MEMBERS})"`,
    'if [ "$ordinal" -lt "$bootstrap" ]; then',
    `  KINGBUS_INITIAL_CLUSTER="$(cat ${CONFIG_DIR}/${KEY_INITIAL_CLUSTER})"`,
    "  export KINGBUS_INITIAL_CLUSTER",
    "else",
    `  export KINGBUS_JOIN="${join}"`,
    "fi",
    `exec kingbus node --config ${CONFIG_DIR}/${KEY_NODE_CONFIG}`,
    "",
  ].join("\n");
}

/** The ConfigMap's data. */
export function configData(cluster: KingbusCluster, options: ConfigOptions = {}): Record<string, string> {
  const bootstrap = bootstrapMembers(cluster, options);
  return {
    [KEY_BOOTSTRAP_MEMBERS]: String(bootstrap),
    [KEY_INITIAL_CLUSTER]: `${JSON.stringify(memberAddresses(cluster, bootstrap, options), null, 2)}\n`,
    [KEY_NODE_CONFIG]: `${JSON.stringify(sharedNodeConfig(cluster), null, 2)}\n`,
    [KEY_START_SCRIPT]: startScript(cluster, options),
  };
}

/** A digest of the configuration: the pod template carries it, so a change rolls the pods. */
export function configHash(data: Readonly<Record<string, string>>): string {
  const hash = createHash("sha256");
  for (const key of Object.keys(data).sort()) hash.update(`${key}\0${data[key]!}\0`);
  return hash.digest("hex").slice(0, 16);
}

export function desiredConfigMap(cluster: KingbusCluster, options: ConfigOptions = {}): V1ConfigMap & { apiVersion: "v1"; kind: "ConfigMap" } {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: clusterNames(cluster).configMap,
      namespace: cluster.metadata.namespace,
      labels: commonLabels(cluster, "config"),
      ownerReferences: [ownerReference(cluster)],
    },
    data: configData(cluster, options),
  };
}

/**
 * The bootstrap count recorded in the cluster's existing ConfigMap, to pass back as
 * `bootstrapMembers`; undefined when there is none (a new cluster: spec.replicas then).
 */
export function bootstrapMembersOf(configMap: V1ConfigMap | undefined): number | undefined {
  const text = configMap?.data?.[KEY_BOOTSTRAP_MEMBERS];
  if (text === undefined || !/^[1-9][0-9]*$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
