/**
 * Numbers of the MySQL client/server protocol: capability flags, commands, status flags, column
 * types and the character sets we announce. Names follow include/mysql_com.h and the MariaDB
 * equivalents, so a reader can look them up there.
 */

/** Capability flags (CLIENT_*), exchanged in the handshake. */
export const Capability = {
  LONG_PASSWORD: 0x0000_0001,
  FOUND_ROWS: 0x0000_0002,
  LONG_FLAG: 0x0000_0004,
  CONNECT_WITH_DB: 0x0000_0008,
  NO_SCHEMA: 0x0000_0010,
  COMPRESS: 0x0000_0020,
  ODBC: 0x0000_0040,
  LOCAL_FILES: 0x0000_0080,
  IGNORE_SPACE: 0x0000_0100,
  PROTOCOL_41: 0x0000_0200,
  INTERACTIVE: 0x0000_0400,
  SSL: 0x0000_0800,
  IGNORE_SIGPIPE: 0x0000_1000,
  TRANSACTIONS: 0x0000_2000,
  RESERVED: 0x0000_4000,
  SECURE_CONNECTION: 0x0000_8000,
  MULTI_STATEMENTS: 0x0001_0000,
  MULTI_RESULTS: 0x0002_0000,
  PS_MULTI_RESULTS: 0x0004_0000,
  PLUGIN_AUTH: 0x0008_0000,
  CONNECT_ATTRS: 0x0010_0000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x0020_0000,
  CAN_HANDLE_EXPIRED_PASSWORDS: 0x0040_0000,
  SESSION_TRACK: 0x0080_0000,
  DEPRECATE_EOF: 0x0100_0000,
} as const;

/**
 * What this server announces. No SSL (not offered yet), no compression, no multi-statements (a
 * query is one statement), no session tracking. DEPRECATE_EOF is offered: clients that take it get
 * an OK packet (0xFE header) instead of EOF packets in result sets.
 */
export const SERVER_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.FOUND_ROWS |
  Capability.LONG_FLAG |
  Capability.CONNECT_WITH_DB |
  Capability.IGNORE_SPACE |
  Capability.PROTOCOL_41 |
  Capability.INTERACTIVE |
  Capability.IGNORE_SIGPIPE |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.CONNECT_ATTRS |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.DEPRECATE_EOF;

/** Command bytes (COM_*): the first byte of every packet a client sends in the command phase. */
export const Command = {
  SLEEP: 0x00,
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  STATISTICS: 0x09,
  PING: 0x0e,
  BINLOG_DUMP: 0x12,
  REGISTER_SLAVE: 0x15,
  SET_OPTION: 0x1b,
  RESET_CONNECTION: 0x1f,
  BINLOG_DUMP_GTID: 0x1e,
} as const;

/** Server status flags (SERVER_STATUS_*) carried by OK and EOF packets. */
export const ServerStatus = {
  IN_TRANS: 0x0001,
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
} as const;

/** Column types (enum_field_types) used in result sets. */
export const ColumnType = {
  LONGLONG: 0x08,
  DOUBLE: 0x05,
  VAR_STRING: 0xfd,
  NULL: 0x06,
} as const;

/** Column definition flags. */
export const ColumnFlag = {
  NOT_NULL: 0x0001,
  BINARY: 0x0080,
  UNSIGNED: 0x0020,
  NUM: 0x8000,
} as const;

/** Collation ids. */
export const Collation = {
  BINARY: 63,
  LATIN1_SWEDISH_CI: 8,
  UTF8MB4_GENERAL_CI: 45,
  UTF8MB4_0900_AI_CI: 255,
} as const;

/** The authentication method of MariaDB and of MySQL before 8.0. */
export const NATIVE_PASSWORD_PLUGIN = "mysql_native_password";
/** MySQL 8's default authentication method (the only one MySQL 8.4+ replicas use out of the box). */
export const CACHING_SHA2_PLUGIN = "caching_sha2_password";

/** The largest payload of one packet; longer payloads continue in the next packet. */
export const MAX_PACKET_PAYLOAD = 0xff_ffff;

/** First byte of the packets that are not result rows. */
export const PacketHeader = {
  OK: 0x00,
  EOF: 0xfe,
  AUTH_SWITCH: 0xfe,
  ERR: 0xff,
  LOCAL_INFILE: 0xfb,
  NULL_VALUE: 0xfb,
} as const;
