/**
 * Typed errors of the replica-role connection. Callers (the syncer) switch on `code`; the MySQL
 * error number and the server's own message are kept where the primary sent one, because the
 * operator needs exactly what the primary said (e.g. 1236 "could not find GTID state ...").
 */
import { KingbusError } from "../../errors.ts";

export type PrimaryErrorCode =
  /** TCP/TLS connect failed, timed out, or the server refused the session before auth. */
  | "PRIMARY_CONNECT"
  /** The primary refused our user or password (1045, 1044, 1698, plugin errors). */
  | "PRIMARY_AUTH"
  /** A query the connection runs for inspection or dump set-up failed. */
  | "PRIMARY_QUERY"
  /** The primary is set up in a way kingbus cannot replicate from; the message names the fix. */
  | "PRIMARY_REFUSED"
  /** The primary ended the dump with an error packet (1236 and friends). */
  | "PRIMARY_DUMP_ERROR"
  /** The connection closed (by the primary or the network) while a dump or query was running. */
  | "PRIMARY_DISCONNECTED"
  /** Nothing (no event, no heartbeat) arrived for 2 heartbeat periods. */
  | "PRIMARY_HEARTBEAT_TIMEOUT"
  /** The primary sent something the protocol does not allow here. */
  | "PRIMARY_PROTOCOL"
  /** The API was used out of order: a second dump, an ack without semi-sync, use after close. */
  | "PRIMARY_STATE"
  /** connectPrimary was given options it cannot use (the message names the option). */
  | "PRIMARY_OPTIONS";

export class PrimaryError extends KingbusError {
  declare readonly code: PrimaryErrorCode;
}

/** What the server itself reported, when it sent an error packet. */
export interface ServerErrorDetails {
  /** MySQL error number, e.g. 1045 or 1236. */
  errno: number;
  /** SQLSTATE, e.g. "28000"; empty when the server sent none. */
  sqlState: string;
  /** The server's message, verbatim. */
  serverMessage: string;
}

export class PrimaryConnectError extends PrimaryError {
  readonly errno: number | undefined;

  constructor(message: string, options?: { errno?: number; cause?: unknown }) {
    super("PRIMARY_CONNECT", message, options);
    this.errno = options?.errno;
  }
}

export class PrimaryAuthError extends PrimaryError implements ServerErrorDetails {
  readonly errno: number;
  readonly sqlState: string;
  readonly serverMessage: string;

  constructor(details: ServerErrorDetails, options?: { cause?: unknown }) {
    super("PRIMARY_AUTH", `the primary refused the login (error ${details.errno}): ${details.serverMessage}`, options);
    this.errno = details.errno;
    this.sqlState = details.sqlState;
    this.serverMessage = details.serverMessage;
  }
}

export class PrimaryQueryError extends PrimaryError {
  readonly sql: string;
  readonly errno: number | undefined;
  readonly serverMessage: string | undefined;

  constructor(sql: string, message: string, options?: { errno?: number; serverMessage?: string; cause?: unknown }) {
    super("PRIMARY_QUERY", `${message} (query: ${sql})`, options);
    this.sql = sql;
    this.errno = options?.errno;
    this.serverMessage = options?.serverMessage;
  }
}

/** One thing to change on the primary. */
export interface PrimaryProblem {
  /** The setting, as the server names it: "binlog_format", "log_bin", "gtid_mode", ... */
  setting: string;
  /** What the primary has now. */
  actual: string;
  /** One sentence: what is wrong and what to change, e.g. "binlog_format is STATEMENT: set binlog_format=ROW on the primary". */
  message: string;
}

export class PrimaryRefusedError extends PrimaryError {
  readonly problems: readonly PrimaryProblem[];

  constructor(problems: readonly PrimaryProblem[]) {
    super("PRIMARY_REFUSED", `cannot replicate from this primary: ${problems.map((p) => p.message).join("; ")}`);
    this.problems = problems;
  }
}

/** The primary sent an error packet on the dump (e.g. 1236: GTIDs purged or unknown). */
export class BinlogDumpError extends PrimaryError implements ServerErrorDetails {
  readonly errno: number;
  readonly sqlState: string;
  readonly serverMessage: string;

  constructor(details: ServerErrorDetails) {
    super("PRIMARY_DUMP_ERROR", `the primary ended the binlog dump with error ${details.errno}${details.sqlState ? ` (${details.sqlState})` : ""}: ${details.serverMessage}`);
    this.errno = details.errno;
    this.sqlState = details.sqlState;
    this.serverMessage = details.serverMessage;
  }
}

export class PrimaryDisconnectedError extends PrimaryError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PRIMARY_DISCONNECTED", message, options);
  }
}

export class HeartbeatTimeoutError extends PrimaryError {
  /** How long the link was silent, in milliseconds. */
  readonly silentMs: number;

  constructor(silentMs: number, allowedMs: number) {
    super("PRIMARY_HEARTBEAT_TIMEOUT", `no event or heartbeat from the primary for ${Math.round(silentMs)} ms (allowed ${allowedMs} ms): the link or the primary is stuck`);
    this.silentMs = silentMs;
  }
}

export class PrimaryProtocolError extends PrimaryError {
  constructor(message: string) {
    super("PRIMARY_PROTOCOL", message);
  }
}

export class PrimaryStateError extends PrimaryError {
  constructor(message: string) {
    super("PRIMARY_STATE", message);
  }
}

export class PrimaryOptionsError extends PrimaryError {
  constructor(message: string) {
    super("PRIMARY_OPTIONS", message);
  }
}
