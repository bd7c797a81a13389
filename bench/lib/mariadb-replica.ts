/**
 * A real MariaDB replica attached directly to a primary, as the yardstick of the ingest benchmark:
 * whatever lag kingbus has pulling the primary's binlog, a plain MariaDB replica on the same
 * machine, fed by the same primary in the same run, has its own; kingbus should not be worse.
 *
 * The replica is configured the way a fair production replica would be, so that neither side gets
 * an easy ride (see FAIR_REPLICA and replicaArgs()):
 *
 * - Same durability as the primary and as kingbus: sync_binlog=1 and
 *   innodb_flush_log_at_trx_commit=1. Kingbus only counts a transaction once it is fsynced on a
 *   majority, so a replica that acknowledged from its page cache would be measured doing less
 *   work; with both at 1 the replica's gtid_slave_pos (an InnoDB table updated in the applying
 *   transaction) is crash-safe, which is what a replica you may promote needs.
 * - log_slave_updates on, the binlog on: a replica that can be promoted, or that serves others,
 *   writes the binlog too, as kingbus stores it.
 * - Parallel apply with slave_parallel_mode=optimistic (the 10.5+ default mode) and, in the
 *   ingest benchmark, as many slave_parallel_threads as the primary has writing clients (the
 *   library default is 16). A single SQL thread would be the easiest replica to beat, and no one
 *   runs a replica of a write-heavy primary that way; optimistic mode applies the transactions of
 *   a group commit (and beyond) in parallel and still commits them in the primary's order, so
 *   gtid_slave_pos only moves over whole prefixes. Enough workers to take a whole group commit at
 *   once is what a DBA would configure; on a small shared machine it also matters because the
 *   kernel shares the cores per runnable thread: a replica with 4 workers against a primary with
 *   32 busy connections gets a small slice of the CPU and falls behind for that reason alone.
 * - The same InnoDB sizing as the primary (productionInnodbArgs()): the data set fits in the
 *   buffer pool, a redo log large enough that checkpoints do not stall writes, doublewrite on.
 * - read_only on, as a replica is in production (the replication threads are not affected).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { Connection, RowDataPacket } from "mysql2/promise";
import { startMariadb, type MariadbServer } from "../../node/test-support/mariadb.ts";
import { progress } from "./report.ts";

/**
 * InnoDB settings of a server doing real work, overriding the small-test ones of
 * node/test-support/mariadb.ts (32 MiB buffer pool, 8 MiB redo log, no doublewrite).
 */
export function productionInnodbArgs(o: { bufferPoolMiB?: number; redoLogMiB?: number } = {}): string[] {
  return [
    `--innodb-buffer-pool-size=${o.bufferPoolMiB ?? 512}M`,
    `--innodb-log-file-size=${o.redoLogMiB ?? 256}M`,
    "--innodb-doublewrite=1",
    "--max-connections=512",
  ];
}

/** Durable the way a production primary is: every commit fsyncs the binlog and the redo log. */
export const DURABLE_ARGS = ["--sync-binlog=1", "--innodb-flush-log-at-trx-commit=1"];

export type ParallelMode = "none" | "minimal" | "conservative" | "optimistic" | "aggressive";

export interface ReplicaSettings {
  /** slave_parallel_threads (0: the SQL thread applies alone). */
  parallelThreads: number;
  /** slave_parallel_mode. */
  parallelMode: ParallelMode;
  /** sync_binlog=1 and innodb_flush_log_at_trx_commit=1 (else 0 and 2: fsync about once a second). */
  durable: boolean;
}

export const FAIR_REPLICA: Readonly<ReplicaSettings> = { parallelThreads: 16, parallelMode: "optimistic", durable: true };

/** The mariadbd options of a replica with these settings (the InnoDB sizing included). */
export function replicaArgs(s: ReplicaSettings): string[] {
  return [
    ...productionInnodbArgs(),
    ...(s.durable ? DURABLE_ARGS : ["--sync-binlog=0", "--innodb-flush-log-at-trx-commit=2"]),
    `--slave-parallel-threads=${s.parallelThreads}`,
    `--slave-parallel-mode=${s.parallelMode}`,
    "--log-slave-updates=ON",
    "--read-only=ON",
    // The relay log and its position need no fsync of their own: with GTIDs the replica restarts
    // from gtid_slave_pos and fetches again whatever the relay log lost.
    "--relay-log=relay-bin",
  ];
}

/** Where a replica pulls from. */
export interface PrimaryEndpoint {
  host: string;
  port: number;
  /** Default root. */
  user?: string;
  /** Default empty. */
  password?: string;
}

export interface SlaveStatus {
  ioRunning: string;
  sqlRunning: string;
  lastIoError: string;
  lastSqlError: string;
  secondsBehindMaster: number | null;
  gtidIoPos: string;
}

