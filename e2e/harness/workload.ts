/**
 * The load the end-to-end suite puts on the primary while things break:
 *
 * - sysbench `oltp_write_only` at a fixed rate (bench/lib/sysbench.ts installs and prepares it),
 *   restarted by a supervisor whenever it exits (a primary restart ends its connections), and
 *   pointed at another primary when the source is switched;
 * - the project's own mix, continuously: DDL (ALTER, CREATE ... SELECT, DROP), JSON documents,
 *   BLOBs up to 1 MiB, large multi-MiB transactions (stored as Raft fragments), XA in its three
 *   shapes (prepare+commit, one phase, prepare+rollback), MyISAM writes, under two GTID domains.
 *   It reconnects after connection errors and rolls back XA transactions a crash left prepared.
 *
 * node/test-support/workload.ts (runMixedWorkload, which checks every GTID it adds and so needs
 * the primary to itself) runs once before the load starts (Environment.seed()).
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Connection, RowDataPacket } from "mysql2/promise";
import type { MariadbServer } from "../../node/test-support/mariadb.ts";
import { ensureSysbench, parseIntervalLine, sysbenchPrepare, type SysbenchTarget } from "../../bench/lib/sysbench.ts";
import { log, sleep } from "./log.ts";

export interface SysbenchOptions {
  tables: number;
  tableSize: number;
  threads: number;
  /** Transactions per second (sysbench --rate). */
  rate: number;
}

export const SYSBENCH_DB = "sbtest";

function target(primary: MariadbServer): SysbenchTarget {
  return { host: "127.0.0.1", port: primary.port, user: "root", password: "", database: SYSBENCH_DB };
}

/** Creates the sysbench database and tables on the primary. */
export async function prepareSysbench(primary: MariadbServer, o: SysbenchOptions): Promise<string> {
  const { path } = ensureSysbench();
  await primary.query(`CREATE DATABASE IF NOT EXISTS ${SYSBENCH_DB}`);
  await sysbenchPrepare(path, target(primary), { tables: o.tables, tableSize: o.tableSize, threads: 2 });
  return path;
}

/** sysbench run, restarted whenever it exits until stop(); retargetable. */
export class SysbenchLoad {
  private child: ChildProcess | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private primary: MariadbServer;
  private readonly binary: string;
  private readonly o: SysbenchOptions;
  /** Times sysbench was started, and the last interval lines' throughput. */
  runs = 0;
  lastTps = 0;
  errorsPerSecondMax = 0;
  transactions = 0;

  constructor(binary: string, primary: MariadbServer, o: SysbenchOptions) {
    this.binary = binary;
    this.primary = primary;
    this.o = o;
  }

  start(): void {
    this.stopped = false;
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const began = Date.now();
      const args = [
        "oltp_write_only",
        "--db-driver=mysql",
        "--mysql-host=127.0.0.1",
        `--mysql-port=${this.primary.port}`,
        "--mysql-user=root",
        "--mysql-password=",
        `--mysql-db=${SYSBENCH_DB}`,
        `--tables=${this.o.tables}`,
        `--table-size=${this.o.tableSize}`,
        `--threads=${this.o.threads}`,
        `--rate=${this.o.rate}`,
        "--time=0",
        "--events=0",
        "--report-interval=1",
        "--mysql-ignore-errors=all",
        "run",
      ];
      const child = spawn(this.binary, args, { stdio: ["ignore", "pipe", "pipe"] });
      this.child = child;
      this.runs++;
      let partial = "";
      let tail = "";
      child.stdout!.setEncoding("utf8");
      child.stderr!.setEncoding("utf8");
      child.stdout!.on("data", (chunk: string) => {
        partial += chunk;
        const lines = partial.split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) {
          const i = parseIntervalLine(line);
          if (i) {
            this.lastTps = i.tps;
            this.transactions += i.tps;
            this.errorsPerSecondMax = Math.max(this.errorsPerSecondMax, i.errorsPerSecond);
          } else if (line.trim()) tail = (tail + line + "\n").slice(-2000);
        }
      });
      child.stderr!.on("data", (chunk: string) => (tail = (tail + chunk).slice(-2000)));
      const kill = (): void => void child.kill("SIGKILL");
      process.once("exit", kill);
      const code = await new Promise<number | null>((resolve) => {
        child.once("error", () => resolve(-1));
        child.once("close", (c) => resolve(c));
      });
      process.off("exit", kill);
      this.child = undefined;
      if (this.stopped) break;
      log(`sysbench exited (code ${code}) after ${((Date.now() - began) / 1000).toFixed(1)} s; restarting it${tail ? `: ${tail.trim().split("\n").slice(-2).join(" | ")}` : ""}`);
      await sleep(500);
    }
  }

  /** Points the load at another primary (the running sysbench is replaced). */
  retarget(primary: MariadbServer): void {
    this.primary = primary;
    this.child?.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.child?.kill("SIGKILL");
    await this.loop;
    this.loop = undefined;
  }
}

