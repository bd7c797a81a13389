/**
 * Transaction boundaries in an event stream, for both flavours. Fed events one at a time, the
 * parser says where each transaction (event group) starts and ends and flags one cut short (a new
 * group began, or the input ended, before it was complete). It is pure: the syncer uses it to
 * propose only whole transactions, `inspect` to count them.
 *
 * A group is:
 *  - MySQL:   GTID | ANONYMOUS_GTID | GTID_TAGGED, then BEGIN ... XID | COMMIT | ROLLBACK,
 *             or XA START ... XA END + XA_PREPARE, or one statement (DDL, XA COMMIT), or one
 *             TRANSACTION_PAYLOAD (compressed, its XID inside);
 *  - MariaDB: GTID (which stands for BEGIN) ... XID | COMMIT | XA_PREPARE | XA COMMIT/ROLLBACK,
 *             or, with FL_STANDALONE, one statement;
 *  - no GTIDs (MySQL 5.5 and older): BEGIN ... XID | COMMIT, or one statement.
 * INTVAR, RAND and USER_VAR belong to the statement after them. FDE, ROTATE, STOP, heartbeats,
 * PREVIOUS_GTIDS, GTID_LIST and BINLOG_CHECKPOINT sit between groups and belong to none.
 */
import type { BinlogEvent } from "./codec.ts";
import { EventType } from "./event-type.ts";
import { MariadbGtidFlag } from "./events/mariadb.ts";
import { queryKeyword } from "./events/query.ts";
import { formatMysqlGtid } from "./gtid-mysql.ts";
import { formatMariadbGtid } from "./gtid-mariadb.ts";
import { decodeTaggedGtidBody } from "./gtid-tagged-event.ts";

export type TransactionGtid =
  | { flavor: "mysql"; uuid: string; tag?: string; gno: bigint; anonymous: boolean }
  | { flavor: "mariadb"; domain: number; serverId: number; seq: bigint };

export type TransactionKind =
  /** BEGIN ... XID or COMMIT. */
  | "transaction"
  /** One statement on its own (DDL, a non-transactional write, XA COMMIT/ROLLBACK). */
  | "standalone"
  /** XA START ... XA END, XA_PREPARE: the prepared half of an XA transaction. */
  | "xa-prepare"
  /** A TRANSACTION_PAYLOAD event: the whole transaction compressed. */
  | "compressed"
  /** An INCIDENT event: the primary lost track of changes; replicas stop on it. */
  | "incident";

export interface Transaction {
  /** Offset of the group's first event (its GTID event when it has one). */
  startOffset: number;
  /** Offset just past the group's last event. */
  endOffset: number;
  /** Index (in the order pushed) of the first event, and how many events the group holds. */
  firstEvent: number;
  eventCount: number;
  gtid: TransactionGtid | undefined;
  kind: TransactionKind;
  complete: boolean;
  /** Why the group is incomplete. */
  cutShort?: string;
}

export interface PositionedEvent {
  offset: number;
  size: number;
  event: BinlogEvent;
}

type Boundary = "gtid" | "begin" | "end" | "statement" | "pre-statement" | "payload" | "incident" | "xa-prepare" | "outside";

function boundaryOf(e: BinlogEvent): Boundary {
  const { header, body } = e;
  switch (header.type) {
    case EventType.GTID:
    case EventType.ANONYMOUS_GTID:
    case EventType.GTID_TAGGED:
    case EventType.MARIADB_GTID:
      return "gtid";
    case EventType.QUERY: {
      if (body.kind !== "query") return "statement";
      const sql = body.sql;
      const keyword = queryKeyword(sql);
      if (keyword === "BEGIN") return "begin";
      if (keyword === "COMMIT") return "end";
      if (keyword === "ROLLBACK") return /^\s*ROLLBACK\s*$/i.test(sql.subarray(0, 32).toString("latin1")) ? "end" : "statement";
      if (keyword === "XA" && /^\s*XA\s+(START|BEGIN)\b/i.test(sql.subarray(0, 32).toString("latin1"))) return "begin";
      return "statement";
    }
    case EventType.XID:
      return "end";
    case EventType.XA_PREPARE:
      return "xa-prepare";
    case EventType.INTVAR:
    case EventType.RAND:
    case EventType.USER_VAR:
      return "pre-statement";
    case EventType.TRANSACTION_PAYLOAD:
      return "payload";
    case EventType.INCIDENT:
      return "incident";
    case EventType.FORMAT_DESCRIPTION:
    case EventType.ROTATE:
    case EventType.STOP:
    case EventType.START_V3:
    case EventType.HEARTBEAT:
    case EventType.HEARTBEAT_V2:
    case EventType.PREVIOUS_GTIDS:
    case EventType.MARIADB_GTID_LIST:
    case EventType.MARIADB_BINLOG_CHECKPOINT:
    case EventType.MARIADB_START_ENCRYPTION:
      return "outside";
    default:
      return "statement";
  }
}

