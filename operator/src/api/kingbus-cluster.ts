/**
 * The KingbusCluster resource (kingbus.io/v1alpha1), defined once in zod. The same schemas give
 * the TypeScript types, the operator's parse of the objects it reads, and (crd.ts) the CRD's
 * OpenAPI schema with its CEL rules, so the API server and the operator agree on what is valid.
 *
 * Metadata keys understood by crd.ts: `description`, `x-kubernetes-validations`,
 * `x-kubernetes-int-or-string`, `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-list-type`,
 * `x-kubernetes-list-map-keys`, `format`.
 */
import { z } from "zod";
import { ClusterSpecError, type ClusterIssue } from "./errors.ts";
import { BYTE_QUANTITY_PATTERN, DURATION_PATTERN, parseByteQuantity, parseDurationMs, QUANTITY_PATTERN } from "./units.ts";

export const GROUP = "kingbus.io";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = "KingbusCluster";
export const LIST_KIND = "KingbusClusterList";
export const PLURAL = "kingbusclusters";
export const SINGULAR = "kingbuscluster";
export const SHORT_NAMES: readonly string[] = ["kbc"];
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Ports every kingbus pod listens on (the binlog server's port comes from spec.server.port). */
export const PEER_PORT = 9696;
export const HTTP_PORT = 9595;
export const DEFAULT_MYSQL_PORT = 3306;

/**
 * Longest cluster name: the StatefulSet is `kingbus-<name>` and Kubernetes labels each pod with
 * `<statefulset>-<10 character hash>` (a label value: at most 63 characters).
 */
export const MAX_CLUSTER_NAME_LENGTH = 44;
/** An RFC 1123 label: the name also names Services and pod host names. */
export const CLUSTER_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/** Segment files are 64 MiB (the node's default); retention below one segment purges nothing useful. */
export const MIN_RETENTION_BYTES = 64 * 1024 * 1024;
export const MIN_RETENTION_AGE_MS = 1000;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|[0-9A-Fa-f:.]+)$/;
const PROMETHEUS_DURATION = "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

interface CelRule {
  readonly rule: string;
  readonly message: string;
}
function cel(...rules: CelRule[]): { "x-kubernetes-validations": CelRule[] } {
  return { "x-kubernetes-validations": rules };
}

const port = z.number().int().min(1).max(65535);
const objectName = z.string().min(1).max(253).regex(DNS_SUBDOMAIN);

/** An object of any shape (embedded Kubernetes types such as Affinity): the API server keeps it whole. */
const anyObject = z.record(z.string(), z.unknown()).meta({ "x-kubernetes-preserve-unknown-fields": true });

const quantity = z
  .union([z.number().int(), z.string().regex(new RegExp(QUANTITY_PATTERN))])
  .meta({ "x-kubernetes-int-or-string": true, description: "a Kubernetes quantity, e.g. 500m, 2Gi" });

const byteQuantity = z.string().max(64).regex(new RegExp(BYTE_QUANTITY_PATTERN), { error: "must be a size such as 512Mi, 10Gi or 1T" });

function secretReference(what: string) {
  return z
    .object({
      name: objectName.meta({ description: `name of the Secret (in the cluster's namespace) holding ${what}` }),
      usernameKey: z.string().max(253).regex(SECRET_KEY).meta({ description: "key of the user name in the Secret" }).default("username"),
      passwordKey: z.string().max(253).regex(SECRET_KEY).meta({ description: "key of the password in the Secret" }).default("password"),
    })
    .meta({ description: `a Secret holding ${what}` });
}

const toleration = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.number().int().optional(),
});

