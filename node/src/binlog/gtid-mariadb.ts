/**
 * MariaDB GTIDs (`domain-server-seq`), GTID positions (one GTID per domain, as @@gtid_binlog_pos,
 * @@gtid_slave_pos and @slave_connect_state hold them) and the binlog state (the last GTID per
 * (domain, server), as @@gtid_binlog_state holds it).
 *
 * Facts taken from MariaDB's sql/rpl_gtid.cc:
 * - domain and server id are u32, seq_no is u64 (gtid_parser_helper);
 * - a position string naming a domain twice is refused (ER_DUPLICATE_GTID_DOMAIN, in
 *   slave_connection_state::load);
 * - strict mode refuses a GTID whose seq_no is not above the seq_no of the most recent GTID of its
 *   domain, whatever that GTID's server (ER_GTID_STRICT_OUT_OF_ORDER, 1950, in
 *   rpl_binlog_state::update_nolock); without strict mode it is recorded, even when lower;
 * - gtid_binlog_pos is the most recently recorded GTID of each domain, listed by domain.
 */
import { KingbusError } from "../errors.ts";
import { GtidParseError } from "./gtid-mysql.ts";

export { GtidParseError };

export interface MariadbGtid {
  domain: number;
  serverId: number;
  seq: bigint;
}

export const MAX_U32 = 0xffff_ffff;
export const MAX_SEQ = (1n << 64n) - 1n;

/** A position names one domain twice (MariaDB error 1943, ER_DUPLICATE_GTID_DOMAIN). */
export class GtidDuplicateDomainError extends KingbusError {
  declare readonly code: "GTID_DUPLICATE_DOMAIN";
  readonly first: MariadbGtid;
  readonly second: MariadbGtid;

  constructor(first: MariadbGtid, second: MariadbGtid) {
    super(
      "GTID_DUPLICATE_DOMAIN",
      `GTID ${formatMariadbGtid(second)} and ${formatMariadbGtid(first)} conflict (duplicate domain id ${second.domain})`,
    );
    this.first = first;
    this.second = second;
  }
}

/** Strict mode refused an out-of-order GTID (MariaDB error 1950, ER_GTID_STRICT_OUT_OF_ORDER). */
export class GtidOrderError extends KingbusError {
  declare readonly code: "GTID_OUT_OF_ORDER";
  readonly gtid: MariadbGtid;
  readonly existing: MariadbGtid;

  constructor(gtid: MariadbGtid, existing: MariadbGtid) {
    super(
      "GTID_OUT_OF_ORDER",
      `an attempt was made to binlog GTID ${formatMariadbGtid(gtid)} which would create an out-of-order sequence ` +
        `number with existing GTID ${formatMariadbGtid(existing)}, and gtid strict mode is enabled`,
    );
    this.gtid = gtid;
    this.existing = existing;
  }
}

export function formatMariadbGtid(gtid: MariadbGtid): string {
  return `${gtid.domain}-${gtid.serverId}-${gtid.seq}`;
}

