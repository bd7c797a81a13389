/**
 * The primary-role server: what the rest of kingbus uses to serve the binlog to replicas.
 */
export { BinlogServer, BinlogServerError, type ConnectionInfo } from "./binlog-server.ts";
export { resolveServerConfig, ServerConfigError, type BinlogServerConfig, type ResolvedServerConfig, type ServerLogger } from "./config.ts";
export {
  FeedError,
  type BinlogChecksumName,
  type BinlogFeed,
  type BinlogFlavor,
  type FeedCaughtUp,
  type FeedErrorCode,
  type FeedEvent,
  type FeedFile,
  type FeedGtidState,
  type FeedItem,
  type FeedPosition,
} from "./feed.ts";
export { FileBinlogFeed, type FileBinlogFeedOptions } from "./file-feed.ts";
export type { RegisteredReplica } from "./connection.ts";