/** The GTID a GTID event carries; a tagged GTID event that cannot be decoded throws GtidParseError. */
export function gtidOfEvent(e: BinlogEvent): TransactionGtid | undefined {
  const b = e.body;
  if (b.kind === "mysqlGtid") return { flavor: "mysql", uuid: b.uuid, gno: b.gno, anonymous: b.anonymous };
  if (b.kind === "mariadbGtid") return { flavor: "mariadb", domain: b.domain, serverId: e.header.serverId, seq: b.seq };
  if (b.kind === "taggedGtid") {
    const t = decodeTaggedGtidBody(b.encoded);
    return { flavor: "mysql", uuid: t.uuid, gno: t.gno, anonymous: false, ...(t.tag ? { tag: t.tag } : {}) };
  }
  return undefined;
}

/** `uuid:gno`, `uuid:tag:gno` or `domain-server-seq`; anonymous MySQL GTIDs have no text. */
export function formatTransactionGtid(g: TransactionGtid): string | undefined {
  if (g.flavor === "mariadb") return formatMariadbGtid(g);
  return g.anonymous ? undefined : formatMysqlGtid(g);
}

interface OpenGroup {
  startOffset: number;
  endOffset: number;
  firstEvent: number;
  eventCount: number;
  gtid: TransactionGtid | undefined;
  /** After the GTID: BEGIN (or a MariaDB non-standalone GTID) has opened a multi-event body. */
  inBody: boolean;
  /** MariaDB FL_STANDALONE or MySQL GTID not yet followed by BEGIN: the next statement ends it. */
  expectsStatement: boolean;
  mariadbFlags: number;
  xa: boolean;
}

export class TransactionBoundaryParser {
  private open: OpenGroup | undefined;
  private index = 0;

  /** Whether a group has begun and not ended. */
  get inTransaction(): boolean {
    return this.open !== undefined;
  }

