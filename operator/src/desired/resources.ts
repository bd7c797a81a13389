/**
 * Everything a KingbusCluster should own, as one pure function: the objects to apply (server-side
 * apply, field manager FIELD_MANAGER, in this order) and the optional objects that must not exist
 * (a PodDisruptionBudget of a one-member cluster, a disabled ServiceMonitor) for the controller to
 * delete if it finds them. The admin token Secret is not here: its token is random, so the
 * controller creates it once (`desiredAdminTokenSecret`).
 */
import type { KingbusCluster } from "../api/kingbus-cluster.ts";
import { desiredConfigMap } from "./config.ts";
import { desiredPodDisruptionBudget, type PodDisruptionBudgetManifest } from "./disruption.ts";
import { clusterNames } from "./names.ts";
import { desiredServiceMonitor, type ServiceMonitorManifest } from "./service-monitor.ts";
import { desiredClientService, desiredPeerService, type ServiceManifest } from "./services.ts";
import { desiredStatefulSet, type StatefulSetOptions } from "./statefulset.ts";

export type DesiredManifest =
  | ReturnType<typeof desiredConfigMap>
  | ServiceManifest
  | ReturnType<typeof desiredStatefulSet>
  | PodDisruptionBudgetManifest
  | ServiceMonitorManifest;

/** An object named for deletion. */
export interface ResourceRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export interface DesiredOptions extends StatefulSetOptions {
  /** Voting members the controller last saw (narrows the disruption budget while membership moves). */
  readonly voters?: number;
}

export interface DesiredResources {
  /** To apply, in order: ConfigMap, peer Service, client Service, StatefulSet, then the optional ones. */
  readonly apply: readonly DesiredManifest[];
  /** To delete when present. */
  readonly prune: readonly ResourceRef[];
}

export function desiredResources(cluster: KingbusCluster, options: DesiredOptions): DesiredResources {
  const names = clusterNames(cluster);
  const namespace = cluster.metadata.namespace;
  const apply: DesiredManifest[] = [
    desiredConfigMap(cluster, options),
    desiredPeerService(cluster),
    desiredClientService(cluster),
    desiredStatefulSet(cluster, options),
  ];
  const prune: ResourceRef[] = [];
  const pdb = desiredPodDisruptionBudget(cluster, options);
  if (pdb === undefined) prune.push({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", namespace, name: names.podDisruptionBudget });
  else apply.push(pdb);
  const monitor = desiredServiceMonitor(cluster);
  if (monitor === undefined) prune.push({ apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", namespace, name: names.serviceMonitor });
  else apply.push(monitor);
  return { apply, prune };
}