const syncerSchema = z
  .object({
    enabled: z.boolean().meta({ description: "run the syncer: the leader pulls the primary's binlog by GTID" }).default(false),
    source: z
      .object({
        host: z.string().min(1).max(253).regex(HOST).meta({ description: "host name or IP address of the primary" }),
        port: port.meta({ description: "MySQL port of the primary" }).default(DEFAULT_MYSQL_PORT),
      })
      .meta({ description: "the primary to replicate from" })
      .optional(),
    credentialsSecret: secretReference("the replication user and password (REPLICATION SLAVE)").optional(),
    serverId: z
      .number()
      .int()
      .min(1)
      .max(4294967295)
      .meta({ description: "server_id kingbus presents to the primary; unique among the primary's replicas" })
      .optional(),
    serverUuid: z
      .string()
      .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/)
      .meta({ description: "server_uuid kingbus presents to the primary; derived from the resource's uid when unset" })
      .optional(),
    semiSync: z.boolean().meta({ description: "acknowledge transactions as a semi-sync replica once committed on a Raft majority" }).default(false),
    heartbeatPeriodSeconds: z
      .number()
      .min(0.001)
      .max(4294967)
      .meta({ description: "seconds between the primary's heartbeats when idle (default 10)" })
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (!s.enabled) return;
    for (const field of ["source", "credentialsSecret", "serverId"] as const) {
      if (s[field] === undefined) ctx.addIssue({ code: "custom", path: [field], message: "is required when the syncer is enabled" });
    }
  })
  .meta({
    description: "the syncer: kingbus as a replica of a real MySQL or MariaDB primary",
    ...cel({
      rule: "!self.enabled || (has(self.source) && has(self.credentialsSecret) && has(self.serverId))",
      message: "an enabled syncer needs source, credentialsSecret and serverId",
    }),
  });

const serverPort = port
  .refine((p) => p !== PEER_PORT && p !== HTTP_PORT, { error: `must not be ${PEER_PORT} or ${HTTP_PORT} (kingbus's own ports)` })
  .meta({
    description: "port replicas connect to, on every pod and on the client Service",
    ...cel({ rule: `self != ${PEER_PORT} && self != ${HTTP_PORT}`, message: `must not be ${PEER_PORT} or ${HTTP_PORT} (kingbus's own ports)` }),
  });

const serverSchema = z
  .object({
    enabled: z.boolean().meta({ description: "serve the binlog to replicas on every pod" }).default(false),
    port: serverPort.default(DEFAULT_MYSQL_PORT),
    usersSecret: secretReference("the user and password replicas authenticate with").optional(),
  })
  .superRefine((s, ctx) => {
    if (s.enabled && s.usersSecret === undefined) ctx.addIssue({ code: "custom", path: ["usersSecret"], message: "is required when the server is enabled" });
  })
  .meta({
    description: "the binlog server: kingbus as the primary downstream replicas connect to",
    ...cel({ rule: "!self.enabled || has(self.usersSecret)", message: "an enabled server needs usersSecret" }),
  });

const storageSchema = z
  .object({
    size: byteQuantity.meta({ description: "size of each pod's volume (the Raft log is the binlog store)" }).default("10Gi"),
    className: z.string().min(1).max(253).meta({ description: "StorageClass of the volumes; the cluster's default when unset" }).optional(),
  })
  .meta({
    description: "each pod's persistent volume; fixed once the cluster exists",
    ...cel({ rule: "self == oldSelf", message: "storage cannot change after creation (volume claim templates are immutable)" }),
  });

const retentionSchema = z
  .object({
    size: byteQuantity
      .refine((s) => (parseByteQuantity(s) ?? 0) >= MIN_RETENTION_BYTES, { error: "must be at least 64Mi (one log segment)" })
      .meta({ description: "purge the oldest binlog while a pod's log is larger than this (at least 64Mi)" })
      .optional(),
    age: z
      .string()
      .regex(new RegExp(DURATION_PATTERN), { error: "must be a duration such as 7d, 168h or 1h30m" })
      .refine((s) => (parseDurationMs(s) ?? 0) >= MIN_RETENTION_AGE_MS, { error: "must be at least 1s" })
      .meta({ description: "purge binlog older than this: a duration such as 7d, 168h or 1h30m" })
      .optional(),
  })
  .meta({ description: "how much binlog each pod keeps; unset keeps everything" });

const placementSchema = z
  .object({
    affinity: anyObject
      .meta({ description: "a core/v1 Affinity; replaces the default preferred anti-affinity across nodes when set" })
      .optional(),
    tolerations: z.array(toleration).meta({ description: "core/v1 Tolerations of the pods" }).optional(),
    nodeSelector: z.record(z.string(), z.string()).meta({ description: "node labels the pods must run on" }).optional(),
    topologySpreadConstraints: z
      .array(anyObject)
      .meta({ description: "core/v1 TopologySpreadConstraints; the selector of the cluster's pods is filled in when labelSelector is unset" })
      .optional(),
  })
  .meta({ description: "where the pods run" });

