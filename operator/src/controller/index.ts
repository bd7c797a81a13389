/** The controller of `kingbus operator`: the reconcile pass, the loop around it, and their parts. */
export { OperatorController, DEFAULT_LEASE_NAME, type ControllerOptions, type LeaderElectionConfig } from "./controller.ts";
export { Reconciler, ANNOTATION_MEMBER_VOLUMES, mergePatch, startSyncerMessage, syncerDiffers, type ReconcileAction, type ReconcileResult, type ReconcilerOptions } from "./reconcile.ts";
export { planMembership, type MemberFact, type MembershipFacts, type MembershipStep } from "./membership.ts";
export { computeStatus, type Observation, type ObservedMember, type ObservedSyncer } from "./status.ts";
export { dnsPodNetwork, grpcAdminConnector, type AdminConnector, type PodAdmin, type PodNetwork } from "./pod-admin.ts";
export { FAILPOINTS, FailpointCrash, FailpointConfigError, exitingFailpoints, noFailpoints, parseFailpoints, type FailpointHook, type FailpointName } from "./failpoints.ts";
export { createOperatorMetrics, OPERATOR_METRIC_PREFIX, type OperatorMetrics } from "./metrics.ts";
export { KingbusClusters, type KingbusClusterObject } from "./resources.ts";
