/**
 * The two Services of a cluster: the headless peer Service that gives every pod a stable DNS name
 * (published before the pod is ready: Raft members must find each other to elect a leader at all),
 * and the client Service over the ready pods, where replicas connect.
 */
import type { V1Service } from "@kubernetes/client-node";
import { HTTP_PORT, PEER_PORT, type KingbusCluster } from "../api/kingbus-cluster.ts";
import { clusterNames, commonLabels, ownerReference, selectorLabels } from "./names.ts";

export type ServiceManifest = V1Service & { apiVersion: "v1"; kind: "Service" };

/** Component labels of the Services (the ServiceMonitor selects the peer Service by it). */
export const PEER_COMPONENT = "peers";
export const CLIENT_COMPONENT = "client";

export function desiredPeerService(cluster: KingbusCluster): ServiceManifest {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: clusterNames(cluster).peerService,
      namespace: cluster.metadata.namespace,
      labels: commonLabels(cluster, PEER_COMPONENT),
      ownerReferences: [ownerReference(cluster)],
    },
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: selectorLabels(cluster),
      ports: [
        { name: "peer", port: PEER_PORT, targetPort: "peer", protocol: "TCP", appProtocol: "kubernetes.io/h2c" },
        { name: "http", port: HTTP_PORT, targetPort: "http", protocol: "TCP", appProtocol: "http" },
        { name: "mysql", port: cluster.spec.server.port, targetPort: "mysql", protocol: "TCP" },
      ],
    },
  };
}

export function desiredClientService(cluster: KingbusCluster): ServiceManifest {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: clusterNames(cluster).clientService,
      namespace: cluster.metadata.namespace,
      labels: commonLabels(cluster, CLIENT_COMPONENT),
      ownerReferences: [ownerReference(cluster)],
    },
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(cluster),
      ports: [{ name: "mysql", port: cluster.spec.server.port, targetPort: "mysql", protocol: "TCP" }],
    },
  };
}
