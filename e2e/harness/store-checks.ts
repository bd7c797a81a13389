/**
 * What a kingbus pod stores, checked against the primaries it pulled from, through the test-only
 * /debug/binlog?files=1 (every stored binlog file's bytes, from the pod's first retained entry):
 *
 * - byte identity: every stored file is the primary's file as a replica receives it (IN_USE flag
 *   cleared), byte for byte. Two exceptions, both named in the result: the first stored file of a
 *   pod whose log was compacted (or that was installed from a snapshot) is a suffix of the
 *   primary's (the pod forgot the beginning), and the last file pulled from a primary the source
 *   was switched away from may be a prefix (that primary went on writing after the switch);
 * - no stored file that no primary has, and no file of a primary skipped in between;
 * - GTIDs: the stored event groups, in log order, number each domain's sequence strictly one
 *   after another (no duplicate, no gap), from just after the pod's purged GTIDs to the target.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import type { KingbusCluster } from "../../node/test-support/kingbus-cluster.ts";
import type { MariadbServer } from "../../node/test-support/mariadb.ts";
import { asSentOnTheWire, debugBinlog } from "../../node/test-support/syncer-harness.ts";
import { parseMariadbGtidList } from "../../node/src/binlog/gtid-mariadb.ts";
import { eventTypeName } from "../../node/src/binlog/event-type.ts";

const MARIADB_GTID_EVENT = 0xa2;
const HEADER = 19;

export interface StoredGtid {
  domain: number;
  serverId: number;
  seq: bigint;
}

/** GTIDs of the MariaDB GTID events in a run of whole events (no magic), in order. */
export function gtidsOf(bytes: Buffer): StoredGtid[] {
  const out: StoredGtid[] = [];
  for (let at = 0; at + HEADER <= bytes.length; ) {
    const size = bytes.readUInt32LE(at + 9);
    if (size < HEADER || at + size > bytes.length) throw new Error(`stored bytes are not whole events at offset ${at} (size ${size}, ${bytes.length - at} left)`);
    if (bytes[at + 4] === MARIADB_GTID_EVENT) {
      out.push({ serverId: bytes.readUInt32LE(at + 5), seq: bytes.readBigUInt64LE(at + HEADER), domain: bytes.readUInt32LE(at + HEADER + 8) });
    }
    at += size;
  }
  return out;
}

export interface FileMatch {
  name: string;
  bytes: number;
  /** "identical", "suffix" (compacted head) or "prefix" (a primary left behind). */
  how: "identical" | "suffix" | "prefix";
}

export interface StoreReport {
  files: FileMatch[];
  gtids: number;
  /** Sequence range per domain, "d:first-last". */
  domains: string[];
}

export interface StoreCheckOptions {
  /** Every primary the store may hold files of, in the order the source moved through them. */
  primaries: MariadbServer[];
  /** The primary's @@gtid_binlog_pos the pod must hold exactly. */
  target: string;
  /** The pod's purged GTID position ("" when nothing was purged). */
  purged: string;
  /** The pod forgot the beginning of its log (compaction, snapshot install). */
  compacted: boolean;
}

/** A stored copy that differs from the primary's; `tail` when it only lacks the end (which may still be on its way). */
export class StoreMismatch extends Error {
  readonly tail: boolean;

  constructor(message: string, tail: boolean) {
    super(message);
    this.tail = tail;
  }
}

/** "STOP_EVENT (23 bytes), ..." for a run of whole events. */
function eventsIn(bytes: Buffer): string {
  const out: string[] = [];
  for (let at = 0; at + HEADER <= bytes.length; ) {
    const size = bytes.readUInt32LE(at + 9);
    if (size < HEADER) break;
    out.push(`${eventTypeName(bytes[at + 4]!)} of ${size} bytes`);
    at += size;
  }
  return out.length > 6 ? `${out.slice(0, 6).join(", ")} and ${out.length - 6} more events` : out.join(", ");
}

function firstDifference(a: Buffer, b: Buffer): number {
  let at = 0;
  while (at < Math.min(a.length, b.length) && a[at] === b[at]) at++;
  return at;
}

