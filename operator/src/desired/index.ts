/** Desired state of a KingbusCluster: pure functions from the resource to the objects it owns. */
export { adminTokenOf, credentialsFrom, desiredAdminTokenSecret, serverStartRequest, syncerStartRequest, syncerUuid } from "./admin.ts";
export type { Credentials, SecretManifest, ServerStartRequest, SyncerStartRequest } from "./admin.ts";
export {
  ADMIN_TOKEN_FILE,
  bootstrapMembers,
  bootstrapMembersOf,
  CONFIG_DIR,
  configData,
  configHash,
  DATA_DIR,
  desiredConfigMap,
  sharedNodeConfig,
  startScript,
} from "./config.ts";
export type { ConfigOptions, SharedNodeConfig } from "./config.ts";
export { budgetMembers, desiredPodDisruptionBudget, tolerableFailures } from "./disruption.ts";
export type { DisruptionOptions, PodDisruptionBudgetManifest } from "./disruption.ts";
export {
  ANNOTATION_CONFIG_HASH,
  clusterNames,
  commonLabels,
  FIELD_MANAGER,
  memberAddress,
  memberAddresses,
  memberHost,
  memberId,
  memberName,
  ordinalOf,
  ownerReference,
  selectorLabels,
} from "./names.ts";
export type { AddressOptions, ClusterNames, MemberAddress } from "./names.ts";
export { desiredResources } from "./resources.ts";
export type { DesiredManifest, DesiredOptions, DesiredResources, ResourceRef } from "./resources.ts";
export { desiredServiceMonitor } from "./service-monitor.ts";
export type { ServiceMonitorManifest } from "./service-monitor.ts";
export { desiredClientService, desiredPeerService } from "./services.ts";
export type { ServiceManifest } from "./services.ts";
export { ADMIN_TOKEN_KEY, defaultAffinity, desiredStatefulSet } from "./statefulset.ts";
export type { StatefulSetOptions } from "./statefulset.ts";
