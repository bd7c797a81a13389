/**
 * The node's Prometheus metrics: one registry per node, typed handles the node loop updates
 * (`metrics.raftTerm.set(term)`), and Node's process metrics, all prefixed `kingbus_`.
 */
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from "prom-client";

export const METRIC_PREFIX = "kingbus_";

export type ReplicationDirection = "sent" | "received";

export interface NodeMetrics {
  readonly registry: Registry;
  /** kingbus_raft_term: the current Raft term. */
  readonly raftTerm: Gauge;
  /** kingbus_raft_is_leader: 1 on the leader, 0 elsewhere. */
  readonly raftIsLeader: Gauge;
  /** kingbus_raft_leader_id: the id of the leader this node knows, 0 for none. */
  readonly raftLeaderId: Gauge;
  /** kingbus_raft_commit_index: the highest index known committed. */
  readonly raftCommitIndex: Gauge;
  /** kingbus_raft_applied_index: the highest index applied (indexed, served to replicas). */
  readonly raftAppliedIndex: Gauge;
  /** kingbus_storage_append_duration_seconds: one log append, write through fsync. */
  readonly storageAppendSeconds: Histogram;
  /** kingbus_storage_fsync_duration_seconds: one fsync of the log. */
  readonly storageFsyncSeconds: Histogram;
  /** kingbus_raft_replicated_entries_total{direction}: entries sent to followers (leader) or received from the leader (follower). */
  readonly raftReplicatedEntries: Counter<"direction">;
  /** kingbus_raft_replicated_bytes_total{direction}: the entries' data bytes, likewise. */
  readonly raftReplicatedBytes: Counter<"direction">;
  /** kingbus_raft_peer_lag_entries{peer}: on the leader, how many entries each follower's log is behind (peer: its id in decimal). */
  readonly raftPeerLagEntries: Gauge<"peer">;
}

export interface NodeMetricsOptions {
  /** Default true; tests that build many registries may turn the process metrics off. */
  readonly processMetrics?: boolean;
}

/** From 100 µs to about 6.5 s: fsync on a fast SSD up to a struggling network disk. */
const LATENCY_BUCKETS = exponentialBuckets(0.0001, 2, 17);

export function createNodeMetrics(options: NodeMetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string) => new Gauge({ name: METRIC_PREFIX + name, help, registers });
  const histogram = (name: string, help: string) => new Histogram({ name: METRIC_PREFIX + name, help, buckets: LATENCY_BUCKETS, registers });
  const counter = (name: string, help: string) => new Counter({ name: METRIC_PREFIX + name, help, labelNames: ["direction"] as const, registers });

  const metrics: NodeMetrics = {
    registry,
    raftTerm: gauge("raft_term", "Current Raft term."),
    raftIsLeader: gauge("raft_is_leader", "1 when this node is the Raft leader, else 0."),
    raftLeaderId: gauge("raft_leader_id", "Id of the leader this node knows of, 0 when none."),
    raftCommitIndex: gauge("raft_commit_index", "Highest Raft log index known to be committed."),
    raftAppliedIndex: gauge("raft_applied_index", "Highest Raft log index applied by this node."),
    storageAppendSeconds: histogram("storage_append_duration_seconds", "Duration of one log append, write through fsync, in seconds."),
    storageFsyncSeconds: histogram("storage_fsync_duration_seconds", "Duration of one fsync of the log, in seconds."),
    raftReplicatedEntries: counter("raft_replicated_entries_total", "Raft entries sent to followers (direction=sent) or received from the leader (direction=received)."),
    raftReplicatedBytes: counter("raft_replicated_bytes_total", "Data bytes of the Raft entries sent (direction=sent) or received (direction=received)."),
    raftPeerLagEntries: new Gauge({
      name: `${METRIC_PREFIX}raft_peer_lag_entries`,
      help: "On the leader: entries between its last index and each follower's match index.",
      labelNames: ["peer"] as const,
      registers,
    }),
  };
  // Both directions exist from the start, so rate() has a zero to begin from.
  for (const direction of ["sent", "received"] satisfies ReplicationDirection[]) {
    metrics.raftReplicatedEntries.inc({ direction }, 0);
    metrics.raftReplicatedBytes.inc({ direction }, 0);
  }
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return metrics;
}

/** The kingbus metric names (without the process metrics), for documentation and tests. */
export const NODE_METRIC_NAMES = [
  "kingbus_raft_term",
  "kingbus_raft_is_leader",
  "kingbus_raft_leader_id",
  "kingbus_raft_commit_index",
  "kingbus_raft_applied_index",
  "kingbus_storage_append_duration_seconds",
  "kingbus_storage_fsync_duration_seconds",
  "kingbus_raft_replicated_entries_total",
  "kingbus_raft_replicated_bytes_total",
  "kingbus_raft_peer_lag_entries",
] as const;