/** Throws an Error naming the first problem; returns what was compared. */
export async function checkStore(kc: KingbusCluster, id: number, o: StoreCheckOptions): Promise<StoreReport> {
  const stored = (await debugBinlog(kc, id, true)).files ?? {};
  const names = Object.keys(stored);
  if (names.length === 0) throw new Error(`node ${id} stores no binlog file`);
  const owners = new Map<string, { primary: number; path: string; order: number }>();
  for (const [p, primary] of o.primaries.entries()) {
    const files = await primary.binlogFiles();
    files.forEach((path, order) => owners.set(basename(path), { primary: p, path, order }));
  }
  const files: FileMatch[] = [];
  const all: Buffer[] = [];
  let previous: { primary: number; order: number } | undefined;
  for (const [i, name] of names.entries()) {
    const owner = owners.get(name);
    if (!owner) throw new Error(`node ${id} stores ${name}, a file none of the primaries has`);
    const got = Buffer.from(stored[name]!, "base64");
    all.push(got);
    const want = asSentOnTheWire(readFileSync(owner.path)).subarray(4);
    const lastOfItsPrimary = names[i + 1] === undefined || owners.get(names[i + 1]!)?.primary !== owner.primary;
    const leftBehind = owner.primary < o.primaries.length - 1;
    if (previous && previous.primary === owner.primary && owner.order !== previous.order + 1) {
      throw new Error(`node ${id} skips files of primary ${owner.primary + 1} between ${names[i - 1]} and ${name}`);
    }
    if (previous && previous.primary > owner.primary) throw new Error(`node ${id} stores ${name} of an earlier primary after ${names[i - 1]}`);
    previous = owner;
    let how: FileMatch["how"] | undefined;
    if (got.equals(want)) how = "identical";
    else if (i === 0 && o.compacted && got.length < want.length && want.subarray(want.length - got.length).equals(got)) how = "suffix";
    else if (lastOfItsPrimary && leftBehind && got.length < want.length && want.subarray(0, got.length).equals(got)) how = "prefix";
    if (!how) {
      const at = firstDifference(got, want);
      const missingTail = at === got.length && want.length > got.length ? `: the stored copy lacks the primary's last ${want.length - got.length} bytes (${eventsIn(want.subarray(got.length))})` : "";
      throw new StoreMismatch(`node ${id}: ${name} differs from the primary's at byte ${at + 4} (stored ${got.length + 4} bytes, primary ${want.length + 4})${missingTail}`, missingTail !== "");
    }
    files.push({ name, bytes: got.length + 4, how });
  }
  // The current primary's files from the first stored one through its newest are all there.
  const current = o.primaries.length - 1;
  const currentFiles = [...owners.entries()].filter(([, v]) => v.primary === current).sort((a, b) => a[1].order - b[1].order);
  const storedCurrent = names.filter((n) => owners.get(n)!.primary === current);
  const lastCurrent = currentFiles.at(-1)?.[0];
  if (storedCurrent.length > 0 && storedCurrent.at(-1) !== lastCurrent) {
    throw new Error(`node ${id} stores up to ${storedCurrent.at(-1)}, the primary writes ${lastCurrent}`);
  }

  // GTIDs: strictly consecutive per domain, from after the purged position to the target.
  const gtids = gtidsOf(Buffer.concat(all));
  const last = new Map<number, bigint>();
  const first = new Map<number, bigint>();
  const purged = new Map(parseMariadbGtidList(o.purged).map((g) => [g.domain, g.seq]));
  for (const g of gtids) {
    const prev = last.get(g.domain);
    if (prev === undefined) {
      const expected = (purged.get(g.domain) ?? 0n) + 1n;
      if (g.seq !== expected) throw new Error(`node ${id}: domain ${g.domain} starts at ${g.domain}-${g.serverId}-${g.seq}, expected seq ${expected} (purged: ${o.purged || "nothing"})`);
      first.set(g.domain, g.seq);
    } else if (g.seq <= prev) {
      throw new Error(`node ${id}: duplicate or out-of-order GTID ${g.domain}-${g.serverId}-${g.seq} after seq ${prev}`);
    } else if (g.seq !== prev + 1n) {
      throw new Error(`node ${id}: GTIDs missing in domain ${g.domain} between seq ${prev} and ${g.seq}`);
    }
    last.set(g.domain, g.seq);
  }
  for (const want of parseMariadbGtidList(o.target)) {
    const have = last.get(want.domain) ?? purged.get(want.domain);
    if (have !== want.seq) throw new Error(`node ${id}: domain ${want.domain} ends at seq ${have ?? "none"}, the primary at ${want.domain}-${want.serverId}-${want.seq}`);
  }
  for (const d of last.keys()) {
    if (!parseMariadbGtidList(o.target).some((g) => g.domain === d)) throw new Error(`node ${id}: stores domain ${d}, which the primary does not have`);
  }
  return { files, gtids: gtids.length, domains: [...last.keys()].sort((a, b) => a - b).map((d) => `${d}:${first.get(d)}-${last.get(d)}`) };
}
