/**
 * What the committed log holds, kept by applying committed entries in order on every node: the
 * executed GTIDs, where the stored stream stands in the primary's files, the syncer's
 * configuration in force, and counters. Pure: no I/O. The syncer resumes from it after any leader
 * change; the binlog server and the statuses read it.
 *
 * Fragments count only once their last part applies. A run of fragments not finished before a
 * new first fragment or a batch (the leader changed while the transaction was being stored) is
 * abandoned: its transaction was fetched again from the start.
 */
import type { Entry } from "../raft/types.ts";
import { EntryType } from "../raft/types.ts";
import type { GtidKey } from "../storage/binlog-index.ts";
import { MariadbGtidState, formatMariadbGtid } from "../binlog/gtid-mariadb.ts";
import { MysqlGtidSet, formatMysqlGtid } from "../binlog/gtid-mysql.ts";
import type { Flavor } from "../binlog/format.ts";
import { EVENT_HEADER_LENGTH, readEventHeader } from "../binlog/header.ts";
import { EventType } from "../binlog/event-type.ts";
import { decodeEntry, isLogEntry, type BatchItem, type EntryPayload, type FragmentPayload } from "./format.ts";

/** The control record that configures the syncer; the newest committed one is in force. */
export interface SyncerRecord {
  readonly type: "syncer";
  /** False after a stop: later leaders leave the syncer stopped. */
  readonly running: boolean;
  readonly config: Readonly<Record<string, unknown>>;
}

export function isSyncerRecord(r: unknown): r is SyncerRecord {
  return typeof r === "object" && r !== null && (r as { type?: unknown }).type === "syncer" && typeof (r as { running?: unknown }).running === "boolean" && typeof (r as { config?: unknown }).config === "object";
}

/** Where the stored stream stands: the primary's file and the end of the last stored event in it. */
export interface StreamPosition {
  readonly file: string;
  readonly pos: number;
}

export class BinlogState {
  flavor: Flavor | undefined;
  /** MariaDB: the last GTID per domain and server. */
  readonly mariadb: MariadbGtidState;
  /** MySQL: every GTID stored (or purged before the retained log). */
  mysql: MysqlGtidSet;
  position: StreamPosition | undefined;
  /**
   * server_id in the header of the last stored FORMAT_DESCRIPTION event: which server wrote the
   * files the position refers to. A primary with another id (a re-point) has files of its own.
   */
  writerServerId: number | undefined;
  /** The last stored transaction's GTID, as text ("" before any). */
  lastGtid = "";
  /** Header timestamp of the last stored transaction's first event (seconds since 1970). */
  lastTimestamp = 0;
  syncer: SyncerRecord | undefined;
  transactions = 0;
  events = 0;
  bytes = 0;
  abandonedFragments = 0;
  appliedIndex = 0;
  /** Parts of a fragmented transaction applied so far. */
  private fragmentParts = 0;

  /** Starts from what the store already forgot (its purged GTIDs): those count as executed. */
  constructor(purged: { mysql: MysqlGtidSet; mariadb: MariadbGtidState } = { mysql: MysqlGtidSet.empty(), mariadb: MariadbGtidState.empty() }) {
    this.mysql = purged.mysql;
    this.mariadb = purged.mariadb.clone();
    if (!purged.mysql.isEmpty()) this.flavor = "mysql";
    else if (!purged.mariadb.isEmpty()) this.flavor = "mariadb";
  }

  /** Text of the executed GTIDs in the flavour's own form ("" when nothing is stored). */
  executedText(): string {
    if (this.flavor === "mysql") return this.mysql.toString();
    if (this.flavor === "mariadb") return this.mariadb.position().toString();
    return "";
  }

  /** Whether a transaction with this GTID is already stored (so a resumed dump must not store it again). */
  hasGtid(g: GtidKey): boolean {
    if (g.flavor === "mariadb") {
      const last = this.mariadb.last(g.domain);
      return last !== undefined && last.seq >= g.seq;
    }
    return this.mysql.containsGtid(g);
  }

  /**
   * Applies one entry; returns its control record, if it holds one (for records the state does not
   * keep). `decoded`: its payload when the caller already decoded it.
   */
  apply(entry: Entry, decoded?: EntryPayload): unknown {
    this.appliedIndex = entry.index;
    if (entry.type !== EntryType.Normal || !isLogEntry(entry.data)) return undefined;
    const payload = decoded ?? decodeEntry(entry.data);
    if (payload.kind === "control") {
      if (isSyncerRecord(payload.record)) this.syncer = payload.record;
      return payload.record;
    }
    if (payload.kind === "batch") {
      this.abandonFragments();
      for (const item of payload.items) this.applyItem(item);
      return undefined;
    }
    this.applyFragment(payload);
    return undefined;
  }

  private applyItem(item: BatchItem): void {
    this.position = { file: item.file, pos: item.endPos };
    if (item.kind === "event") {
      if (item.event.length >= EVENT_HEADER_LENGTH && item.event[4] === EventType.FORMAT_DESCRIPTION) this.writerServerId = readEventHeader(item.event).serverId;
      this.events++;
      this.bytes += item.event.length;
      return;
    }
    this.bytes += item.events.length;
    this.recordTransaction(item.gtid, item.timestamp);
  }

  private applyFragment(f: FragmentPayload): void {
    if (f.first) this.abandonFragments();
    else if (f.part !== this.fragmentParts) {
      // A continuation of a run we did not see begin (or out of order): not a transaction.
      this.abandonFragments();
      return;
    }
    this.fragmentParts++;
    this.bytes += f.bytes.length;
    if (!f.last) return;
    this.fragmentParts = 0;
    this.position = { file: f.file, pos: f.endPos };
    this.recordTransaction(f.gtid, f.timestamp);
  }

  private abandonFragments(): void {
    if (this.fragmentParts > 0) this.abandonedFragments++;
    this.fragmentParts = 0;
  }

  private recordTransaction(gtid: GtidKey | undefined, timestamp: number): void {
    this.transactions++;
    this.lastTimestamp = timestamp;
    if (gtid === undefined) return;
    this.flavor ??= gtid.flavor;
    if (gtid.flavor === "mariadb") {
      this.mariadb.record(gtid, { strict: false });
      this.lastGtid = formatMariadbGtid(gtid);
    } else {
      this.mysql = this.mysql.add(gtid);
      this.lastGtid = formatMysqlGtid(gtid);
    }
  }
}