function clip(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function parseUnsigned(digits: string, max: bigint, what: string, gtidText: string): bigint {
  if (!/^[0-9]+$/.test(digits)) {
    throw new GtidParseError(`malformed MariaDB GTID '${clip(gtidText)}': ${what} '${clip(digits)}' is not an unsigned number`);
  }
  const value = digits.length > 25 ? max + 1n : BigInt(digits);
  if (value > max) throw new GtidParseError(`malformed MariaDB GTID '${clip(gtidText)}': ${what} ${digits} is above ${max}`);
  return value;
}

/** `domain-server-seq`, surrounding whitespace allowed. */
export function parseMariadbGtid(text: string): MariadbGtid {
  const trimmed = text.trim();
  const parts = trimmed.split("-");
  if (parts.length !== 3) {
    throw new GtidParseError(`malformed MariaDB GTID '${clip(text)}': expected domain-server-seq (three unsigned numbers)`);
  }
  const [domain, serverId, seq] = parts as [string, string, string];
  return {
    domain: Number(parseUnsigned(domain, BigInt(MAX_U32), "domain id", text)),
    serverId: Number(parseUnsigned(serverId, BigInt(MAX_U32), "server id", text)),
    seq: parseUnsigned(seq, MAX_SEQ, "sequence number", text),
  };
}

/** Throws GtidParseError unless `gtid` holds in-range integers. */
export function checkMariadbGtid(gtid: MariadbGtid): MariadbGtid {
  const { domain, serverId, seq } = gtid;
  if (!Number.isInteger(domain) || domain < 0 || domain > MAX_U32) throw new GtidParseError(`domain id ${domain} is not a u32`);
  if (!Number.isInteger(serverId) || serverId < 0 || serverId > MAX_U32) {
    throw new GtidParseError(`server id ${serverId} is not a u32`);
  }
  if (typeof seq !== "bigint" || seq < 0n || seq > MAX_SEQ) throw new GtidParseError(`sequence number ${seq} is not a u64`);
  return gtid;
}

/**
 * A comma-separated list (`0-1-100,1-2-7`); "" or only whitespace is the empty list. A domain
 * named twice is a GtidDuplicateDomainError, as MariaDB refuses it in a position; a binlog state
 * lists one GTID per (domain, server) and passes `allowDuplicateDomains`.
 */
export function parseMariadbGtidList(text: string, options?: { allowDuplicateDomains?: boolean }): MariadbGtid[] {
  if (text.trim() === "") return [];
  const list: MariadbGtid[] = [];
  const byDomain = new Map<number, MariadbGtid>();
  for (const item of text.split(",")) {
    if (item.trim() === "") throw new GtidParseError(`malformed MariaDB GTID list '${clip(text)}': empty item`);
    const gtid = parseMariadbGtid(item);
    const earlier = byDomain.get(gtid.domain);
    if (earlier && !options?.allowDuplicateDomains) throw new GtidDuplicateDomainError(earlier, gtid);
    byDomain.set(gtid.domain, gtid);
    list.push(gtid);
  }
  return list;
}

export function formatMariadbGtidList(list: Iterable<MariadbGtid>): string {
  return Array.from(list, formatMariadbGtid).join(",");
}

function byDomain(a: MariadbGtid, b: MariadbGtid): number {
  return a.domain - b.domain;
}

/** One GTID per domain: where a replica is, or where the binlog ends. Immutable. */
export class MariadbGtidPosition implements Iterable<MariadbGtid> {
  readonly #byDomain: ReadonlyMap<number, MariadbGtid>;

  private constructor(byDomain: ReadonlyMap<number, MariadbGtid>) {
    this.#byDomain = byDomain;
  }

  static empty(): MariadbGtidPosition {
    return new MariadbGtidPosition(new Map());
  }

  /** Refuses a domain given twice (GtidDuplicateDomainError). */
  static fromGtids(gtids: Iterable<MariadbGtid>): MariadbGtidPosition {
    const map = new Map<number, MariadbGtid>();
    for (const gtid of gtids) {
      checkMariadbGtid(gtid);
      const earlier = map.get(gtid.domain);
      if (earlier) throw new GtidDuplicateDomainError(earlier, gtid);
      map.set(gtid.domain, { ...gtid });
    }
    return new MariadbGtidPosition(map);
  }

  static parse(text: string): MariadbGtidPosition {
    return MariadbGtidPosition.fromGtids(parseMariadbGtidList(text));
  }

  get(domain: number): MariadbGtid | undefined {
    const gtid = this.#byDomain.get(domain);
    return gtid && { ...gtid };
  }

  /** The GTIDs, by domain. */
  gtids(): MariadbGtid[] {
    return Array.from(this.#byDomain.values(), (g) => ({ ...g })).sort(byDomain);
  }

  [Symbol.iterator](): Iterator<MariadbGtid> {
    return this.gtids()[Symbol.iterator]();
  }

  isEmpty(): boolean {
    return this.#byDomain.size === 0;
  }

  /** True when `gtid` is at or before this position in its domain (any server id). */
  contains(gtid: MariadbGtid): boolean {
    const mine = this.#byDomain.get(gtid.domain);
    return mine !== undefined && gtid.seq <= mine.seq;
  }

  /** True when every domain of `other` is in this position, at the same or a later seq_no. */
  containsPosition(other: MariadbGtidPosition): boolean {
    for (const gtid of other.#byDomain.values()) if (!this.contains(gtid)) return false;
    return true;
  }

  /** This position with `gtid` as its domain's GTID. */
  with(gtid: MariadbGtid): MariadbGtidPosition {
    checkMariadbGtid(gtid);
    const map = new Map(this.#byDomain);
    map.set(gtid.domain, { ...gtid });
    return new MariadbGtidPosition(map);
  }

  equals(other: MariadbGtidPosition): boolean {
    return this.toString() === other.toString();
  }

  /** As MariaDB prints a position: sorted by domain. */
  toString(): string {
    return formatMariadbGtidList(this.gtids());
  }
}

interface DomainState {
  /** seq_no per server id. */
  readonly servers: Map<number, bigint>;
  /** The server of the most recently recorded GTID. */
  lastServer: number;
}

/** The last GTID per (domain, server), and which is the most recent in each domain. Mutable. */
export class MariadbGtidState {
  readonly #domains = new Map<number, DomainState>();

  static empty(): MariadbGtidState {
    return new MariadbGtidState();
  }

  /**
   * Reads what toString writes (or @@gtid_binlog_state): the GTIDs are recorded in order, without
   * strict mode, so the last one listed for a domain is its most recent.
   */
  static parse(text: string): MariadbGtidState {
    const state = new MariadbGtidState();
    for (const gtid of parseMariadbGtidList(text, { allowDuplicateDomains: true })) state.record(gtid, { strict: false });
    return state;
  }

  /**
   * Records a binlogged GTID. With `strict`, a GTID whose seq_no is not above the domain's most
   * recent one is refused with GtidOrderError and the state is left unchanged.
   */
  record(gtid: MariadbGtid, options: { strict: boolean }): void {
    checkMariadbGtid(gtid);
    const domain = this.#domains.get(gtid.domain);
    if (!domain) {
      this.#domains.set(gtid.domain, { servers: new Map([[gtid.serverId, gtid.seq]]), lastServer: gtid.serverId });
      return;
    }
    const lastSeq = domain.servers.get(domain.lastServer)!;
    if (options.strict && lastSeq >= gtid.seq) {
      throw new GtidOrderError(gtid, { domain: gtid.domain, serverId: domain.lastServer, seq: lastSeq });
    }
    domain.servers.set(gtid.serverId, gtid.seq);
    domain.lastServer = gtid.serverId;
  }

  /** The GTID last recorded for (domain, server). */
  get(domain: number, serverId: number): MariadbGtid | undefined {
    const seq = this.#domains.get(domain)?.servers.get(serverId);
    return seq === undefined ? undefined : { domain, serverId, seq };
  }

  /** The most recent GTID of a domain. */
  last(domain: number): MariadbGtid | undefined {
    const state = this.#domains.get(domain);
    return state && { domain, serverId: state.lastServer, seq: state.servers.get(state.lastServer)! };
  }

  /** The position it leads to (like @@gtid_binlog_pos): the most recent GTID of each domain. */
  position(): MariadbGtidPosition {
    return MariadbGtidPosition.fromGtids(Array.from(this.#domains.keys(), (d) => this.last(d)!));
  }

  /**
   * Every GTID, by domain; within a domain by server id, except that the most recent comes last
   * (as MariaDB writes its binlog state file), so parse(toString()) keeps the position.
   */
  gtids(): MariadbGtid[] {
    const list: MariadbGtid[] = [];
    for (const domain of [...this.#domains.keys()].sort((a, b) => a - b)) {
      const state = this.#domains.get(domain)!;
      const others = [...state.servers.keys()].filter((s) => s !== state.lastServer).sort((a, b) => a - b);
      for (const serverId of [...others, state.lastServer]) list.push({ domain, serverId, seq: state.servers.get(serverId)! });
    }
    return list;
  }

  isEmpty(): boolean {
    return this.#domains.size === 0;
  }

  clone(): MariadbGtidState {
    const copy = new MariadbGtidState();
    for (const [domain, state] of this.#domains) {
      copy.#domains.set(domain, { servers: new Map(state.servers), lastServer: state.lastServer });
    }
    return copy;
  }

  toString(): string {
    return formatMariadbGtidList(this.gtids());
  }
}
