export type {
  AddMemberRequest,
  AdminBackend,
  BinlogProgress,
  ClusterMember,
  Leadership,
  MaybePromise,
  ReadinessFacts,
  RemoveMemberRequest,
  ReplicaInfo,
  RunState,
  ServerConfig,
  ServerStatus,
  SyncerConfig,
  SyncerStatus,
  UpdateMemberRequest,
} from "./backend.ts";
export { ADMIN_ERROR_STATUS, AdminError, type AdminErrorCode } from "./errors.ts";
export { ERROR_CODE_HEADER } from "./envelope.ts";
export { FORWARD_GUARD_HEADER } from "./forward.ts";
export { AdminHttpServer, type AdminHttpServerOptions, type ExtraRoute } from "./http-server.ts";
export { encodeJson, parseJsonExact } from "./json.ts";
export { createAdminLogger, REDACT_PATHS, type AdminLoggerOptions } from "./logger.ts";
export { createNodeMetrics, METRIC_PREFIX, NODE_METRIC_NAMES, type NodeMetrics, type NodeMetricsOptions, type ReplicationDirection } from "./metrics.ts";
export { evaluateReadiness, type Readiness } from "./readiness.ts";
export { MASKED_PASSWORD } from "./views.ts";
