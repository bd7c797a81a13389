/**
 * Every configuration field, once: its path in the file, how a string from the environment or
 * the command line becomes its value, and the text of its help. The environment variable and the
 * flag are derived from the path, so the three sources cannot drift apart:
 *   raft.electionTicks -> KINGBUS_RAFT_ELECTION_TICKS -> --raft-election-ticks
 */

/** How a string (environment, flag) becomes the field's value before validation. */
export type FieldKind = "string" | "integer" | "boolean" | "json";

export interface FieldSpec {
  /** Dotted path in the configuration file. */
  readonly path: string;
  readonly kind: FieldKind;
  readonly description: string;
  /** Shown in help; the schema holds the real default. */
  readonly defaultText?: string;
  /** Never echoed in messages; no command-line flag (argv is visible to every user in ps). */
  readonly secret?: boolean;
}

export const NODE_FIELDS: readonly FieldSpec[] = Object.freeze([
  { path: "id", kind: "integer", description: "this node's Raft id: a positive integer, unique in the cluster" },
  { path: "name", kind: "string", description: "this node's member name (letters, digits, '.', '_', '-')" },
  { path: "dataDir", kind: "string", description: "directory holding the Raft log, metadata and indexes" },
  { path: "listen.peer", kind: "string", description: "host:port of the peer gRPC listener", defaultText: "0.0.0.0:9696" },
  { path: "listen.admin", kind: "string", description: "host:port of the admin gRPC listener", defaultText: "listen.peer (one port for both)" },
  { path: "listen.http", kind: "string", description: "host:port of the HTTP listener (admin REST API, /metrics, /healthz, /readyz)", defaultText: "0.0.0.0:9595" },
  { path: "advertise.peerUrl", kind: "string", description: "URL peers reach this node's peer gRPC at", defaultText: "this node's initialCluster entry" },
  { path: "advertise.adminUrl", kind: "string", description: "URL of this node's HTTP admin API, used by other members to forward calls", defaultText: "this node's initialCluster entry" },
  { path: "initialCluster", kind: "json", description: "members that bootstrap a new cluster: JSON array of {id, name, peerUrl, adminUrl}" },
  { path: "join", kind: "string", description: "admin URL of a running member to join through (instead of initialCluster)" },
  { path: "adminToken", kind: "string", secret: true, description: "bearer token every admin API call must carry" },
  { path: "adminTokenFile", kind: "string", description: "file holding the admin token (a mounted Kubernetes Secret)" },
  { path: "peerTls.ca", kind: "string", description: "CA bundle (PEM) that peer certificates must chain to" },
  { path: "peerTls.cert", kind: "string", description: "this node's peer certificate (PEM), presented as server and client" },
  { path: "peerTls.key", kind: "string", description: "private key (PEM) of peerTls.cert" },
  { path: "raft.tickMs", kind: "integer", description: "milliseconds per Raft tick", defaultText: "100" },
  { path: "raft.electionTicks", kind: "integer", description: "ticks without a leader before a follower campaigns", defaultText: "10" },
  { path: "raft.heartbeatTicks", kind: "integer", description: "ticks between leader heartbeats", defaultText: "1" },
  { path: "memory.raftInflightBytes", kind: "integer", description: "entry bytes the leader sends one follower ahead of its acknowledgements", defaultText: "8388608 (8 MiB)" },
  { path: "memory.recentEntriesBytes", kind: "integer", description: "bytes of appended entries kept in memory until applied (0: none)", defaultText: "8388608 (8 MiB)" },
  { path: "memory.syncerInflightBytes", kind: "integer", description: "bytes the syncer proposes ahead of what is committed", defaultText: "8388608 (8 MiB)" },
  { path: "memory.syncerBufferBytes", kind: "integer", description: "event bytes from the primary queued before the syncer's socket pauses", defaultText: "4194304 (4 MiB)" },
  { path: "memory.serverCacheBytes", kind: "integer", description: "entries the binlog server's dumps share in memory (0: none)", defaultText: "16777216 (16 MiB)" },
  { path: "storage.segmentBytes", kind: "integer", description: "log segment size before rolling to a new file", defaultText: "67108864 (64 MiB)" },
  { path: "storage.retentionMaxBytes", kind: "integer", description: "purge the oldest sealed segments while the log is larger", defaultText: "unset: no size limit" },
  { path: "storage.retentionMaxAgeMs", kind: "integer", description: "purge sealed segments sealed longer ago than this", defaultText: "unset: no age limit" },
  { path: "storage.syncMode", kind: "string", description: "dsync: segments written with O_DSYNC (one call per append); fdatasync: write, then fdatasync (for a filesystem where O_DSYNC is slow)", defaultText: "dsync" },
  { path: "storage.verifyServedRecords", kind: "string", description: "always: the binlog server checks every stored record's CRC32 as it serves it; auto: only while a served file's events carry no CRC32 of their own (replicas check each event's)", defaultText: "auto" },
  { path: "testWriteApi", kind: "boolean", description: "enable the test-only write API (never in production)", defaultText: "false" },
  { path: "logLevel", kind: "string", description: "fatal, error, warn, info, debug, trace or silent", defaultText: "info" },
] satisfies FieldSpec[]);

const ENV_PREFIX = "KINGBUS_";

function words(path: string): string[] {
  return path.split(".").flatMap((part) => part.replace(/([a-z0-9])([A-Z])/g, "$1 $2").split(" ")).map((w) => w.toLowerCase());
}

/** `raft.electionTicks` -> `KINGBUS_RAFT_ELECTION_TICKS`. */
export function envVarName(path: string): string {
  return ENV_PREFIX + words(path).join("_").toUpperCase();
}

/** `raft.electionTicks` -> `--raft-election-ticks`. */
export function flagName(path: string): string {
  return `--${words(path).join("-")}`;
}

/** The key commander gives the flag's value under: `--raft-election-ticks` -> `raftElectionTicks`. */
export function flagKey(path: string): string {
  const [first, ...rest] = words(path);
  return first! + rest.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

/** The variable and flag naming the configuration file itself (not a field of it). */
export const CONFIG_FILE_ENV = "KINGBUS_CONFIG";
export const CONFIG_FILE_FLAG = "--config";
