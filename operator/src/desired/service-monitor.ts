/**
 * A Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1) scraping `/metrics` on every pod
 * through the peer Service, which lists pods that are not ready too (a lagging member's metrics
 * matter most).
 */
import type { V1LabelSelector, V1ObjectMeta } from "@kubernetes/client-node";
import type { KingbusCluster } from "../api/kingbus-cluster.ts";
import { clusterNames, commonLabels, LABEL_COMPONENT, ownerReference, selectorLabels } from "./names.ts";
import { PEER_COMPONENT } from "./services.ts";

export interface ServiceMonitorEndpoint {
  readonly port: string;
  readonly path: string;
  readonly scheme: "http";
  readonly interval?: string;
  readonly scrapeTimeout?: string;
}

export interface ServiceMonitorManifest {
  readonly apiVersion: "monitoring.coreos.com/v1";
  readonly kind: "ServiceMonitor";
  readonly metadata: V1ObjectMeta;
  readonly spec: {
    readonly selector: V1LabelSelector;
    readonly endpoints: readonly ServiceMonitorEndpoint[];
  };
}

/** The ServiceMonitor, or undefined when spec.monitoring.serviceMonitor is not enabled. */
export function desiredServiceMonitor(cluster: KingbusCluster): ServiceMonitorManifest | undefined {
  const sm = cluster.spec.monitoring.serviceMonitor;
  if (!sm.enabled) return undefined;
  const endpoint: ServiceMonitorEndpoint = {
    port: "http",
    path: "/metrics",
    scheme: "http",
    ...(sm.interval === undefined ? {} : { interval: sm.interval }),
    ...(sm.scrapeTimeout === undefined ? {} : { scrapeTimeout: sm.scrapeTimeout }),
  };
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: {
      name: clusterNames(cluster).serviceMonitor,
      namespace: cluster.metadata.namespace,
      // The cluster's own labels win over the user's: the selectors of the operator rely on them.
      labels: { ...sm.labels, ...commonLabels(cluster, "metrics") },
      ownerReferences: [ownerReference(cluster)],
    },
    spec: {
      selector: { matchLabels: { ...selectorLabels(cluster), [LABEL_COMPONENT]: PEER_COMPONENT } },
      endpoints: [endpoint],
    },
  };
}
