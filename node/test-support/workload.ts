/**
 * A deterministic mix of the transactions a real primary writes, for checking the binlog codec
 * against what MariaDB itself logs: DDL, multi-row InnoDB DML, JSON, BLOBs up to 1 MiB, a
 * multi-statement transaction, a rollback, MyISAM writes, XA in all three shapes, writes under
 * several gtid_domain_ids.
 *
 * Every step says how many GTIDs (event groups) it should add to the binlog, and the runner checks
 * that against @@gtid_binlog_pos after the step, so the summary's GTID list is exactly what the
 * binlog holds, in order, provided nothing else writes to the server meanwhile.
 */
import type { Connection, RowDataPacket } from "mysql2/promise";
import { KingbusError } from "../src/errors.ts";
import type { MariadbServer } from "./mariadb.ts";

/** The server did not log what a workload step was expected to log. */
export class WorkloadError extends KingbusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("WORKLOAD", message, options);
  }
}

export interface WorkloadOptions {
  /** gtid_domain_id values to write under; steps take them in turn. Empty: the server's own. */
  domains: number[];
  /** Database the workload creates; must not exist yet. Default "kb_workload". */
  database?: string;
  /** Seed for the generated values. Default 1. */
  seed?: number;
}

export interface WorkloadStep {
  name: string;
  domain: number;
  /** The GTIDs (domain-server-seq) this step added, in binlog order; empty for the rollback. */
  gtids: string[];
}

export interface WorkloadSummary {
  database: string;
  steps: WorkloadStep[];
  /** Every GTID the workload added, in binlog order. */
  gtids: string[];
  /** @@gtid_binlog_pos after the last step. */
  gtidBinlogPos: string;
  /** Text written only by the rolled-back transaction: it must appear nowhere in the binlog. */
  rolledBackMarker: string;
  /** Sizes in bytes of the BLOB values inserted (one row each). */
  blobSizes: number[];
  /** Rows in each table of the workload's database at the end. */
  tables: Record<string, number>;
}

export interface GtidPosition {
  domain: number;
  serverId: number;
  seq: bigint;
}

/** Parses a GTID list such as @@gtid_binlog_pos ("0-1-5,3-1-10"); whitespace is ignored. */
export function parseGtidList(text: string): GtidPosition[] {
  return text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "")
    .map((part) => {
      const match = /^(\d+)-(\d+)-(\d+)$/.exec(part);
      if (!match) throw new WorkloadError(`not a GTID: ${JSON.stringify(part)}`);
      return { domain: Number(match[1]), serverId: Number(match[2]), seq: BigInt(match[3]!) };
    });
}

/** mulberry32: small, seedable, good enough to make test data look unlike a pattern. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Step {
  name: string;
  /** Event groups the step adds to the binlog. */
  gtids: number;
  run(conn: Connection): Promise<unknown>;
}

const BLOB_SIZES = [0, 1, 255, 256, 65_535, 65_536, 300_000, 1_048_576];
const NAMES = ["alpha", "beta", "gamma", "délta", "ëpsilon", "ζeta", "эта", "θῆτα", "iota 🙂", "kappa'quote", 'lambda"dq', "mu\\backslash"];