const monitoringSchema = z
  .object({
    serviceMonitor: z
      .object({
        enabled: z.boolean().meta({ description: "create a Prometheus Operator ServiceMonitor scraping every pod's /metrics" }).default(false),
        interval: z.string().regex(new RegExp(PROMETHEUS_DURATION)).meta({ description: "scrape interval, e.g. 30s" }).optional(),
        scrapeTimeout: z.string().regex(new RegExp(PROMETHEUS_DURATION)).meta({ description: "scrape timeout, e.g. 10s" }).optional(),
        labels: z.record(z.string(), z.string().max(63).regex(LABEL_VALUE)).meta({ description: "extra labels on the ServiceMonitor (to match a Prometheus's selector)" }).optional(),
      })
      .prefault({}),
  })
  .meta({ description: "Prometheus monitoring" });

const resourcesSchema = z
  .object({
    requests: z.record(z.string(), quantity).optional(),
    limits: z.record(z.string(), quantity).optional(),
  })
  .meta({ description: "CPU and memory of the kingbus container (core/v1 ResourceRequirements)" });

export const kingbusClusterSpecSchema = z
  .object({
    replicas: z
      .number()
      .int()
      .min(1)
      .max(9)
      .refine((n) => n % 2 === 1, { error: "must be odd (1, 3, 5, 7 or 9): a Raft majority of an even count tolerates no more failures" })
      .meta({
        description: "number of pods (Raft members); odd, so that a majority survives the loss of a minority",
        // Plain JSON Schema says "odd" too, for the chart's values.schema.json (helm knows no CEL).
        not: { multipleOf: 2 },
        ...cel({ rule: "self % 2 == 1", message: "replicas must be odd (1, 3, 5, 7 or 9)" }),
      })
      .default(3),
    image: z.string().min(1).meta({ description: "kingbus image of the pods; the operator's own image when unset" }).optional(),
    imagePullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
    imagePullSecrets: z.array(z.object({ name: objectName })).meta({ description: "Secrets to pull the image with" }).optional(),
    resources: resourcesSchema.optional(),
    storage: storageSchema.prefault({}),
    syncer: syncerSchema.prefault({}),
    server: serverSchema.prefault({}),
    retention: retentionSchema.optional(),
    placement: placementSchema.optional(),
    monitoring: monitoringSchema.prefault({}),
    logLevel: z.enum(LOG_LEVELS).meta({ description: "log level of the pods" }).default("info"),
  })
  .superRefine((spec, ctx) => {
    const keep = spec.retention?.size === undefined ? undefined : parseByteQuantity(spec.retention.size);
    const volume = parseByteQuantity(spec.storage.size);
    if (keep !== undefined && volume !== undefined && keep > volume) {
      ctx.addIssue({ code: "custom", path: ["retention", "size"], message: `must not exceed storage.size (${spec.retention!.size} > ${spec.storage.size})` });
    }
  })
  .meta({ description: "the desired cluster" });

export const CONDITION_TYPES = ["Available", "Progressing", "Degraded", "SyncerRunning", "ServerRunning"] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

export const conditionSchema = z.object({
  type: z.string().min(1).max(316).meta({ description: `one of ${CONDITION_TYPES.join(", ")}` }),
  status: z.enum(["True", "False", "Unknown"]),
  observedGeneration: z.number().int().min(0).meta({ description: "the metadata.generation the condition was computed from" }).optional(),
  lastTransitionTime: z
    .string()
    .refine((s) => !Number.isNaN(Date.parse(s)), { error: "must be an RFC 3339 time" })
    .meta({ format: "date-time", description: "when status last changed" }),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .meta({ description: "CamelCase reason" }),
  message: z.string().max(32768).meta({ description: "human-readable details" }),
});

export const MEMBER_ROLES = ["Leader", "Follower", "Candidate", "Learner", "Unknown"] as const;
export const SYNCER_STATES = ["Disabled", "Stopped", "Connecting", "Running", "Error", "Unknown"] as const;

export const memberStatusSchema = z.object({
  name: z.string().min(1).meta({ description: "member (and pod) name" }),
  id: z.number().int().min(1).meta({ description: "Raft id" }),
  role: z.enum(MEMBER_ROLES),
  healthy: z.boolean().meta({ description: "the pod answers /readyz" }),
  appliedIndex: z.number().int().min(0).meta({ description: "highest Raft index applied on the member" }).optional(),
});

