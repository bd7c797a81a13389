/**
 * Configuration of the primary-role server, and the defaults that make it look like the server
 * whose binlog it serves.
 */
import { randomUUID } from "node:crypto";
import { KingbusError } from "../../errors.ts";
import { nativePasswordHash, sha2PasswordHash } from "../wire/auth.ts";
import { CACHING_SHA2_PLUGIN, Collation, NATIVE_PASSWORD_PLUGIN } from "../wire/constants.ts";
import type { BinlogFlavor } from "./feed.ts";

/** Where the server writes what it does; pino loggers fit. */
export interface ServerLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface BinlogServerConfig {
  flavor: BinlogFlavor;
  /**
   * The version in the handshake and @@version. Default for MariaDB `5.5.5-10.11.19-MariaDB-log`:
   * MariaDB replicas read the "5.5.5-" prefix as "10.x or later" and only then use GTIDs. For
   * MySQL `8.0.40-kingbus`.
   */
  serverVersion?: string;
  /** @@server_id, and the server id of the artificial events (fake rotate, heartbeat). */
  serverId: number;
  /** @@server_uuid (MySQL flavour only). Default: a random UUID per process. */
  serverUuid?: string;
  /** @@gtid_domain_id (MariaDB flavour). Default 0. */
  gtidDomainId?: number;
  /** Accounts: user name -> password (checked with mysql_native_password or caching_sha2_password). */
  users: Record<string, string>;
  /** The plugin the handshake announces. Default: caching_sha2_password for MySQL, mysql_native_password for MariaDB. */
  authPlugin?: "mysql_native_password" | "caching_sha2_password";
  /**
   * Heartbeat period for dumps whose replica did not set @master_heartbeat_period. Default 0: none,
   * as a real primary does.
   */
  defaultHeartbeatMs?: number;
  /** Connections beyond this are refused with ERR 1040. Default 1000. */
  maxConnections?: number;
  /** Time a client has to complete the handshake. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Largest packet accepted from clients (their max_allowed_packet toward us). Default 16 MiB. */
  maxAllowedPacket?: number;
  /** @@version_comment. Default "kingbus binlog server". */
  versionComment?: string;
  /**
   * Semi-sync toward replicas that ask for it (@rpl_semi_sync_slave = 1): every event packet of
   * their dump carries the semi-sync header (as any primary sends it to such a replica), and with
   * this on (@@rpl_semi_sync_master_enabled = ON) the end of each transaction that arrives while
   * the replica waits asks for an ack, which is recorded. Nothing waits for the acks: a
   * transaction is served only once committed in Raft. Default true.
   */
  semiSync?: boolean;
  /**
   * Bytes a connection may hold queued for its client before its dump waits for the client to
   * read (the socket's high-water mark): what a slow replica costs in memory. Default 256 KiB.
   */
  sendBufferBytes?: number;
  logger?: ServerLogger;
}

export class ServerConfigError extends KingbusError {
  constructor(message: string) {
    super("SERVER_CONFIG", message);
  }
}

export interface ResolvedServerConfig {
  readonly flavor: BinlogFlavor;
  readonly serverVersion: string;
  readonly serverId: number;
  readonly serverUuid: string;
  readonly gtidDomainId: number;
  /** user -> SHA1(SHA1(password)), undefined for an empty password (mysql_native_password). */
  readonly accounts: ReadonlyMap<string, Buffer | undefined>;
  /** user -> SHA256(SHA256(password)), undefined for an empty password (caching_sha2_password). */
  readonly sha2Accounts: ReadonlyMap<string, Buffer | undefined>;
  /** The plugin the handshake announces: caching_sha2_password for MySQL (as MySQL 8), mysql_native_password for MariaDB. */
  readonly authPlugin: string;
  readonly defaultHeartbeatMs: number;
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  readonly maxAllowedPacket: number;
  readonly versionComment: string;
  readonly sendBufferBytes: number;
  readonly semiSync: boolean;
  readonly collation: number;
  readonly logger: ServerLogger;
}

const silent: ServerLogger = { debug() {}, info() {}, warn() {} };

export const DEFAULT_MARIADB_VERSION = "5.5.5-10.11.19-MariaDB-log";
export const DEFAULT_MYSQL_VERSION = "8.0.40-kingbus";

export function resolveServerConfig(config: BinlogServerConfig): ResolvedServerConfig {
  if (config.flavor !== "mysql" && config.flavor !== "mariadb") throw new ServerConfigError(`flavor must be "mysql" or "mariadb", not ${String(config.flavor)}`);
  if (!Number.isInteger(config.serverId) || config.serverId < 1 || config.serverId > 0xffff_ffff) {
    throw new ServerConfigError(`serverId must be an integer from 1 to 4294967295, not ${config.serverId}`);
  }
  const serverVersion = config.serverVersion ?? (config.flavor === "mariadb" ? DEFAULT_MARIADB_VERSION : DEFAULT_MYSQL_VERSION);
  if (config.flavor === "mariadb" && !/^5\.5\.5-1\d\.|^1\d\./.test(serverVersion)) {
    throw new ServerConfigError(`a MariaDB server version must read as 10.x or later (e.g. ${DEFAULT_MARIADB_VERSION}), not ${serverVersion}`);
  }
  const serverUuid = (config.serverUuid ?? randomUUID()).toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(serverUuid)) {
    throw new ServerConfigError(`serverUuid must be a UUID, not ${config.serverUuid}`);
  }
  const accounts = new Map<string, Buffer | undefined>();
  const sha2Accounts = new Map<string, Buffer | undefined>();
  for (const [user, password] of Object.entries(config.users)) {
    if (typeof password !== "string") throw new ServerConfigError(`the password of user ${user} must be a string`);
    accounts.set(user, nativePasswordHash(password));
    sha2Accounts.set(user, sha2PasswordHash(password));
  }
  return {
    flavor: config.flavor,
    serverVersion,
    serverId: config.serverId,
    serverUuid,
    gtidDomainId: config.gtidDomainId ?? 0,
    accounts,
    sha2Accounts,
    authPlugin: config.authPlugin ?? (config.flavor === "mysql" ? CACHING_SHA2_PLUGIN : NATIVE_PASSWORD_PLUGIN),
    defaultHeartbeatMs: config.defaultHeartbeatMs ?? 0,
    maxConnections: config.maxConnections ?? 1000,
    handshakeTimeoutMs: config.handshakeTimeoutMs ?? 10_000,
    maxAllowedPacket: config.maxAllowedPacket ?? 16 * 1024 * 1024,
    versionComment: config.versionComment ?? "kingbus binlog server",
    sendBufferBytes: config.sendBufferBytes ?? 256 * 1024,
    semiSync: config.semiSync ?? true,
    // 45 rather than MySQL 8's 255: every client knows it (MariaDB's client library refuses 255).
    collation: Collation.UTF8MB4_GENERAL_CI,
    logger: config.logger ?? silent,
  };
}
