/**
 * Names, labels and addresses of everything a KingbusCluster owns. A cluster `c` in namespace
 * `ns` is the StatefulSet `kingbus-c`, whose pod `kingbus-c-<ordinal>` is the Raft member of the
 * same name with id `ordinal + 1`, reached by its peers at `kingbus-c-<ordinal>.kingbus-c-peers.ns.svc`.
 */
import type { V1OwnerReference } from "@kubernetes/client-node";
import { API_VERSION, HTTP_PORT, KIND, PEER_PORT, type KingbusCluster } from "../api/kingbus-cluster.ts";

/** The field manager of every server-side apply the operator makes. */
export const FIELD_MANAGER = "kingbus-operator";

export const LABEL_NAME = "app.kubernetes.io/name";
export const LABEL_INSTANCE = "app.kubernetes.io/instance";
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_PART_OF = "app.kubernetes.io/part-of";
/** Pod template annotation: a digest of the ConfigMap, so a configuration change rolls the pods. */
export const ANNOTATION_CONFIG_HASH = "kingbus.io/config-hash";

export interface ClusterNames {
  readonly statefulSet: string;
  /** Headless Service: stable DNS names of the pods, ready or not (Raft peers must find each other before any is ready). */
  readonly peerService: string;
  /** ClusterIP Service over the ready pods: where replicas connect. */
  readonly clientService: string;
  readonly configMap: string;
  readonly adminTokenSecret: string;
  readonly podDisruptionBudget: string;
  readonly serviceMonitor: string;
}

export function clusterNames(cluster: KingbusCluster): ClusterNames {
  const base = `kingbus-${cluster.metadata.name}`;
  return {
    statefulSet: base,
    peerService: `${base}-peers`,
    clientService: base,
    configMap: `${base}-config`,
    adminTokenSecret: `${base}-admin-token`,
    podDisruptionBudget: base,
    serviceMonitor: base,
  };
}

/** The pod (and Raft member) name of an ordinal. */
export function memberName(cluster: KingbusCluster, ordinal: number): string {
  return `${clusterNames(cluster).statefulSet}-${ordinal}`;
}

/** Raft id of the member at an ordinal: ids start at 1 (0 means "none" in Raft). */
export function memberId(ordinal: number): number {
  return ordinal + 1;
}

/** The ordinal of one of this cluster's pod names, or undefined when the name is not one. */
export function ordinalOf(cluster: KingbusCluster, podName: string): number | undefined {
  const prefix = `${clusterNames(cluster).statefulSet}-`;
  if (!podName.startsWith(prefix)) return undefined;
  const rest = podName.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}

/** Labels that select the cluster's pods. They are the StatefulSet's selector: never change them. */
export function selectorLabels(cluster: KingbusCluster): Record<string, string> {
  return { [LABEL_NAME]: "kingbus", [LABEL_INSTANCE]: cluster.metadata.name };
}

/** Labels on every object the operator makes for the cluster. */
export function commonLabels(cluster: KingbusCluster, component: string): Record<string, string> {
  return { ...selectorLabels(cluster), [LABEL_COMPONENT]: component, [LABEL_PART_OF]: "kingbus", [LABEL_MANAGED_BY]: FIELD_MANAGER };
}

/** The owner reference that ties an object to its cluster (garbage-collected with it). */
export function ownerReference(cluster: KingbusCluster): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: cluster.metadata.name, uid: cluster.metadata.uid, controller: true, blockOwnerDeletion: true };
}

export interface AddressOptions {
  /** The cluster's DNS domain (e.g. "cluster.local"); unset, names end in `.svc` and rely on the pods' DNS search path. */
  readonly clusterDomain?: string;
}

/** DNS name of a member: `<pod>.<peer service>.<namespace>.svc[.<domain>]`. */
export function memberHost(cluster: KingbusCluster, ordinal: number, options: AddressOptions = {}): string {
  const domain = options.clusterDomain === undefined || options.clusterDomain === "" ? "" : `.${options.clusterDomain}`;
  return `${memberName(cluster, ordinal)}.${clusterNames(cluster).peerService}.${cluster.metadata.namespace}.svc${domain}`;
}

export interface MemberAddress {
  readonly id: number;
  readonly name: string;
  readonly peerUrl: string;
  readonly adminUrl: string;
}

/** Everything the cluster knows a member by (the `initialCluster` entry of `kingbus node`). */
export function memberAddress(cluster: KingbusCluster, ordinal: number, options: AddressOptions = {}): MemberAddress {
  const host = memberHost(cluster, ordinal, options);
  return { id: memberId(ordinal), name: memberName(cluster, ordinal), peerUrl: `http://${host}:${PEER_PORT}`, adminUrl: `http://${host}:${HTTP_PORT}` };
}

/** Members 0..count-1. */
export function memberAddresses(cluster: KingbusCluster, count: number, options: AddressOptions = {}): MemberAddress[] {
  return Array.from({ length: count }, (_, ordinal) => memberAddress(cluster, ordinal, options));
}
