/**
 * The replica-role connection to a real primary: connect and authenticate (mysql2 does the
 * handshake, TLS and auth plugins, mysql_native_password and caching_sha2_password included),
 * inspect the primary, then start one binlog dump by GTID.
 *
 * One connection carries one dump: a dump takes the connection over (the primary accepts no other
 * command on it), and once the dump ends, by error or close(), the connection is gone. The syncer
 * reconnects for the next one, as real replicas do.
 */
import { isIP } from "node:net";
import { createConnection } from "mysql2";
import type { ConnectionOptions } from "mysql2";
import type { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";
import type { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";
import { BinlogDumpCommand, SingleReplyCommand } from "./commands.ts";
import type { CoreConnection, MysqlDriverError } from "./core.ts";
import { DEFAULT_HIGH_WATER_BYTES, BinlogDumpStream } from "./dump-stream.ts";
import type { DumpTransport } from "./dump-stream.ts";
import {
  PrimaryAuthError,
  PrimaryConnectError,
  PrimaryDisconnectedError,
  PrimaryOptionsError,
  PrimaryQueryError,
  PrimaryRefusedError,
  PrimaryStateError,
} from "./errors.ts";
import { ER_UNKNOWN_SYSTEM_VARIABLE, inspectPrimary, primaryProblems } from "./inspect.ts";
import type { PrimaryInfo } from "./inspect.ts";
import { BinlogDumpFlag, encodeBinlogDump, encodeBinlogDumpGtid, encodeRegisterSlave } from "./packets.ts";

export interface PrimaryTlsOptions {
  /** CA certificate(s) the primary's certificate must chain to (PEM). */
  ca?: string | Buffer | string[] | Buffer[];
  /** Client certificate and key, for a primary that requires X509 (PEM). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /**
   * Default true: the primary's certificate must chain to `ca` (or the system CAs) and, when `host`
   * is a name, name it (an IP address is not checked against the certificate: see connectPrimary).
   */
  rejectUnauthorized?: boolean;
}

export interface ConnectPrimaryOptions {
  host: string;
  /** Default 3306. */
  port?: number;
  user: string;
  password: string;
  /** false (default): plain TCP. An object: TLS, required (the session fails if the primary has none). */
  tls?: false | PrimaryTlsOptions;
  /** Our server_id as a replica: unique among the primary's replicas, 1..4294967295. */
  serverId: number;
  /** MySQL only: sent as @slave_uuid/@replica_uuid (the primary kills an older dump with the same UUID). */
  serverUuid?: string;
  /** Heartbeat period asked of the primary; the watchdog fails a dump after 2 periods of silence. Default 1000; 0 turns both off. */
  heartbeatPeriodMs?: number;
  /**
   * Ask for semi-sync. Default false. The primary then puts the semi-sync header on every event
   * (even with semi-sync switched off on its side, where no event wants an ack) and, when it is
   * on, holds each commit until ack() for the transaction's last event or its timeout.
   */
  semiSync?: boolean;
  /** Connect and handshake deadline. Default 10 000. */
  connectTimeoutMs?: number;
  /** Silence allowed before the primary has found the dump's start (it sends nothing while it scans). Default 60 000. */
  startTimeoutMs?: number;
  /** Event bytes queued for the consumer before the socket pauses. Default 16 MiB. */
  highWaterBytes?: number;
  /** What the primary shows for us in SHOW SLAVE HOSTS. Default "" and 0. */
  reportHost?: string;
  reportPort?: number;
}

/** Where a dump starts: the replica's GTID state in the primary's flavour. */
export type DumpStart =
  | { flavor: "mariadb"; position: MariadbGtidPosition }
  | { flavor: "mysql"; executed: MysqlGtidSet }
  /**
   * A file from a position to the end of the binlog, non-blocking: the stream ends (without an
   * error) once the primary has sent what its binlog holds. Never semi-sync.
   */
  | { flavor: "file"; file: string; offset: number };

const MAX_U32 = 0xffff_ffff;
const DEFAULT_HEARTBEAT_MS = 1000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_START_TIMEOUT_MS = 60_000;
/** MariaDB's MARIA_SLAVE_CAPABILITY_GTID: the replica understands GTID events and GTID dumps. */
const MARIADB_SLAVE_CAPABILITY_GTID = 4;
/** Errors a server sends when it refuses the login itself. */
const AUTH_ERRNOS = new Set([
  1044, // ER_DBACCESS_DENIED_ERROR
  1045, // ER_ACCESS_DENIED_ERROR
  1251, // ER_NOT_SUPPORTED_AUTH_MODE
  1698, // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
  1862, // ER_MUST_CHANGE_PASSWORD_LOGIN
  3118, // ER_ACCOUNT_HAS_BEEN_LOCKED
  3159, // ER_SECURE_TRANSPORT_REQUIRED
  4151, // MariaDB ER_ACCOUNT_HAS_BEEN_LOCKED
]);

function checkOptions(options: ConnectPrimaryOptions): void {
  const integer = (name: string, value: number | undefined, min: number, max: number) => {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
      throw new PrimaryOptionsError(`${name} must be an integer in ${min}..${max}, got ${value}`);
    }
  };
  if (!options.host) throw new PrimaryOptionsError("host is required");
  integer("port", options.port, 1, 65535);
  integer("serverId", options.serverId, 1, MAX_U32);
  // @master_heartbeat_period is in nanoseconds; the servers cap the period at 4294967 s.
  integer("heartbeatPeriodMs", options.heartbeatPeriodMs, 0, 4_294_967_000);
  integer("connectTimeoutMs", options.connectTimeoutMs, 1, MAX_U32);
  integer("startTimeoutMs", options.startTimeoutMs, 0, MAX_U32);
  integer("highWaterBytes", options.highWaterBytes, 1, Number.MAX_SAFE_INTEGER);
  integer("reportPort", options.reportPort, 0, 65535);
  if (options.serverUuid !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(options.serverUuid)) {
    throw new PrimaryOptionsError(`serverUuid must be a UUID, got ${JSON.stringify(options.serverUuid)}`);
  }
}

/** mysql2's error, typed: login refusals, network failures, anything else the server said. */
function connectError(options: ConnectPrimaryOptions, error: MysqlDriverError): Error {
  const where = `${options.host}:${options.port ?? 3306}`;
  if (error.errno !== undefined && error.sqlMessage !== undefined) {
    if (AUTH_ERRNOS.has(error.errno)) {
      return new PrimaryAuthError({ errno: error.errno, sqlState: error.sqlState ?? "", serverMessage: error.sqlMessage }, { cause: error });
    }
    return new PrimaryConnectError(`the primary at ${where} refused the session (error ${error.errno}): ${error.sqlMessage}`, { errno: error.errno, cause: error });
  }
  return new PrimaryConnectError(`cannot connect to the primary at ${where}: ${error.code ? `${error.code} ` : ""}${error.message}`, { cause: error });
}

/** Connects, authenticates and inspects the primary. Does not check it: see checkPrimary. */
export async function connectPrimary(options: ConnectPrimaryOptions): Promise<PrimaryConnection> {
  checkOptions(options);
  const config: ConnectionOptions = {
    host: options.host,
    port: options.port ?? 3306,
    user: options.user,
    password: options.password,
    connectTimeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    // The dump has its own watchdog; keep-alive only helps notice a dead peer while idle.
    enableKeepAlive: true,
    // No statement ever carries several queries; refuse them so an escaping slip cannot chain one.
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: true,
  };
  if (options.tls) {
    const { ca, cert, key, rejectUnauthorized } = options.tls;
    const verify = rejectUnauthorized ?? true;
    // verifyIdentity: without it mysql2 checks the chain but not that the certificate names the
    // host. mysql2 gives Node no server name for an IP address, and Node then checks the name
    // "localhost" instead, so for an IP address the chain is all that is checked.
    config.ssl = { ca, cert, key, rejectUnauthorized: verify, verifyIdentity: verify && isIP(options.host) === 0 };
  }
  const raw = createConnection(config) as unknown as CoreConnection;
  // Errors after connect that hit no running command (the server closing an idle session) are
  // reported to whoever runs the next command; without a listener they would crash the process.
  raw.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    (raw as unknown as { connect(cb: (error: MysqlDriverError | null) => void): void }).connect((error) => {
      if (error) {
        raw.stream.destroy();
        reject(connectError(options, error));
      } else resolve();
    });
  });
  const connection = new PrimaryConnection(raw, options);
  try {
    await connection.inspect();
  } catch (error) {
    await connection.close();
    throw error;
  }
  return connection;
}