export const MIX_DB = "kb_mix";
const MIX_DOMAINS = [0, 5];
// Mostly small, the sizes around BLOB length-prefix limits, once in a while 300 KiB and 1 MiB.
const BLOB_SIZES = [100, 255, 256, 4096, 65_535, 100, 65_536, 2000, 300_000, 100, 4096, 70_000, 100, 2000, 4096, 1_048_576];

export interface MixStats {
  ops: number;
  errors: number;
  reconnects: number;
  byKind: Record<string, number>;
  lastError?: string;
}

/** The project's mix of transaction shapes, one after another at a fixed pace, until stopped. */
export class MixLoad {
  private primary: MariadbServer;
  private conn: Connection | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly pauseMs: number;
  private seq = 0;
  private ddlColumn = 0;
  private blobs = 0;
  private bigs = 0;
  readonly stats: MixStats = { ops: 0, errors: 0, reconnects: 0, byKind: {} };

  constructor(primary: MariadbServer, o: { pauseMs?: number } = {}) {
    this.primary = primary;
    this.pauseMs = o.pauseMs ?? 150;
  }

  /** Creates the mix's tables (once, on the first primary). */
  static async prepare(primary: MariadbServer): Promise<void> {
    await primary.query(`CREATE DATABASE IF NOT EXISTS ${MIX_DB}`);
    await primary.query(`CREATE TABLE IF NOT EXISTS ${MIX_DB}.t_json (id INT PRIMARY KEY, doc JSON NOT NULL, CHECK (JSON_VALID(doc))) ENGINE=InnoDB`);
    await primary.query(`CREATE TABLE IF NOT EXISTS ${MIX_DB}.t_blob (id INT PRIMARY KEY, size INT NOT NULL, b LONGBLOB, digest CHAR(8) NOT NULL) ENGINE=InnoDB`);
    await primary.query(`CREATE TABLE IF NOT EXISTS ${MIX_DB}.t_big (id INT AUTO_INCREMENT PRIMARY KEY, batch INT NOT NULL, k INT NOT NULL, note VARCHAR(255), payload MEDIUMBLOB, KEY (batch)) ENGINE=InnoDB`);
    await primary.query(`CREATE TABLE IF NOT EXISTS ${MIX_DB}.t_xa (k INT PRIMARY KEY, note VARCHAR(100)) ENGINE=InnoDB`);
    await primary.query(`CREATE TABLE IF NOT EXISTS ${MIX_DB}.t_ddl (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64) NOT NULL) ENGINE=InnoDB`);
    await primary.query(`CREATE TABLE IF NOT EXISTS ${MIX_DB}.t_myisam (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100)) ENGINE=MyISAM`);
  }

  start(): void {
    this.stopped = false;
    this.loop ??= this.run();
  }

  /** Writes go to another primary from the next operation on. */
  retarget(primary: MariadbServer): void {
    this.primary = primary;
    this.conn?.destroy();
    this.conn = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.loop = undefined;
    await this.conn?.end().catch(() => this.conn?.destroy());
    this.conn = undefined;
  }

  private async connection(): Promise<Connection> {
    if (this.conn) return this.conn;
    const conn = await this.primary.connect({ database: MIX_DB });
    // A crash can leave our XA transactions prepared, holding row locks: finish them.
    const [xids] = await conn.query<RowDataPacket[]>("XA RECOVER");
    for (const x of xids) {
      const xid = String(x.data);
      if (xid.startsWith("kb-mix-")) await conn.query("XA ROLLBACK ?", [xid]).catch(() => undefined);
    }
    this.conn = conn;
    return conn;
  }

  private async run(): Promise<void> {
    const kinds = ["json-insert", "blob", "xa", "json-update", "myisam", "big", "blob", "xa", "ddl", "json-insert", "blob", "xa"] as const;
    while (!this.stopped) {
      const kind = kinds[this.seq % kinds.length]!;
      const n = ++this.seq;
      try {
        const conn = await this.connection();
        await conn.query("SET SESSION gtid_domain_id = ?", [MIX_DOMAINS[n % MIX_DOMAINS.length]]);
        await this.op(conn, kind, n);
        this.stats.ops++;
        this.stats.byKind[kind] = (this.stats.byKind[kind] ?? 0) + 1;
      } catch (e) {
        this.stats.errors++;
        this.stats.lastError = e instanceof Error ? e.message : String(e);
        this.conn?.destroy();
        this.conn = undefined;
        this.stats.reconnects++;
        await sleep(250);
      }
      await sleep(this.pauseMs);
    }
  }

