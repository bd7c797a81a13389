/**
 * The binlog indexes of one segment: which entry holds a GTID, and which entry holds the
 * transaction that ends at a primary file position. The open segment keeps them in memory; a
 * sealed segment writes them into its sidecar and keeps only a summary (per GTID source and per
 * file: count, smallest and largest key) in memory, so a lookup visits the one or two segments
 * whose range covers the key and reads only their arrays: no scan of the log.
 *
 * Keys come from an extractor the application gives the store (kingbus's entry format belongs to
 * the syncer), so the store never parses payloads itself.
 */
import type { Entry } from "../raft/types.ts";

export type GtidKey =
  | { flavor: "mysql"; uuid: string; tag?: string; gno: bigint }
  | { flavor: "mariadb"; domain: number; serverId: number; seq: bigint };

/** One transaction held by an entry: its GTID (none for anonymous ones) and where it ends upstream. */
export interface TransactionLocation {
  gtid?: GtidKey;
  file: string;
  endPos: number;
}

export type BinlogInfoExtractor = (entry: Entry) => readonly TransactionLocation[];

/** `m:uuid`, `m:uuid:tag` or `d:domain`: sequence numbers increase within a source. */
export function sourceOf(g: GtidKey): string {
  if (g.flavor === "mariadb") return `d:${g.domain}`;
  return g.tag ? `m:${g.uuid}:${g.tag}` : `m:${g.uuid}`;
}

export function seqOf(g: GtidKey): bigint {
  return g.flavor === "mariadb" ? g.seq : g.gno;
}

/** Keys of one source (or one file) in key order, with the entry holding each. */
class KeyList {
  keys: bigint[] = [];
  entries: number[] = [];
  /** For MariaDB sources: the server id of each GTID (MySQL: 0). */
  servers: number[] = [];
  private minEntryFromCache: number[] | undefined;

  add(key: bigint, entry: number, server: number): void {
    // Primaries write keys in increasing order; anything else is inserted in place.
    let at = this.keys.length;
    while (at > 0 && this.keys[at - 1]! > key) at--;
    this.keys.splice(at, 0, key);
    this.entries.splice(at, 0, entry);
    this.servers.splice(at, 0, server);
    this.minEntryFromCache = undefined;
  }

  removeEntriesFrom(entry: number): void {
    const keep = this.entries.map((e) => e < entry);
    this.keys = this.keys.filter((_, i) => keep[i]);
    this.servers = this.servers.filter((_, i) => keep[i]);
    this.entries = this.entries.filter((_, i) => keep[i]);
    this.minEntryFromCache = undefined;
  }

  /** Index of the first key >= k (or > k when strict). */
  lowerBound(k: bigint, strict = false): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.keys[mid]!;
      if (v < k || (strict && v === k)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  exact(k: bigint): number | undefined {
    const at = this.lowerBound(k);
    return this.keys[at] === k ? this.entries[at] : undefined;
  }

  /** The smallest entry holding a key >= k (> k when strict). */
  earliestEntryFrom(k: bigint, strict = false): number | undefined {
    const at = this.lowerBound(k, strict);
    if (at >= this.keys.length) return undefined;
    this.minEntryFromCache ??= suffixMin(this.entries);
    return this.minEntryFromCache[at];
  }
}

function suffixMin(values: number[]): number[] {
  const out = new Array<number>(values.length);
  let min = Infinity;
  for (let i = values.length - 1; i >= 0; i--) out[i] = min = Math.min(min, values[i]!);
  return out;
}

export interface KeySummary {
  count: number;
  min: bigint;
  max: bigint;
}

export interface BinlogIndexSummary {
  sources: Map<string, KeySummary>;
  files: Map<string, KeySummary>;
}

export class SegmentBinlogIndex {
  readonly sources = new Map<string, KeyList>();
  readonly files = new Map<string, KeyList>();

  add(entry: number, locations: readonly TransactionLocation[]): void {
    for (const t of locations) {
      if (t.gtid) {
        const source = sourceOf(t.gtid);
        let list = this.sources.get(source);
        if (!list) this.sources.set(source, (list = new KeyList()));
        list.add(seqOf(t.gtid), entry, t.gtid.flavor === "mariadb" ? t.gtid.serverId : 0);
      }
      let list = this.files.get(t.file);
      if (!list) this.files.set(t.file, (list = new KeyList()));
      list.add(BigInt(t.endPos), entry, 0);
    }
  }

