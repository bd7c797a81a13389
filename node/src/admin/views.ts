/**
 * The original kingbus's JSON shapes, built from the backend's values. Field names, order and
 * omissions follow the Go structs (`name` and `adminURLs` were omitempty). Passwords are never
 * copied: the fields stay for compatibility and always hold MASKED_PASSWORD.
 */
import type { BinlogProgress, ClusterMember, ReplicaInfo, ServerStatus, SyncerStatus } from "./backend.ts";

/** What every password field of every response holds: constant, so it reveals nothing, not even emptiness. */
export const MASKED_PASSWORD = "******";

function memberAttributes(m: ClusterMember): Record<string, unknown> {
  const out: Record<string, unknown> = { peerURLs: [...m.peerUrls] };
  if (m.name !== "") out.name = m.name;
  if (m.adminUrls.length > 0) out.adminURLs = [...m.adminUrls];
  return out;
}

/** GET /cluster: `Id` as lower-case hex text (Go's %x), with isLeader. */
export function clusterView(members: readonly ClusterMember[]): Record<string, unknown>[] {
  return members.map((m) => ({ Id: m.id.toString(16), ...memberAttributes(m), isLeader: m.isLeader }));
}

/** The /members answers: `Id` as a decimal JSON number (a bigint, written exactly by encodeJson), no isLeader. */
export function memberListView(members: readonly ClusterMember[]): Record<string, unknown>[] {
  return members.map((m) => ({ Id: m.id, ...memberAttributes(m) }));
}

function progressView(p: BinlogProgress): Record<string, unknown> {
  return {
    current_gtid: p.currentGtid,
    last_binlog_file: p.lastBinlogFile,
    last_file_position: p.lastFilePosition,
    executed_gtid_set: p.executedGtidSet,
    purged_gtid_set: p.purgedGtidSet,
  };
}

export function syncerStatusView(s: SyncerStatus): Record<string, unknown> {
  return {
    syncer_id: s.syncerId,
    syncer_uuid: s.syncerUuid,
    mysql_addr: s.mysqlAddr,
    mysql_user: s.mysqlUser,
    mysql_password: MASKED_PASSWORD,
    semi_sync: s.semiSync,
    ...progressView(s),
    status: s.status,
    ...(s.details
      ? {
          phase: s.details.phase,
          last_error: s.details.lastError ?? "",
          primary_flavor: s.details.primaryFlavor ?? "",
          primary_version: s.details.primaryVersion ?? "",
          seconds_behind_primary: s.details.secondsBehindPrimary,
          last_event_time: s.details.lastEventTime ?? "",
          events_received: s.details.eventsReceived,
          bytes_received: s.details.bytesReceived,
          transactions_committed: s.details.transactionsCommitted,
        }
      : {}),
  };
}

/** A replica as the original's mysql.Slave serialised (heartbeat: a Go Duration, nanoseconds). */
function replicaView(r: ReplicaInfo): Record<string, unknown> {
  return {
    replication_state: r.registered ? 1 : 0,
    server_id: r.serverId,
    server_uuid: r.serverUuid,
    host_name: r.hostName,
    port: r.port,
    user: r.user,
    password: MASKED_PASSWORD,
    connect_time: r.connectTime.toISOString(),
    heartbeat: r.heartbeatPeriodNs,
    stats: {},
  };
}

export function serverStatusView(s: ServerStatus): Record<string, unknown> {
  return {
    addr: s.addr,
    user: s.user,
    password: MASKED_PASSWORD,
    slaves: s.replicas.map(replicaView),
    ...progressView(s),
    status: s.status,
  };
}