export interface MariadbReplica {
  readonly server: MariadbServer;
  readonly settings: ReplicaSettings;
  /** The mariadbd options it was started with (beyond the harness's own). */
  readonly args: string[];
  /** @@GLOBAL.gtid_slave_pos, read on a connection of its own (for a lag probe). */
  position(): Promise<string>;
  status(): Promise<SlaveStatus>;
  /** Throws when either replication thread stopped or reported an error. */
  check(): Promise<SlaveStatus>;
  /** Process id of the mariadbd, for CPU accounting (undefined when unknown). */
  pid(): number | undefined;
  stop(): Promise<void>;
}

/** The pid a throwaway server wrote into its data directory. */
export function serverPid(server: MariadbServer): number | undefined {
  try {
    const pid = Number(readFileSync(join(server.dataDir, "mariadbd.pid"), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function text(v: unknown): string {
  return v === null || v === undefined ? "" : String(v);
}

async function readStatus(server: MariadbServer): Promise<SlaveStatus> {
  const rows = await server.query<RowDataPacket[]>("SHOW SLAVE STATUS");
  const r = rows[0];
  if (r === undefined) throw new Error(`replica ${server.serverId}: SHOW SLAVE STATUS is empty (not configured)`);
  const behind = r.Seconds_Behind_Master;
  return {
    ioRunning: text(r.Slave_IO_Running),
    sqlRunning: text(r.Slave_SQL_Running),
    lastIoError: text(r.Last_IO_Error),
    lastSqlError: text(r.Last_SQL_Error),
    secondsBehindMaster: behind === null || behind === undefined ? null : Number(behind),
    gtidIoPos: text(r.Gtid_IO_Pos),
  };
}

export interface StartReplicaOptions {
  settings?: ReplicaSettings;
  /** Default: the harness picks one. Must differ from the primary's. */
  serverId?: number;
  /** Default 0 (the replica writes nothing of its own). */
  gtidDomainId?: number;
  name?: string;
  /** More mariadbd options, appended last. */
  extraArgs?: string[];
  /** How long both replication threads may take to report Yes. Default 20 s. */
  runningTimeoutMs?: number;
}

/**
 * Starts a fresh MariaDB, points it at the primary by GTID (MASTER_USE_GTID=slave_pos, from an
 * empty gtid_slave_pos: the primary's whole binlog) and starts replication; resolves once both
 * threads run, throws with SHOW SLAVE STATUS's errors otherwise.
 */
export async function startReplica(primary: PrimaryEndpoint, o: StartReplicaOptions = {}): Promise<MariadbReplica> {
  const settings = { ...FAIR_REPLICA, ...o.settings };
  const args = [...replicaArgs(settings), ...(o.extraArgs ?? [])];
  const server = await startMariadb({ name: o.name ?? "replica", serverId: o.serverId, gtidDomainId: o.gtidDomainId ?? 0, extraArgs: args });
  let probe: Connection | undefined;
  try {
    await server.query(
      "CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
      [primary.host, primary.port, primary.user ?? "root", primary.password ?? ""],
    );
    await server.query("START SLAVE");
    const deadline = performance.now() + (o.runningTimeoutMs ?? 20_000);
    for (;;) {
      const s = await readStatus(server);
      if (s.lastIoError || s.lastSqlError) throw new Error(`replica ${server.serverId}: ${s.lastIoError || s.lastSqlError}`);
      if (s.ioRunning === "Yes" && s.sqlRunning === "Yes") break;
      if (performance.now() > deadline) throw new Error(`replica ${server.serverId}: IO thread ${s.ioRunning}, SQL thread ${s.sqlRunning} after ${o.runningTimeoutMs ?? 20_000} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    progress(`replica ${server.serverId} on port ${server.port} replicating from ${primary.host}:${primary.port} (parallel threads ${settings.parallelThreads}, ${settings.parallelMode}, ${settings.durable ? "durable" : "relaxed durability"})`);
  } catch (e) {
    await server.stop();
    throw e;
  }
  const replica: MariadbReplica = {
    server,
    settings,
    args,
    async position() {
      probe ??= await server.connect();
      const [rows] = await probe.query<RowDataPacket[]>("SELECT @@GLOBAL.gtid_slave_pos AS pos");
      return text(rows[0]?.pos);
    },
    status: () => readStatus(server),
    async check() {
      const s = await readStatus(server);
      if (s.lastIoError || s.lastSqlError || s.ioRunning !== "Yes" || s.sqlRunning !== "Yes") {
        throw new Error(`replica ${server.serverId} broke: IO ${s.ioRunning} ${s.lastIoError}; SQL ${s.sqlRunning} ${s.lastSqlError}`);
      }
      return s;
    },
    pid: () => serverPid(server),
    async stop() {
      probe?.destroy();
      probe = undefined;
      await server.stop();
    },
  };
  return replica;
}
