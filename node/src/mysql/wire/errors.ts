/**
 * Errors of the wire layer, and the server error codes this server sends (with their SQL states,
 * as include/mysqld_error.h and sql/share/errmsg-utf8.txt of MySQL and MariaDB have them).
 */
import { KingbusError } from "../../errors.ts";

export type WireErrorCode =
  /** The peer closed the connection, or it was closed locally. */
  | "WIRE_CLOSED"
  /** A packet's sequence id is not the expected one. */
  | "WIRE_OUT_OF_ORDER"
  /** A payload is larger than this side accepts. */
  | "WIRE_TOO_LARGE"
  /** A packet's content does not parse. */
  | "WIRE_MALFORMED"
  /** The peer did not answer in time. */
  | "WIRE_TIMEOUT";

export class WireError extends KingbusError {
  declare readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { cause: options?.cause });
  }
}

/** A server error code with the SQL state MySQL and MariaDB pair it with. */
export interface ServerErrorKind {
  readonly errno: number;
  readonly sqlState: string;
}

export const ServerErrorKind = {
  TOO_MANY_CONNECTIONS: { errno: 1040, sqlState: "08004" },
  HANDSHAKE_ERROR: { errno: 1043, sqlState: "08S01" },
  ACCESS_DENIED: { errno: 1045, sqlState: "28000" },
  SERVER_SHUTDOWN: { errno: 1053, sqlState: "08S01" },
  UNKNOWN_COM: { errno: 1047, sqlState: "08S01" },
  BAD_FIELD_ERROR: { errno: 1054, sqlState: "42S22" },
  PARSE_ERROR: { errno: 1064, sqlState: "42000" },
  NO_SUCH_THREAD: { errno: 1094, sqlState: "HY000" },
  UNKNOWN_ERROR: { errno: 1105, sqlState: "HY000" },
  NET_PACKET_TOO_LARGE: { errno: 1153, sqlState: "08S01" },
  NET_PACKETS_OUT_OF_ORDER: { errno: 1156, sqlState: "08S01" },
  UNKNOWN_SYSTEM_VARIABLE: { errno: 1193, sqlState: "HY000" },
  SPECIFIC_ACCESS_DENIED: { errno: 1227, sqlState: "42000" },
  GLOBAL_VARIABLE: { errno: 1229, sqlState: "HY000" },
  WRONG_VALUE_FOR_VAR: { errno: 1231, sqlState: "42000" },
  NOT_SUPPORTED_YET: { errno: 1235, sqlState: "42000" },
  MASTER_FATAL_ERROR_READING_BINLOG: { errno: 1236, sqlState: "HY000" },
  INCORRECT_GLOBAL_LOCAL_VAR: { errno: 1238, sqlState: "HY000" },
  MALFORMED_PACKET: { errno: 1835, sqlState: "HY000" },
  CONNECTION_KILLED: { errno: 1927, sqlState: "70100" },
} as const satisfies Record<string, ServerErrorKind>;

/**
 * An error to send to the client as an ERR packet. Query handlers throw it; the connection turns
 * it into the packet and carries on with the next command (unless `fatal`, then it closes).
 */
export class SqlError extends KingbusError {
  readonly errno: number;
  readonly sqlState: string;
  /** Close the connection after sending the error. */
  readonly fatal: boolean;

  constructor(kind: ServerErrorKind, message: string, options?: { fatal?: boolean; cause?: unknown }) {
    super(`ER_${kind.errno}`, message, options);
    this.errno = kind.errno;
    this.sqlState = kind.sqlState;
    this.fatal = options?.fatal ?? false;
  }
}