export class PrimaryConnection {
  readonly #raw: CoreConnection;
  readonly #options: ConnectPrimaryOptions;
  #info: PrimaryInfo | undefined;
  #dump: BinlogDumpStream | undefined;
  #closed: Promise<void> | undefined;

  /** Use connectPrimary. */
  constructor(raw: CoreConnection, options: ConnectPrimaryOptions) {
    this.#raw = raw;
    this.#options = options;
  }

  /** What inspect() read last (connectPrimary reads it once). */
  get info(): PrimaryInfo {
    if (!this.#info) throw new PrimaryStateError("the primary has not been inspected yet");
    return this.#info;
  }

  /** Reads the primary's flavour, identity, binlog settings and GTID state again. */
  async inspect(): Promise<PrimaryInfo> {
    this.#info = await inspectPrimary((sql) => this.query(sql));
    return this.#info;
  }

  /** Runs one statement outside a dump; rows as objects. Errors are PrimaryQueryError (with errno) or PrimaryDisconnectedError. */
  query(sql: string): Promise<Array<Record<string, unknown>>> {
    if (this.#closed) return Promise.reject(new PrimaryStateError("query on a closed primary connection"));
    if (this.#dump) return Promise.reject(new PrimaryStateError("query on a connection that is running a binlog dump"));
    return new Promise((resolve, reject) => {
      this.#raw.query(sql, (error, rows) => {
        if (!error) resolve(Array.isArray(rows) ? (rows as Array<Record<string, unknown>>) : []);
        else if (error.errno !== undefined && error.sqlMessage !== undefined) {
          reject(new PrimaryQueryError(sql, `the primary refused it with error ${error.errno}: ${error.sqlMessage}`, { errno: error.errno, serverMessage: error.sqlMessage, cause: error }));
        } else {
          reject(new PrimaryDisconnectedError(`the connection to the primary failed: ${error.code ? `${error.code} ` : ""}${error.message}`, { cause: error }));
        }
      });
    });
  }

  /** Runs a SET that a server may not know (error 1193 on a system variable): tolerated. */
  async #setTolerant(sql: string): Promise<void> {
    try {
      await this.query(sql);
    } catch (error) {
      if (!(error instanceof PrimaryQueryError) || error.errno !== ER_UNKNOWN_SYSTEM_VARIABLE) throw error;
    }
  }