  /** Forgets what entries >= `entry` added (a truncated suffix). */
  truncateFrom(entry: number): void {
    for (const map of [this.sources, this.files]) {
      for (const [key, list] of map) {
        list.removeEntriesFrom(entry);
        if (list.keys.length === 0) map.delete(key);
      }
    }
  }

  summary(): BinlogIndexSummary {
    const sum = (m: Map<string, KeyList>): Map<string, KeySummary> =>
      new Map([...m].map(([k, l]) => [k, { count: l.keys.length, min: l.keys[0]!, max: l.keys.at(-1)! }]));
    return { sources: sum(this.sources), files: sum(this.files) };
  }

  lookupGtid(g: GtidKey): number | undefined {
    const list = this.sources.get(sourceOf(g));
    if (!list) return undefined;
    const at = list.lowerBound(seqOf(g));
    if (list.keys[at] !== seqOf(g)) return undefined;
    if (g.flavor === "mariadb" && list.servers[at] !== g.serverId) return undefined;
    return list.entries[at];
  }

  earliestEntryWithSeqFrom(source: string, seq: bigint): number | undefined {
    return this.sources.get(source)?.earliestEntryFrom(seq);
  }

  /** The entry holding the first transaction of `file` that ends after `pos`. */
  entryAfterPosition(file: string, pos: number): number | undefined {
    return this.files.get(file)?.earliestEntryFrom(BigInt(pos), true);
  }

  /** Every GTID of the segment with the entry holding it, for the purged set. */
  *gtidsWithEntries(): Generator<{ gtid: GtidKey; entry: number }> {
    for (const [source, list] of this.sources) {
      const [kind, ...rest] = source.split(":");
      for (let i = 0; i < list.keys.length; i++) {
        const gtid: GtidKey = kind === "d" ? { flavor: "mariadb", domain: Number(rest[0]), serverId: list.servers[i]!, seq: list.keys[i]! } : mysqlKey(rest, list.keys[i]!);
        yield { gtid, entry: list.entries[i]! };
      }
    }
  }

  /** Binary form for the sidecar: the key arrays, in map order. */
  encode(): Buffer {
    const parts: Buffer[] = [];
    const u32 = (v: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(v);
      return b;
    };
    const str = (s: string): Buffer => {
      const b = Buffer.from(s, "utf8");
      return Buffer.concat([u32(b.length), b]);
    };
    for (const map of [this.sources, this.files]) {
      parts.push(u32(map.size));
      for (const [key, list] of map) {
        parts.push(str(key), u32(list.keys.length));
        const arr = Buffer.alloc(list.keys.length * 16);
        for (let i = 0; i < list.keys.length; i++) {
          arr.writeBigUInt64LE(list.keys[i]!, i * 16);
          arr.writeUInt32LE(list.entries[i]! % 2 ** 32, i * 16 + 8);
          arr.writeUInt32LE(Math.floor(list.entries[i]! / 2 ** 32), i * 16 + 12);
        }
        parts.push(arr);
        if (map === this.sources) {
          const servers = Buffer.alloc(list.keys.length * 4);
          list.servers.forEach((s, i) => servers.writeUInt32LE(s, i * 4));
          parts.push(servers);
        }
      }
    }
    return Buffer.concat(parts);
  }

  static decode(bytes: Buffer): SegmentBinlogIndex {
    const index = new SegmentBinlogIndex();
    let at = 0;
    const u32 = (): number => {
      const v = bytes.readUInt32LE(at);
      at += 4;
      return v;
    };
    for (const map of [index.sources, index.files]) {
      const n = u32();
      for (let k = 0; k < n; k++) {
        const length = u32();
        const key = bytes.toString("utf8", at, at + length);
        at += length;
        const count = u32();
        const list = new KeyList();
        for (let i = 0; i < count; i++) {
          list.keys.push(bytes.readBigUInt64LE(at));
          list.entries.push(bytes.readUInt32LE(at + 8) + bytes.readUInt32LE(at + 12) * 2 ** 32);
          at += 16;
        }
        if (map === index.sources) {
          for (let i = 0; i < count; i++) list.servers.push(bytes.readUInt32LE(at + i * 4));
          at += count * 4;
        } else {
          list.servers = new Array<number>(count).fill(0);
        }
        map.set(key, list);
      }
    }
    return index;
  }
}

/** A MySQL source key splits into [uuid] or [uuid, tag]: neither contains ':'. */
function mysqlKey(rest: string[], gno: bigint): GtidKey {
  return rest.length === 1 ? { flavor: "mysql", uuid: rest[0]!, gno } : { flavor: "mysql", uuid: rest[0]!, tag: rest.slice(1).join(":"), gno };
}