  private async op(c: Connection, kind: string, n: number): Promise<void> {
    switch (kind) {
      case "json-insert":
        await c.query("INSERT INTO t_json (id, doc) VALUES (?, ?)", [n, JSON.stringify({ n, name: `doc ${n} ζ🙂`, tags: Array.from({ length: n % 5 }, (_, i) => `t${i}`), nested: { ok: n % 2 === 0, at: n * 1.5 } })]);
        return;
      case "json-update":
        await c.query("UPDATE t_json SET doc = JSON_SET(doc, '$.updated', ?, '$.nested.count', id * 10) WHERE id > ? AND id % 2 = 0", [n, n - 100]);
        return;
      case "blob": {
        // Generated on the server: the binlog's Annotate_rows event then carries a short query,
        // not the value twice over in hex.
        const size = BLOB_SIZES[this.blobs++ % BLOB_SIZES.length]!;
        await c.query("INSERT INTO t_blob (id, size, b, digest) SELECT ?, ?, x.b, LEFT(MD5(x.b), 8) FROM (SELECT LEFT(REPEAT(UNHEX(SHA2(?, 256)), ?), ?) AS b) x", [n, size, `blob ${n}`, Math.ceil(size / 32), size]);
        if (n % 4 === 0) await c.query("DELETE FROM t_blob WHERE id < ? AND size < 5000", [n - 50]);
        return;
      }
      case "xa": {
        const xid = `kb-mix-${process.pid}-${n}`;
        const shape = Math.floor(n / 12) % 3;
        await c.query("XA START ?", [xid]);
        await c.query("INSERT INTO t_xa (k, note) VALUES (?, ?), (?, ?)", [n * 2, `${xid} a`, n * 2 + 1, `${xid} b`]);
        await c.query("XA END ?", [xid]);
        if (shape === 0) await c.query("XA COMMIT ? ONE PHASE", [xid]);
        else {
          await c.query("XA PREPARE ?", [xid]);
          await c.query(shape === 1 ? "XA COMMIT ?" : "XA ROLLBACK ?", [xid]);
        }
        return;
      }
      case "myisam":
        await c.query("INSERT INTO t_myisam (note) VALUES (?), (?)", [`myisam ${n}`, `myisam ${n} second`]);
        return;
      case "big": {
        // Every third one: a transaction of about 1.3 MiB, larger than a Raft entry (fragments).
        const large = this.bigs++ % 3 === 0;
        await c.query("BEGIN");
        await c.query(`INSERT INTO t_big (batch, k, note, payload) SELECT ?, seq, CONCAT('big ', ?, ' row ', seq), REPEAT(CHAR(65 + seq % 26), ?) FROM seq_1_to_${large ? 20 : 300}`, [n, n, large ? 64 * 1024 : 16]);
        await c.query("UPDATE t_big SET note = CONCAT(note, ' +') WHERE batch = ? AND k % 7 = 0", [n]);
        await c.query("DELETE FROM t_big WHERE batch < ? AND LENGTH(payload) <= 16", [n - 60]);
        await c.query("COMMIT");
        return;
      }
      case "ddl": {
        const step = this.ddlColumn++ % 4;
        if (step === 0) await c.query(`ALTER TABLE t_ddl ADD COLUMN c${n} INT NOT NULL DEFAULT ${n}`);
        else if (step === 1) await c.query("INSERT INTO t_ddl (v) VALUES (?), (?)", [`after ddl ${n}`, `second ${n}`]);
        else if (step === 2) await c.query(`CREATE TABLE t_copy_${n} ENGINE=InnoDB SELECT id, v FROM t_ddl`);
        else {
          const [rows] = await c.query<RowDataPacket[]>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE 't\\_copy\\_%'", [MIX_DB]);
          for (const r of rows) await c.query(`DROP TABLE \`${String(r.t)}\``);
          const [cols] = await c.query<RowDataPacket[]>("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = ? AND table_name = 't_ddl' AND column_name LIKE 'c%' ORDER BY ordinal_position", [MIX_DB]);
          if (cols.length > 3) await c.query(`ALTER TABLE t_ddl DROP COLUMN \`${String(cols[0]!.c)}\``);
        }
        return;
      }
    }
  }
}
