/**
 * The operator's Kubernetes plumbing over @kubernetes/client-node: a typed JSON client with
 * server-side apply (client.ts), list-and-watch caches (informer.ts), a keyed work queue
 * (work-queue.ts), Lease-based leader election (leader-election.ts) and an event recorder
 * (events.ts). Tested against operator/test-support/apiserver, an in-process API server.
 */
export {
  KubeClient, resourcePath,
  type ApplyOptions, type DeleteOptions, type EventSpec, type KubeClientOptions, type ListOptions, type ListResult,
  type PatchType, type WatchEvent, type WatchEventType, type WatchHandle, type WatchOptions,
} from "./client.ts";
export {
  KubeApiError, errorFromStatus, isAlreadyExists, isConflict, isGone, isInvalid, isNotFound, isTransient,
  type KubeErrorCode, type StatusCause,
} from "./errors.ts";
export { EventRecorder, type EventRecorderOptions } from "./events.ts";
export { Informer, type InformerEvent, type InformerHandler, type InformerOptions, type InformerStats } from "./informer.ts";
export { LeaderElector, type LeaderElectionOptions } from "./leader-election.ts";
export { WorkQueue, type WorkQueueOptions, type WorkResult } from "./work-queue.ts";
export * from "./types.ts";