export async function runMixedWorkload(server: MariadbServer, options: WorkloadOptions): Promise<WorkloadSummary> {
  const db = options.database ?? "kb_workload";
  const random = prng(options.seed ?? 1);
  const int = (below: number) => Math.floor(random() * below);
  const bytes = (size: number) => {
    const out = Buffer.alloc(size);
    for (let i = 0; i < size; i++) out[i] = int(256);
    return out;
  };
  const rolledBackMarker = `kingbus-rolled-back-${(options.seed ?? 1).toString(16)}-5c1e`;

  const rowValues = (count: number, firstK: number) =>
    Array.from({ length: count }, (_, i) => {
      const k = firstK + i;
      const nulls = k % 11 === 0;
      return [
        k,
        nulls ? null : (BigInt(int(2 ** 32)) * 4_294_967_296n + BigInt(int(2 ** 32))).toString(),
        NAMES[k % NAMES.length]!,
        nulls ? null : `${int(2) ? "-" : ""}${int(10_000_000_000)}.${String(int(10_000)).padStart(4, "0")}`,
        nulls ? null : (random() - 0.5) * 1e6,
        nulls ? null : `20${String(10 + int(20))}-${String(1 + int(12)).padStart(2, "0")}-${String(1 + int(28)).padStart(2, "0")}`,
        `2024-0${1 + int(9)}-1${int(10)} 0${int(10)}:${10 + int(50)}:${10 + int(50)}.${String(int(1_000_000)).padStart(6, "0")}`,
        nulls ? null : `2023-11-2${int(10)} 1${int(10)}:00:0${int(10)}.${String(int(1000)).padStart(3, "0")}`,
        nulls ? null : `${int(2) ? "-" : ""}${int(838)}:${10 + int(50)}:${10 + int(50)}.${String(int(100)).padStart(2, "0")}`,
        ["red", "green", "blue"][k % 3]!,
        ["", "a", "b", "a,c", "a,b,c"][k % 5]!,
        int(4096),
        nulls ? null : "note ".repeat(1 + int(40)),
      ];
    });
  const insertRows = (conn: Connection, count: number, firstK: number) =>
    conn.query(
      "INSERT INTO t_rows (k, big, name, amount, ratio, born, at, ts, dur, color, tags, bits, note) VALUES ?",
      [rowValues(count, firstK)],
    );

  const xa = async (conn: Connection, xid: string, k: number, end: "commit" | "one-phase" | "rollback") => {
    await conn.query("XA START ?", [xid]);
    await conn.query("INSERT INTO t_xa (k, note) VALUES (?, ?), (?, ?)", [k, `${xid} first`, k + 1, `${xid} second`]);
    await conn.query("UPDATE t_rows SET note = ? WHERE k = ?", [`touched by ${xid}`, 1]);
    await conn.query("XA END ?", [xid]);
    if (end === "one-phase") return conn.query("XA COMMIT ? ONE PHASE", [xid]);
    await conn.query("XA PREPARE ?", [xid]);
    return conn.query(end === "commit" ? "XA COMMIT ?" : "XA ROLLBACK ?", [xid]);
  };

  const steps: Step[] = [
    { name: "create-database", gtids: 1, run: (c) => c.query(`CREATE DATABASE \`${db}\``).then(() => c.query(`USE \`${db}\``)) },
    {
      name: "create-table-rows",
      gtids: 1,
      run: (c) =>
        c.query(`CREATE TABLE t_rows (
          id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
          k INT NOT NULL,
          big BIGINT UNSIGNED,
          name VARCHAR(64) NOT NULL,
          amount DECIMAL(14,4),
          ratio DOUBLE,
          born DATE,
          at DATETIME(6) NOT NULL,
          ts TIMESTAMP(3) NULL,
          dur TIME(2),
          color ENUM('red','green','blue') NOT NULL,
          tags SET('a','b','c') NOT NULL,
          bits BIT(12) NOT NULL,
          note TEXT,
          KEY (k)
        ) ENGINE=InnoDB`),
    },
    { name: "insert-rows", gtids: 1, run: (c) => insertRows(c, 60, 1) },
    {
      name: "update-rows",
      gtids: 1,
      run: (c) => c.query("UPDATE t_rows SET amount = amount / 2, note = CONCAT(IFNULL(note, ''), ' updated') WHERE k % 3 = 0"),
    },
    { name: "delete-rows", gtids: 1, run: (c) => c.query("DELETE FROM t_rows WHERE k % 5 = 0") },
    // Large enough to be split over several Write_rows events within one event group.
    { name: "bulk-insert", gtids: 1, run: (c) => insertRows(c, 2000, 1000) },
    {
      name: "create-table-json",
      gtids: 1,
      run: (c) => c.query("CREATE TABLE t_json (id INT PRIMARY KEY, doc JSON NOT NULL, CHECK (JSON_VALID(doc))) ENGINE=InnoDB"),
    },
    {
      name: "insert-json",
      gtids: 1,
      run: (c) =>
        c.query("INSERT INTO t_json (id, doc) VALUES ?", [
          Array.from({ length: 20 }, (_, i) => [
            i + 1,
            JSON.stringify({
              id: i + 1,
              name: NAMES[i % NAMES.length],
              tags: Array.from({ length: i % 4 }, (_, j) => `t${j}`),
              nested: { depth: i, ok: i % 2 === 0, value: i % 3 === 0 ? null : random() },
            }),
          ]),
        ]),
    },
    {
      name: "update-json",
      gtids: 1,
      run: (c) => c.query("UPDATE t_json SET doc = JSON_SET(doc, '$.nested.updated', TRUE, '$.count', id * 10) WHERE id % 2 = 1"),
    },
    {
      name: "create-table-blob",
      gtids: 1,
      run: (c) =>
        c.query(`CREATE TABLE t_blob (id INT PRIMARY KEY, size INT NOT NULL,
          b BLOB, mb MEDIUMBLOB, lb LONGBLOB, digest CHAR(8) NOT NULL) ENGINE=InnoDB`),
    },
    ...BLOB_SIZES.map(
      (size, i): Step => ({
        name: `insert-blob-${size}`,
        gtids: 1,
        run: (c) => {
          const data = bytes(size);
          const column = size <= 65_535 ? "b" : size <= 300_000 ? "mb" : "lb";
          return c.query(`INSERT INTO t_blob (id, size, ${column}, digest) VALUES (?, ?, ?, ?)`, [i + 1, size, data, checksum(data)]);
        },
      }),
    ),
    // Before and after images of the 1 MiB row: one row event of about 2 MiB.
    { name: "update-longblob", gtids: 1, run: (c) => c.query("UPDATE t_blob SET lb = REVERSE(lb), digest = 'reversed' WHERE size = 1048576") },
    {
      name: "alter-table",
      gtids: 1,
      run: (c) => c.query("ALTER TABLE t_rows ADD COLUMN extra VARCHAR(32) NOT NULL DEFAULT 'x', ADD INDEX idx_name (name)"),
    },
    {
      name: "multi-statement-transaction",
      gtids: 1,
      run: async (c) => {
        await c.query("BEGIN");
        await insertRows(c, 5, 5000);
        await c.query("UPDATE t_json SET doc = JSON_SET(doc, '$.in_trx', 'yes') WHERE id <= 3");
        await c.query("INSERT INTO t_blob (id, size, b, digest) VALUES (100, 3, 'abc', 'abc')");
        await c.query("DELETE FROM t_rows WHERE k BETWEEN 1000 AND 1009");
        await c.query("UPDATE t_rows SET extra = 'in-trx' WHERE k >= 5000");
        return c.query("COMMIT");
      },
    },
    {
      name: "rolled-back-transaction",
      gtids: 0,
      run: async (c) => {
        await c.query("BEGIN");
        await c.query("INSERT INTO t_rows (k, name, at, color, tags, bits, note) VALUES (?, ?, NOW(6), 'red', '', 0, ?)", [
          9999,
          rolledBackMarker,
          rolledBackMarker,
        ]);
        await c.query("UPDATE t_json SET doc = JSON_SET(doc, '$.marker', ?) WHERE id = 1", [rolledBackMarker]);
        return c.query("ROLLBACK");
      },
    },
    {
      name: "savepoint-transaction",
      gtids: 1,
      run: async (c) => {
        await c.query("BEGIN");
        await insertRows(c, 2, 6000);
        await c.query("SAVEPOINT kept");
        await insertRows(c, 2, 6100);
        await c.query("ROLLBACK TO SAVEPOINT kept");
        await c.query("UPDATE t_rows SET extra = 'after-savepoint' WHERE k = 6000");
        return c.query("COMMIT");
      },
    },
    { name: "create-table-myisam", gtids: 1, run: (c) => c.query("CREATE TABLE t_myisam (id INT PRIMARY KEY, note VARCHAR(100)) ENGINE=MyISAM") },
    {
      name: "myisam-insert",
      gtids: 1,
      run: (c) => c.query("INSERT INTO t_myisam VALUES ?", [Array.from({ length: 10 }, (_, i) => [i + 1, `myisam ${NAMES[i]}`])]),
    },
    { name: "myisam-update", gtids: 1, run: (c) => c.query("UPDATE t_myisam SET note = CONCAT(note, '!') WHERE id > 5") },
    { name: "create-table-xa", gtids: 1, run: (c) => c.query("CREATE TABLE t_xa (k INT PRIMARY KEY, note VARCHAR(100)) ENGINE=InnoDB") },
    // XA PREPARE ends one event group and XA COMMIT/ROLLBACK is a second one; ONE PHASE is a single one.
    { name: "xa-prepare-commit", gtids: 2, run: (c) => xa(c, "kb-xa-1", 10, "commit") },
    { name: "xa-one-phase", gtids: 1, run: (c) => xa(c, "kb-xa-2", 20, "one-phase") },
    { name: "xa-prepare-rollback", gtids: 2, run: (c) => xa(c, "kb-xa-3", 30, "rollback") },
    // In ROW format CREATE … SELECT is one event group holding the DDL and the copied rows.
    { name: "create-table-select", gtids: 1, run: (c) => c.query("CREATE TABLE t_copy ENGINE=InnoDB SELECT id, k, name FROM t_rows WHERE k < 30") },
    { name: "drop-table", gtids: 1, run: (c) => c.query("DROP TABLE t_copy") },
    { name: "create-table-domains", gtids: 1, run: (c) => c.query("CREATE TABLE t_domains (id INT AUTO_INCREMENT PRIMARY KEY, domain INT NOT NULL, note VARCHAR(64)) ENGINE=InnoDB") },
  ];

  const conn = await server.connect();
  try {
    const [ownDomain] = await conn.query<RowDataPacket[]>("SELECT @@SESSION.gtid_domain_id AS d");
    const domains = options.domains.length > 0 ? [...new Set(options.domains)] : [Number(ownDomain[0]!.d)];
    // Each domain gets a last write of its own so that every one of them shows in the binlog.
    for (const domain of domains) {
      steps.push({
        name: `domain-${domain}-insert`,
        gtids: 1,
        run: (c) => c.query("INSERT INTO t_domains (domain, note) VALUES (?, ?), (?, ?)", [domain, "first", domain, "second"]),
      });
    }

    const done: WorkloadStep[] = [];
    let position = await binlogPos(conn);
    let currentDomain: number | undefined;
    for (const [index, step] of steps.entries()) {
      const perDomain = /^domain-(\d+)-/.exec(step.name);
      const domain = perDomain ? Number(perDomain[1]) : domains[index % domains.length]!;
      if (domain !== currentDomain) {
        await conn.query("SET SESSION gtid_domain_id = ?", [domain]);
        currentDomain = domain;
      }
      try {
        await step.run(conn);
      } catch (err) {
        throw new WorkloadError(`workload step ${step.name} failed: ${(err as Error).message}`, { cause: err });
      }
      const after = await binlogPos(conn);
      const gtids = addedGtids(position, after, step, domain);
      done.push({ name: step.name, domain, gtids });
      position = after;
    }

    const tables: Record<string, number> = {};
    const [tableRows] = await conn.query<RowDataPacket[]>(
      "SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name",
      [db],
    );
    for (const row of tableRows) {
      const [count] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM \`${db}\`.\`${String(row.t)}\``);
      tables[String(row.t)] = Number(count[0]!.n);
    }
    const [pos] = await conn.query<RowDataPacket[]>("SELECT @@GLOBAL.gtid_binlog_pos AS pos");
    return {
      database: db,
      steps: done,
      gtids: done.flatMap((s) => s.gtids),
      gtidBinlogPos: String(pos[0]!.pos),
      rolledBackMarker,
      blobSizes: BLOB_SIZES,
      tables,
    };
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

async function binlogPos(conn: Connection): Promise<Map<number, GtidPosition>> {
  const [rows] = await conn.query<RowDataPacket[]>("SELECT @@GLOBAL.gtid_binlog_pos AS pos");
  return new Map(parseGtidList(String(rows[0]!.pos)).map((g) => [g.domain, g]));
}

/** The GTIDs between two binlog positions, checked against what the step should have logged. */
function addedGtids(before: Map<number, GtidPosition>, after: Map<number, GtidPosition>, step: Step, domain: number): string[] {
  for (const [d, gtid] of after) {
    const prior = before.get(d);
    if (d !== domain && (!prior || prior.seq !== gtid.seq)) {
      throw new WorkloadError(`step ${step.name} (domain ${domain}) also moved domain ${d}: is something else writing to the server?`);
    }
  }
  const from = before.get(domain)?.seq ?? 0n;
  const last = after.get(domain);
  const added = last ? Number(last.seq - from) : 0;
  if (added !== step.gtids) {
    throw new WorkloadError(`step ${step.name} should log ${step.gtids} event group(s) in domain ${domain}, the binlog got ${added}`);
  }
  return Array.from({ length: added }, (_, i) => `${domain}-${last!.serverId}-${from + BigInt(i) + 1n}`);
}

/** A short content digest stored beside each BLOB, so a reader can check the value it decoded. */
function checksum(data: Buffer): string {
  let hash = 0x811c9dc5;
  for (const byte of data) hash = Math.imul(hash ^ byte, 0x01000193);
  return (hash >>> 0).toString(16).padStart(8, "0");
}