  /**
   * The session variables a primary reads when the dump starts (replication-protocol.md §2), in
   * the order real replicas send them.
   */
  sessionStatements(start: DumpStart, semiSync: boolean): string[] {
    const info = this.info;
    const periodNs = BigInt(this.#options.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_MS) * 1_000_000n;
    const statements: string[] = [];
    if (start.flavor === "file") {
      statements.push("SET @master_binlog_checksum = @@global.binlog_checksum", `SET @master_heartbeat_period = ${periodNs}`);
      // MariaDB: without the capability it would rewrite its GTID events for an old replica.
      if (info.flavor === "mariadb") statements.push(`SET @mariadb_slave_capability = ${MARIADB_SLAVE_CAPABILITY_GTID}`);
      else statements.push("SET @source_binlog_checksum = @@global.binlog_checksum");
      return statements;
    }
    if (info.flavor === "mariadb") {
      if (start.flavor !== "mariadb") throw new PrimaryStateError("a MariaDB primary needs a MariaDB GTID position to start from");
      statements.push(
        // Without it a primary that writes checksums refuses the dump (or strips them).
        "SET @master_binlog_checksum = @@global.binlog_checksum",
        `SET @master_heartbeat_period = ${periodNs}`,
        `SET @mariadb_slave_capability = ${MARIADB_SLAVE_CAPABILITY_GTID}`,
        `SET @slave_connect_state = ${this.#raw.escape(start.position.toString())}`,
        // Strict: a position the primary's binlog does not contain is an error (1236), not a guess.
        "SET @slave_gtid_strict_mode = 1",
        "SET @slave_gtid_ignore_duplicates = 0",
      );
      if (semiSync) statements.push("SET @rpl_semi_sync_slave = 1");
    } else {
      if (start.flavor !== "mysql") throw new PrimaryStateError("a MySQL primary needs a MySQL GTID set to start from");
      statements.push(
        "SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum",
        `SET @master_heartbeat_period = ${periodNs}, @source_heartbeat_period = ${periodNs}`,
      );
      const uuid = this.#options.serverUuid;
      if (uuid !== undefined) statements.push(`SET @slave_uuid = ${this.#raw.escape(uuid)}, @replica_uuid = ${this.#raw.escape(uuid)}`);
      // The old plugin reads @rpl_semi_sync_slave, the 8.0.26+ one @rpl_semi_sync_replica.
      if (semiSync) statements.push("SET @rpl_semi_sync_slave = 1", "SET @rpl_semi_sync_replica = 1");
    }
    return statements;
  }

  /**
   * Starts the binlog dump. The connection belongs to the returned stream from now on; closing the
   * stream closes the connection. Throws PrimaryRefusedError when semi-sync was asked for and the
   * primary cannot do it.
   */
  async dump(start: DumpStart): Promise<BinlogDumpStream> {
    if (this.#closed) throw new PrimaryStateError("dump on a closed primary connection");
    if (this.#dump) throw new PrimaryStateError("this connection already runs a binlog dump; connect again for another");
    const info = this.info;
    const semiSync = start.flavor !== "file" && (this.#options.semiSync ?? false);
    if (semiSync && !info.semiSync.available) throw new PrimaryRefusedError(primaryProblems(info, { semiSync }).filter((p) => p.setting === "rpl_semi_sync"));
    const statements = this.sessionStatements(start, semiSync);
    const serverId = this.#options.serverId;
    try {
      for (const sql of statements) await this.#setTolerant(sql);
      const register = new SingleReplyCommand(
        encodeRegisterSlave({
          serverId,
          reportHost: this.#options.reportHost ?? "",
          reportUser: "",
          reportPassword: "",
          reportPort: this.#options.reportPort ?? 0,
        }),
        "COM_REGISTER_SLAVE",
      );
      this.#raw.addCommand(register);
      await register.done;
    } catch (error) {
      // Half-set session variables make the connection useless for another try: connect again.
      await this.close();
      throw error;
    }

    const annotate = info.flavor === "mariadb" ? BinlogDumpFlag.MARIADB_SEND_ANNOTATE_ROWS : 0;
    const request =
      start.flavor === "file"
        ? encodeBinlogDump({ position: start.offset, flags: annotate | BinlogDumpFlag.NON_BLOCK, serverId, fileName: start.file })
        : start.flavor === "mariadb"
          ? encodeBinlogDump({ position: 4, flags: BinlogDumpFlag.MARIADB_SEND_ANNOTATE_ROWS, serverId, fileName: "" })
          : encodeBinlogDumpGtid({ flags: 0, serverId, fileName: "", position: 4n, executed: start.executed });
    const stream = new BinlogDumpStream(this.#transport(), {
      semiSync,
      heartbeatPeriodMs: this.#options.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_MS,
      startTimeoutMs: this.#options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      highWaterBytes: this.#options.highWaterBytes ?? DEFAULT_HIGH_WATER_BYTES,
    });
    this.#dump = stream;
    this.#raw.addCommand(new BinlogDumpCommand(request, stream, semiSync, start.flavor === "file"));
    return stream;
  }

  #transport(): DumpTransport {
    return {
      pause: () => this.#raw.pause(),
      resume: () => this.#raw.resume(),
      write: (bytes) => this.#raw.write(bytes),
      // Not close(): that would close the stream too, and a stream that failed must keep its error
      // for the consumer.
      destroy: () => this.#destroySocket(),
    };
  }

  /**
   * Closes the connection at once (no COM_QUIT: during a dump the primary reads nothing but acks)
   * and ends a running dump's stream. The socket is destroyed rather than ended, so a frozen
   * primary cannot hold it open.
   */
  close(): Promise<void> {
    const closed = this.#destroySocket();
    void this.#dump?.close();
    return closed;
  }

  #destroySocket(): Promise<void> {
    if (!this.#closed) {
      const socket = this.#raw.stream;
      this.#closed = socket.destroyed || socket.closed ? Promise.resolve() : new Promise<void>((resolve) => socket.once("close", () => resolve()));
      socket.destroy();
    }
    return this.#closed;
  }
}
