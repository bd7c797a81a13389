/**
 * The PodDisruptionBudget: voluntary evictions (node drains, upgrades) never take away a Raft
 * majority. A single-member cluster has no budget: any eviction stops it, and a budget of 0 would
 * only block every drain.
 */
import type { V1PodDisruptionBudget } from "@kubernetes/client-node";
import type { KingbusCluster } from "../api/kingbus-cluster.ts";
import { clusterNames, commonLabels, ownerReference, selectorLabels } from "./names.ts";

export type PodDisruptionBudgetManifest = V1PodDisruptionBudget & { apiVersion: "policy/v1"; kind: "PodDisruptionBudget" };

export interface DisruptionOptions {
  /** Replicas the StatefulSet is applied with (when the controller holds it apart from spec.replicas). */
  readonly statefulSetReplicas?: number;
  /** Voting members the controller last saw, when known. */
  readonly voters?: number;
}

/** Members that may be down at once with a majority of `members` still up: 3 -> 1, 5 -> 2. */
export function tolerableFailures(members: number): number {
  return Math.max(0, Math.floor((members - 1) / 2));
}

/**
 * The smallest count among spec, StatefulSet and voters: while membership moves (3 -> 5 or
 * 5 -> 3), the budget follows the smaller cluster, which is the safe side.
 */
export function budgetMembers(cluster: KingbusCluster, options: DisruptionOptions = {}): number {
  return Math.min(cluster.spec.replicas, options.statefulSetReplicas ?? Infinity, options.voters ?? Infinity);
}

/** The budget, or undefined when the cluster has one member (see the module comment). */
export function desiredPodDisruptionBudget(cluster: KingbusCluster, options: DisruptionOptions = {}): PodDisruptionBudgetManifest | undefined {
  const members = budgetMembers(cluster, options);
  if (members <= 1) return undefined;
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: clusterNames(cluster).podDisruptionBudget,
      namespace: cluster.metadata.namespace,
      labels: commonLabels(cluster, "node"),
      ownerReferences: [ownerReference(cluster)],
    },
    spec: {
      maxUnavailable: tolerableFailures(members),
      selector: { matchLabels: selectorLabels(cluster) },
      // A pod that is not ready holds no part of the majority the budget protects; evicting it is safe.
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  };
}
