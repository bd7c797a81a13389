/**
 * What the node provides to its management surface. The HTTP admin API (and later the admin gRPC
 * service) call only this, so the node loop plugs in behind it and tests use a fake.
 *
 * Which calls the original kingbus forwarded to the leader, and kingbus still does (the HTTP layer
 * forwards them; the backend sees them only on the node that believes it leads):
 *   - addMember, removeMember, updateMember (POST, DELETE, PUT /members)
 *   - startSyncer, stopSyncer, syncerStatus (/binlog/syncer/*): the one syncer runs on the leader
 * Answered by any member from its own state, never forwarded:
 *   - members (GET /cluster, GET /members)
 *   - startServer, stopServer, serverStatus (/binlog/server/*): every member serves replicas
 *   - leadership, readiness (forwarding decisions, /readyz)
 *
 * Failures are AdminError with the code that says why (MEMBER_EXISTS, NOT_LEADER, ...); any other
 * error is answered as an internal error. Calls may arrive concurrently, except that the HTTP layer
 * runs the mutations of one group (members, syncer, server) one at a time, as the original did.
 * Every method may answer directly or with a promise.
 */

export type MaybePromise<T> = T | Promise<T>;

export interface ClusterMember {
  /** Raft member id, a u64: a bigint, never a double (ids above 2^53 must stay exact). */
  readonly id: bigint;
  readonly name: string;
  readonly peerUrls: readonly string[];
  /** Base URLs of the member's HTTP admin API (empty until the member announced it). */
  readonly adminUrls: readonly string[];
  readonly isLeader: boolean;
}

export interface AddMemberRequest {
  /** The id the new member was configured with; the backend chooses one when absent. */
  readonly id?: bigint;
  readonly name: string;
  readonly peerUrl: string;
  readonly adminUrl?: string;
}

export interface RemoveMemberRequest {
  readonly name: string;
  /** When given, must be the member's peer URL: a guard against removing the wrong member. */
  readonly peerUrl?: string;
}

export interface UpdateMemberRequest {
  readonly name: string;
  /** The peer URL is the only attribute that can change. */
  readonly newPeerUrl: string;
}

/** How the leader's syncer connects to the primary (PUT /binlog/syncer/start). */
export interface SyncerConfig {
  /** The server_id kingbus presents to the primary as a replica. */
  readonly syncerId: number;
  /** The server_uuid kingbus presents to the primary. */
  readonly syncerUuid: string;
  /** The primary, host:port. */
  readonly mysqlAddr: string;
  readonly mysqlUser: string;
  readonly mysqlPassword: string;
  /** Acknowledge transactions to a semi-sync primary once committed in Raft. */
  readonly semiSync: boolean;
  /** Heartbeat period asked of the primary, in milliseconds (the original fixed 10 s). */
  readonly heartbeatPeriodMs: number;
  /** TLS to the primary (absent: plain TCP). */
  readonly tls?: SyncerTls;
}

/** TLS to the primary: required when given; certificates in PEM. */
export interface SyncerTls {
  /** CA the primary's certificate must chain to (default: the system's CAs). */
  readonly ca?: string;
  /** Client certificate and key, for a primary that requires X509. */
  readonly cert?: string;
  readonly key?: string;
  /** Default true: refuse a primary whose certificate does not verify. */
  readonly verifyServerCert: boolean;
}

/** Where the stored binlog stands, as both statuses report it. */
export interface BinlogProgress {
  readonly currentGtid: string;
  readonly lastBinlogFile: string;
  readonly lastFilePosition: number;
  readonly executedGtidSet: string;
  readonly purgedGtidSet: string;
}

export type RunState = "running" | "stopped";

/** The syncer's state. Deliberately without the password: what is not here cannot leak. */
export interface SyncerStatus extends BinlogProgress {
  readonly status: RunState;
  readonly syncerId: number;
  readonly syncerUuid: string;
  readonly mysqlAddr: string;
  readonly mysqlUser: string;
  readonly semiSync: boolean;
  /** Beyond the original's fields: how the syncer is doing. */
  readonly details?: SyncerDetails;
}

export interface SyncerDetails {
  /** "connecting", "running" (dumping), "error" (waiting to reconnect) or "stopped". */
  readonly phase: string;
  /** Why the last connection ended, when it failed. */
  readonly lastError: string | undefined;
  /** Flavour and version of the primary last connected to. */
  readonly primaryFlavor: string | undefined;
  readonly primaryVersion: string | undefined;
  /** null when not connected. */
  readonly secondsBehindPrimary: number | null;
  /** Primary timestamp of the newest event received (ISO 8601), or undefined. */
  readonly lastEventTime: string | undefined;
  readonly eventsReceived: number;
  readonly bytesReceived: number;
  readonly transactionsCommitted: number;
}

/** The primary role of one member (PUT /binlog/server/start): where replicas connect and as whom. */
export interface ServerConfig {
  readonly addr: string;
  readonly user: string;
  readonly password: string;
}

/** A downstream replica connected to this member. */
export interface ReplicaInfo {
  readonly serverId: number;
  readonly serverUuid: string;
  readonly hostName: string;
  readonly port: number;
  readonly user: string;
  /** COM_REGISTER_SLAVE received. */
  readonly registered: boolean;
  readonly connectTime: Date;
  /** The heartbeat period the replica asked for, in nanoseconds (0: none). */
  readonly heartbeatPeriodNs: number;
}

/** The binlog server's state, without the password. */
export interface ServerStatus extends BinlogProgress {
  readonly status: RunState;
  readonly addr: string;
  readonly user: string;
  readonly replicas: readonly ReplicaInfo[];
}

export interface Leadership {
  readonly isLeader: boolean;
  /** The leader this node knows of, or undefined. */
  readonly leaderId: bigint | undefined;
  /** Base URL of the leader's HTTP admin API: where leader-only calls are forwarded. */
  readonly leaderAdminUrl: string | undefined;
}

/** What /readyz decides from. */
export interface ReadinessFacts {
  /** This node is in the cluster's current membership. */
  readonly isMember: boolean;
  readonly leaderId: bigint | undefined;
  readonly appliedIndex: number;
  /**
   * The commit index this node first learned after it started (from the leader, or its own when
   * it leads), or undefined until it has learned one. Ready once applied up to it: the node then
   * serves everything that was committed when it came up.
   */
  readonly startupCommitIndex: number | undefined;
}

export interface AdminBackend {
  members(): MaybePromise<readonly ClusterMember[]>;
  /** Leader only. Answers the membership after the change. */
  addMember(request: AddMemberRequest): MaybePromise<readonly ClusterMember[]>;
  /** Leader only. */
  removeMember(request: RemoveMemberRequest): MaybePromise<readonly ClusterMember[]>;
  /** Leader only. */
  updateMember(request: UpdateMemberRequest): MaybePromise<readonly ClusterMember[]>;
  /** Leader only. Starts the syncer and records its configuration in the Raft log for later leaders. */
  startSyncer(config: SyncerConfig): MaybePromise<void>;
  /** Leader only. */
  stopSyncer(): MaybePromise<void>;
  /** Leader only. */
  syncerStatus(): MaybePromise<SyncerStatus>;
  startServer(config: ServerConfig): MaybePromise<void>;
  stopServer(): MaybePromise<void>;
  serverStatus(): MaybePromise<ServerStatus>;
  leadership(): MaybePromise<Leadership>;
  readiness(): MaybePromise<ReadinessFacts>;
}
