/** The KingbusCluster kind for the operator's client, as it travels on the wire. */
import { GROUP, KIND, PLURAL, VERSION } from "../api/kingbus-cluster.ts";
import { resourceType, type UntypedObject } from "../kube/types.ts";

/** A KingbusCluster as read from the API server, before parse. */
export type KingbusClusterObject = UntypedObject;

export const KingbusClusters = resourceType<KingbusClusterObject>({ group: GROUP, version: VERSION, kind: KIND, plural: PLURAL, namespaced: true });
