/**
 * Where dump sessions read the binlog from. A feed holds the primary's binlog as it was stored:
 * files in order, each a sequence of the primary's events (FORMAT_DESCRIPTION first, then
 * PREVIOUS_GTIDS or GTID_LIST, the transactions, and the primary's ROTATE at the end of a closed
 * file), with the file names and offsets the primary gave them.
 *
 * The dump session does everything a primary does on top (fake rotates, heartbeats, skipping what
 * the replica has, fake GTID lists): a feed only stores and streams. Two implementations are
 * planned: FileBinlogFeed (file-feed.ts) over binlog files on disk, and the Raft log store, whose
 * committed entries carry whole transactions with their file names and end positions. The
 * interface is shaped for the second: reading is an async iterator of committed events that
 * reports when it has caught up with what is committed and then waits for more, until the
 * caller's AbortSignal fires (the connection closed).
 */
import { KingbusError } from "../../errors.ts";
import type { MariadbGtid, MariadbGtidState } from "../../binlog/gtid-mariadb.ts";
import type { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";

export type BinlogFlavor = "mysql" | "mariadb";

/** What the events' checksum algorithm is, as @@global.binlog_checksum shows it. */
export type BinlogChecksumName = "CRC32" | "NONE";

export interface FeedFile {
  /** The primary's file name, without directory (e.g. "mariadb-bin.000002"). */
  readonly name: string;
  /** Bytes of the file stored so far: the offset where its next event would start. */
  readonly size: number;
  /** MySQL: the PREVIOUS_GTIDS set the file starts with (undefined when it has none). */
  readonly previousGtids?: MysqlGtidSet;
  /** MariaDB: the GTID_LIST the file starts with (undefined when it has none), in written order. */
  readonly gtidList?: readonly MariadbGtid[];
}

export type FeedGtidState =
  | {
      readonly flavor: "mysql";
      /** Every GTID stored, purged ones included (@@gtid_executed). */
      readonly executed: MysqlGtidSet;
      /** GTIDs no longer stored (@@gtid_purged). */
      readonly purged: MysqlGtidSet;
    }
  | {
      readonly flavor: "mariadb";
      /** The last GTID per (domain, server) stored (@@gtid_binlog_state; its position is @@gtid_binlog_pos). */
      readonly binlogState: MariadbGtidState;
    };

/** One stored event. */
export interface FeedEvent {
  readonly kind: "event";
  /** The file it is in. */
  readonly file: string;
  /** Offset of its first byte in that file; offset + bytes.length is its end. */
  readonly offset: number;
  /** The whole event as the primary wrote it: header, body, checksum. */
  readonly bytes: Buffer;
  /**
   * The bytes are a view of a buffer the feed reads into again once the next item is asked for
   * (else they stay as they are for as long as anyone holds them, and may be sent by reference).
   */
  readonly transient?: boolean;
}

/**
 * The stream has handed out everything stored (committed) so far, up to `position` in `file`;
 * the next item comes when more is stored. A non-blocking dump ends here. It comes only between
 * transactions (a feed serves whole transactions), as a primary's binlog end position does.
 */
export interface FeedCaughtUp {
  readonly kind: "caughtUp";
  readonly file: string;
  readonly position: number;
}

/** Consecutive events of one file (a whole stored transaction, say), handed out at once. */
export interface FeedEvents {
  readonly kind: "events";
  readonly events: readonly FeedEvent[];
}

export type FeedItem = FeedEvent | FeedEvents | FeedCaughtUp;

export interface FeedPosition {
  readonly file: string;
  /** 4 (just past the magic) for the start of the file, or the offset of an event. */
  readonly position: number;
  /**
   * A position `seekStart` returned for this file (with `position` 4): the file's events before
   * its first transaction, then its events outside transactions (checkpoints, ROTATE) up to
   * `seekTo`, then everything from `seekTo` on. The transactions left out are ones the dump skips.
   */
  readonly seekTo?: number;
}

/** What a GTID dump skips in a file: the replica's GTIDs. */
export type FeedSeek =
  | {
      readonly flavor: "mysql";
      readonly file: string;
      /** The replica's executed GTIDs: every transaction in them is skipped. */
      readonly replica: MysqlGtidSet;
    }
  | {
      readonly flavor: "mariadb";
      readonly file: string;
      /**
       * Per domain, the replica's GTID in the domains it has not reached in this file yet: groups
       * of the domain up to that GTID are skipped, the group holding it included.
       */
      readonly replica: ReadonlyMap<number, MariadbGtid>;
    };

export interface BinlogFeed {
  readonly flavor: BinlogFlavor;
  /** The checksum algorithm of the newest file's events. */
  binlogChecksum(): BinlogChecksumName;
  /** The GTID state of what is stored; its flavour is the feed's. */
  gtidState(): Promise<FeedGtidState>;
  /** The stored files, oldest first; the last one is the one being written. */
  files(): Promise<readonly FeedFile[]>;
  /**
   * The stored events from `from` on, through every later file, in stored order, one by one or
   * several at once (`events`: consecutive events of one file). The first event
   * is always the start file's FORMAT_DESCRIPTION event (offset 4), even when `from.position` is
   * past it; then the events from `from.position` on. Each later file starts with its own
   * FORMAT_DESCRIPTION event. After the last stored event comes a `caughtUp` item; the iterator
   * then waits for more until `signal` aborts, and ends quietly when it does.
   *
   * Throws FeedError FEED_UNKNOWN_FILE for a file it does not hold, FEED_BAD_POSITION for a
   * position that is not the start of an event (or past the end), FEED_DAMAGED for stored bytes
   * that do not read as events.
   *
   * Events marked `transient` are views of a buffer the feed reads into again once the consumer
   * asks for the next item: a consumer copies what it keeps longer (PacketSocket.writeParts does).
   */
  read(from: FeedPosition, signal: AbortSignal): AsyncIterable<FeedItem>;
  /**
   * Optional: where in `seek.file` a GTID dump may begin instead of reading the file from its
   * start, found through the feed's indexes: a position such that every transaction of the file
   * before it is one the dump would skip, or undefined to read the whole file.
   */
  seekStart?(seek: FeedSeek): Promise<number | undefined>;
  /**
   * Optional: resolves true once the feed holds everything committed when it was called (a
   * replica that holds transactions the feed lacks may have come from a server further ahead),
   * false when that does not happen in a reasonable time or the signal aborts.
   */
  settle?(signal: AbortSignal): Promise<boolean>;
}

export type FeedErrorCode = "FEED_UNKNOWN_FILE" | "FEED_BAD_POSITION" | "FEED_DAMAGED" | "FEED_UNAVAILABLE";

export class FeedError extends KingbusError {
  declare readonly code: FeedErrorCode;

  constructor(code: FeedErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { cause: options?.cause });
  }
}