  /** Feeds one event; returns the groups it completed or cut short (zero, one or two). */
  push(p: PositionedEvent): Transaction[] {
    const done: Transaction[] = [];
    const index = this.index++;
    const kind = boundaryOf(p.event);
    if (kind === "outside") return done;

    const g = this.open;
    switch (kind) {
      case "gtid": {
        if (g) done.push(this.cut(`a GTID event at byte ${p.offset} began the next transaction first`));
        const gtid = gtidOfEvent(p.event);
        const flags = p.event.body.kind === "mariadbGtid" ? p.event.body.flags2 : 0;
        const mariadb = p.event.header.type === EventType.MARIADB_GTID;
        const standalone = mariadb && (flags & MariadbGtidFlag.STANDALONE) !== 0;
        this.open = {
          startOffset: p.offset,
          endOffset: p.offset + p.size,
          firstEvent: index,
          eventCount: 1,
          gtid,
          inBody: mariadb && !standalone,
          expectsStatement: !mariadb || standalone,
          mariadbFlags: flags,
          xa: (flags & MariadbGtidFlag.PREPARED_XA) !== 0,
        };
        return done;
      }
      case "begin": {
        // A MariaDB GTID already stands for BEGIN; a BEGIN right after it is part of the same group.
        if (g && g.inBody && !(g.gtid?.flavor === "mariadb" && g.eventCount === 1)) {
          done.push(this.cut(`a BEGIN at byte ${p.offset} began the next transaction first`));
        }
        const current = this.continueOrStart(p, index);
        current.inBody = true;
        current.expectsStatement = false;
        current.xa ||= p.event.body.kind === "query" && queryKeyword(p.event.body.sql) === "XA";
        return done;
      }
      case "pre-statement": {
        const current = this.continueOrStart(p, index);
        if (!current.inBody) current.expectsStatement = true;
        return done;
      }
      case "statement": {
        const current = this.open;
        if (!current) {
          done.push(this.finishGroup(this.start(p, index, undefined), "standalone"));
          return done;
        }
        this.extend(current, p);
        if (current.inBody && current.mariadbFlags & MariadbGtidFlag.COMPLETED_XA && isXaEnd(p.event)) {
          done.push(this.finishGroup(current, "standalone"));
        } else if (!current.inBody && current.expectsStatement && isStatementEnd(p.event)) {
          done.push(this.finishGroup(current, "standalone"));
        }
        return done;
      }
      case "end": {
        if (!g) {
          // A commit with nothing open: the start was before our input. Report it, cut short.
          const orphan = this.start(p, index, undefined);
          done.push({ ...this.toTransaction(orphan, "transaction"), complete: false, cutShort: "its start was not in the input" });
          this.open = undefined;
          return done;
        }
        this.extend(g, p);
        done.push(this.finishGroup(g, "transaction"));
        return done;
      }
      case "xa-prepare": {
        const current = g ?? this.start(p, index, undefined);
        if (current === g) this.extend(current, p);
        done.push(this.finishGroup(current, "xa-prepare"));
        return done;
      }
      case "payload": {
        const current = g ?? this.start(p, index, undefined);
        if (current === g) this.extend(current, p);
        done.push(this.finishGroup(current, "compressed"));
        return done;
      }
      case "incident": {
        if (g) done.push(this.cut(`an INCIDENT event at byte ${p.offset} interrupted it`));
        done.push(this.finishGroup(this.start(p, index, undefined), "incident"));
        return done;
      }
    }
  }

  /** Called at the end of the input: an open group is returned cut short. */
  finish(reason = "the input ended inside it"): Transaction | undefined {
    return this.open ? this.cut(reason) : undefined;
  }

  private start(p: PositionedEvent, index: number, gtid: TransactionGtid | undefined): OpenGroup {
    return {
      startOffset: p.offset,
      endOffset: p.offset + p.size,
      firstEvent: index,
      eventCount: 1,
      gtid,
      inBody: false,
      expectsStatement: false,
      mariadbFlags: 0,
      xa: false,
    };
  }

  /** Adds the event to the open group, or opens a group with it. */
  private continueOrStart(p: PositionedEvent, index: number): OpenGroup {
    if (this.open) {
      this.extend(this.open, p);
      return this.open;
    }
    return (this.open = this.start(p, index, undefined));
  }

  private extend(g: OpenGroup, p: PositionedEvent): void {
    g.endOffset = p.offset + p.size;
    g.eventCount++;
  }

  private toTransaction(g: OpenGroup, kind: TransactionKind): Transaction {
    return {
      startOffset: g.startOffset,
      endOffset: g.endOffset,
      firstEvent: g.firstEvent,
      eventCount: g.eventCount,
      gtid: g.gtid,
      kind,
      complete: true,
    };
  }

  private finishGroup(g: OpenGroup, kind: TransactionKind): Transaction {
    this.open = undefined;
    return this.toTransaction(g, kind);
  }

  private cut(reason: string): Transaction {
    const g = this.open!;
    this.open = undefined;
    return { ...this.toTransaction(g, g.inBody ? (g.xa ? "xa-prepare" : "transaction") : "standalone"), complete: false, cutShort: reason };
  }
}

/** Statements that end a group opened by a GTID without BEGIN (everything but a stray SAVEPOINT). */
function isStatementEnd(e: BinlogEvent): boolean {
  return e.header.type === EventType.QUERY || e.header.type === EventType.MARIADB_QUERY_COMPRESSED || e.header.type === EventType.EXECUTE_LOAD_QUERY;
}

function isXaEnd(e: BinlogEvent): boolean {
  return e.body.kind === "query" && /^\s*XA\s+(COMMIT|ROLLBACK)\b/i.test(e.body.sql.subarray(0, 32).toString("latin1"));
}
