/**
 * The replica-role connection to a real MySQL or MariaDB primary: connect, inspect, check, dump by
 * GTID, acknowledge (semi-sync). Everything the syncer needs from the wire, nothing of Raft or
 * storage.
 */
export { connectPrimary, PrimaryConnection } from "./connection.ts";
export type { ConnectPrimaryOptions, DumpStart, PrimaryTlsOptions } from "./connection.ts";
export { checkPrimary, inspectPrimary, primaryProblems } from "./inspect.ts";
export type { CheckPrimaryOptions, MariadbPrimaryInfo, MysqlPrimaryInfo, PrimaryInfo } from "./inspect.ts";
export { BinlogDumpStream } from "./dump-stream.ts";
export type { DumpedEvent } from "./dump-stream.ts";
export { DumpCoordinates, isArtificialEvent, isHeartbeatEvent } from "./events.ts";
export * from "./errors.ts";
