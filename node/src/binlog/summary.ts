/**
 * What a whole binlog file holds: counts per event type, its transactions, and its GTIDs in the
 * flavour's set form. Built event by event, so it never holds the file.
 */
import { eventTypeName } from "./event-type.ts";
import type { ReadEvent } from "./reader.ts";
import { TransactionBoundaryParser, formatTransactionGtid, type Transaction } from "./transactions.ts";
import { MysqlGtidSet } from "./gtid-mysql.ts";
import { MariadbGtidState, MariadbGtidPosition, formatMariadbGtidList } from "./gtid-mariadb.ts";
import { decodeTaggedGtidBody, taggedGtidOf } from "./gtid-tagged-event.ts";
import type { JsonValue } from "./describe.ts";

export class BinlogSummary {
  events = 0;
  bytes = 4;
  serverVersion = "";
  flavor = "";
  readonly countsByType = new Map<string, number>();
  readonly transactions: Transaction[] = [];
  private readonly parser = new TransactionBoundaryParser();
  private previousGtids = MysqlGtidSet.empty();
  private mysqlGtids = MysqlGtidSet.empty();
  private anonymousTransactions = 0;
  private gtidListAtStart: string | undefined;
  private readonly mariadbState = MariadbGtidState.empty();
  private mariadbStartPosition = MariadbGtidPosition.empty();

  add(r: ReadEvent): void {
    this.events++;
    this.bytes = r.offset + r.bytes.length;
    const name = eventTypeName(r.event.header.type);
    this.countsByType.set(name, (this.countsByType.get(name) ?? 0) + 1);
    const body = r.event.body;
    if (body.kind === "formatDescription" && !this.serverVersion) {
      this.serverVersion = body.serverVersion;
      this.flavor = r.format.flavor === "mariadb" || /mariadb/i.test(body.serverVersion) ? "mariadb" : "mysql";
    } else if (body.kind === "previousGtids") {
      this.previousGtids = this.previousGtids.union(MysqlGtidSet.decode(body.encodedSet));
    } else if (body.kind === "mysqlGtid") {
      if (body.anonymous) this.anonymousTransactions++;
      else this.mysqlGtids = this.mysqlGtids.add({ uuid: body.uuid, gno: body.gno });
    } else if (body.kind === "taggedGtid") {
      this.mysqlGtids = this.mysqlGtids.add(taggedGtidOf(decodeTaggedGtidBody(body.encoded)));
    } else if (body.kind === "mariadbGtidList" && this.gtidListAtStart === undefined) {
      this.gtidListAtStart = formatMariadbGtidList(body.list);
      for (const e of body.list) this.mariadbStartPosition = this.mariadbStartPosition.with(e);
    } else if (body.kind === "mariadbGtid") {
      this.mariadbState.record({ domain: body.domain, serverId: r.event.header.serverId, seq: body.seq }, { strict: false });
    }
    this.transactions.push(...this.parser.push({ offset: r.offset, size: r.bytes.length, event: r.event }));
  }

  /** Ends the file: a transaction still open is reported cut short. */
  finish(): void {
    const cut = this.parser.finish();
    if (cut) this.transactions.push(cut);
  }

  toJSON(): { [key: string]: JsonValue } {
    const byKind: { [kind: string]: number } = {};
    for (const t of this.transactions) byKind[t.kind] = (byKind[t.kind] ?? 0) + 1;
    const cut = this.transactions.filter((t) => !t.complete);
    const out: { [key: string]: JsonValue } = {
      serverVersion: this.serverVersion,
      flavor: this.flavor,
      events: this.events,
      bytes: this.bytes,
      countsByType: Object.fromEntries(this.countsByType),
      transactions: {
        total: this.transactions.length,
        complete: this.transactions.length - cut.length,
        cutShort: cut.map((t) => ({ startOffset: t.startOffset, endOffset: t.endOffset, gtid: t.gtid ? (formatTransactionGtid(t.gtid) ?? null) : null, reason: t.cutShort ?? "" })),
        byKind,
      },
    };
    if (this.flavor === "mariadb") {
      out.gtidListAtStart = this.gtidListAtStart ?? "";
      out.gtidSet = this.mariadbState.toString();
      let position = this.mariadbStartPosition;
      for (const g of this.mariadbState.position().gtids()) position = position.with(g);
      out.gtidBinlogPos = position.toString();
    } else {
      out.previousGtids = this.previousGtids.toString();
      out.gtidSet = this.mysqlGtids.toString();
      out.executedGtidSet = this.previousGtids.union(this.mysqlGtids).toString();
      out.anonymousTransactions = this.anonymousTransactions;
    }
    return out;
  }
}