export const kingbusClusterStatusSchema = z
  .object({
    observedGeneration: z.number().int().min(0).meta({ description: "the metadata.generation this status describes" }).optional(),
    readyMembers: z.number().int().min(0).meta({ description: "members that are healthy" }).optional(),
    leader: z.string().meta({ description: "name of the Raft leader; empty when none is known" }).optional(),
    conditions: z
      .array(conditionSchema)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
      .optional(),
    members: z
      .array(memberStatusSchema)
      .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
      .optional(),
    syncer: z
      .object({
        state: z.enum(SYNCER_STATES),
        executedGtidSet: z.string().meta({ description: "GTID set committed in the cluster" }).optional(),
        secondsBehind: z.number().int().min(0).nullable().meta({ description: "seconds behind the primary; null when not connected" }).optional(),
        lastError: z.string().meta({ description: "why the last connection to the primary ended" }).optional(),
      })
      .optional(),
    server: z
      .object({
        connectedReplicas: z.number().int().min(0).meta({ description: "replicas connected, summed over the pods" }),
      })
      .optional(),
  })
  .meta({ description: "what the operator observes" });

export const clusterMetadataSchema = z.looseObject({
  name: z
    .string()
    .max(MAX_CLUSTER_NAME_LENGTH, { error: `must be at most ${MAX_CLUSTER_NAME_LENGTH} characters` })
    .regex(new RegExp(CLUSTER_NAME_PATTERN), { error: "must be lower-case letters, digits and '-', starting and ending with a letter or digit" }),
  namespace: z.string().min(1),
  uid: z.string().min(1),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const kingbusClusterSchema = z.object({
  apiVersion: z.enum([API_VERSION]),
  kind: z.enum([KIND]),
  metadata: clusterMetadataSchema,
  spec: kingbusClusterSpecSchema.prefault({}),
  // A status the operator cannot read (another version wrote it) never blocks reconciling the
  // spec: it is dropped, and the next status write replaces it.
  status: kingbusClusterStatusSchema.optional().catch(undefined),
});

/** The spec after defaults: what the desired-state functions read. */
export type KingbusClusterSpec = z.output<typeof kingbusClusterSpecSchema>;
/** The spec as a user writes it (defaults optional). */
export type KingbusClusterSpecInput = z.input<typeof kingbusClusterSpecSchema>;
export type KingbusClusterStatus = z.output<typeof kingbusClusterStatusSchema>;
export type ClusterCondition = z.output<typeof conditionSchema>;
export type MemberStatus = z.output<typeof memberStatusSchema>;
export type MemberRole = (typeof MEMBER_ROLES)[number];
export type SyncerState = (typeof SYNCER_STATES)[number];
export type ClusterMetadata = z.output<typeof clusterMetadataSchema>;
/** A parsed KingbusCluster: metadata checked, spec defaulted and valid. */
export type KingbusCluster = z.output<typeof kingbusClusterSchema>;
export type KingbusClusterInput = z.input<typeof kingbusClusterSchema>;
export type SecretReference = NonNullable<KingbusClusterSpec["syncer"]["credentialsSecret"]>;

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `${out === "" ? "" : "."}${String(part)}`;
  return out === "" ? "object" : out;
}

function issuesOf(error: z.ZodError): ClusterIssue[] {
  return error.issues.map((i) => ({ path: pathText(i.path), message: i.message }));
}

/**
 * A KingbusCluster read from the API server (or a file), checked and defaulted. Throws
 * ClusterSpecError naming every problem.
 */
export function parseKingbusCluster(object: unknown): KingbusCluster {
  const result = kingbusClusterSchema.safeParse(object);
  if (!result.success) throw new ClusterSpecError(issuesOf(result.error), { cause: result.error });
  return result.data;
}

/** Only the spec: for tests and for `kubectl`-like tools that hold a spec alone. */
export function parseKingbusClusterSpec(spec: unknown): KingbusClusterSpec {
  const result = kingbusClusterSpecSchema.safeParse(spec);
  if (!result.success) {
    const issues = issuesOf(result.error).map((i) => ({ ...i, path: i.path === "object" ? "spec" : `spec.${i.path}` }));
    throw new ClusterSpecError(issues, { cause: result.error });
  }
  return result.data;
}
