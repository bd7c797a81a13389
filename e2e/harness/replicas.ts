/**
 * Real MariaDB replicas of kingbus, attached the way users attach them: CHANGE MASTER TO the
 * kingbus Service (a TcpProxy in front of the pods' binlog servers), either by GTID
 * (MASTER_USE_GTID=slave_pos) or by file and position (MASTER_USE_GTID=no from the primary's
 * first binlog file). MASTER_CONNECT_RETRY=1 and MASTER_HEARTBEAT_PERIOD=1, so a replica whose pod
 * died is back on another pod within a second or two.
 */
import type { Connection, RowDataPacket } from "mysql2/promise";
import { MariadbGtidPosition } from "../../node/src/binlog/gtid-mariadb.ts";
import { startMariadb, type MariadbServer } from "../../node/test-support/mariadb.ts";
import { log } from "./log.ts";

export const SERVER_USER = "kb_replica";
export const SERVER_PASSWORD = "kb-replica-Pa55";

export type AttachMode = "gtid" | { file: string; position: number };

export interface ReplicaStatus {
  io: string;
  sql: string;
  ioErrno: number;
  ioError: string;
  sqlErrno: number;
  sqlError: string;
  masterFile: string;
  readPos: number;
  usingGtid: string;
}

export class KingbusReplica {
  readonly name: string;
  readonly server: MariadbServer;
  mode: AttachMode = "gtid";
  private probe: Connection | undefined;

  private constructor(name: string, server: MariadbServer) {
    this.name = name;
    this.server = server;
  }

  /** Starts a fresh MariaDB to be attached later (attach()). */
  static async create(name: string): Promise<KingbusReplica> {
    // One SQL thread: the workloads write dependent transactions under different GTID domains
    // (a table created in one, filled in another), which parallel replication would reorder.
    const server = await startMariadb({ name, extraArgs: ["--slave-net-timeout=10"] });
    return new KingbusReplica(name, server);
  }

  /** CHANGE MASTER TO kingbus at `port` (the Service), then START SLAVE. */
  async attach(port: number, mode: AttachMode): Promise<void> {
    this.mode = mode;
    const how = this.mode === "gtid" ? "MASTER_USE_GTID=slave_pos" : `MASTER_USE_GTID=no, MASTER_LOG_FILE='${this.mode.file}', MASTER_LOG_POS=${this.mode.position}`;
    await this.server.query(
      `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${port}, MASTER_USER='${SERVER_USER}', MASTER_PASSWORD='${SERVER_PASSWORD}', ` +
        `MASTER_HEARTBEAT_PERIOD=1, MASTER_CONNECT_RETRY=1, ${how}`,
    );
    await this.server.query("START SLAVE");
    log(`replica ${this.name} (port ${this.server.port}) attached to kingbus on port ${port} by ${this.mode === "gtid" ? "GTID" : "file and position"}`);
  }

  /** @@gtid_slave_pos, on a connection of its own. */
  async position(): Promise<string> {
    if (!this.probe) {
      const c = await this.server.connect();
      this.probe = c;
    }
    try {
      const [rows] = await this.probe.query<RowDataPacket[]>("SELECT @@GLOBAL.gtid_slave_pos AS pos");
      return String(rows[0]?.pos ?? "");
    } catch (e) {
      this.probe?.destroy();
      this.probe = undefined;
      throw e;
    }
  }

  async status(): Promise<ReplicaStatus> {
    const rows = await this.server.query<RowDataPacket[]>("SHOW SLAVE STATUS");
    const r = rows[0];
    if (!r) throw new Error(`replica ${this.name}: not configured`);
    return {
      io: String(r.Slave_IO_Running),
      sql: String(r.Slave_SQL_Running),
      ioErrno: Number(r.Last_IO_Errno),
      ioError: String(r.Last_IO_Error ?? ""),
      sqlErrno: Number(r.Last_SQL_Errno),
      sqlError: String(r.Last_SQL_Error ?? ""),
      masterFile: String(r.Master_Log_File ?? ""),
      readPos: Number(r.Read_Master_Log_Pos ?? 0),
      usingGtid: String(r.Using_Gtid ?? ""),
    };
  }

  /**
   * Throws when the SQL thread stopped or reported an error. An IO thread error is normal while
   * its pod is down (it reconnects), so only a stopped IO thread counts.
   */
  async check(): Promise<ReplicaStatus> {
    const s = await this.status();
    if (s.sqlErrno !== 0 || s.sql !== "Yes") throw new Error(`replica ${this.name}: SQL thread ${s.sql}, error ${s.sqlErrno} ${s.sqlError}`);
    if (s.io === "No") throw new Error(`replica ${this.name}: IO thread stopped, error ${s.ioErrno} ${s.ioError}`);
    return s;
  }

  /** Waits for gtid_slave_pos to equal `target`; fails at once if replication broke. */
  async waitFor(target: string, timeoutMs: number): Promise<void> {
    const want = MariadbGtidPosition.parse(target);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const last = await this.position();
      if (MariadbGtidPosition.parse(last).equals(want)) return;
      const s = await this.check();
      if (Date.now() > deadline) throw new Error(`replica ${this.name} at ${last}, not at ${target} within ${timeoutMs} ms (IO ${s.io} ${s.ioErrno} ${s.ioError})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    this.probe?.destroy();
    this.probe = undefined;
    await this.server.stop();
  }
}

/** Databases that hold data (everything but MariaDB's own). */
export async function userDatabases(server: MariadbServer): Promise<string[]> {
  const rows = await server.query<RowDataPacket[]>(
    "SELECT schema_name AS s FROM information_schema.schemata WHERE schema_name NOT IN ('mysql','information_schema','performance_schema','sys') ORDER BY schema_name",
  );
  return rows.map((r) => String(r.s));
}

/** CHECKSUM TABLE ... EXTENDED of every table of every user database: "db.table" -> checksum. */
export async function tableChecksums(server: MariadbServer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const db of await userDatabases(server)) {
    const tables = await server.query<RowDataPacket[]>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY table_name", [db]);
    for (const { t } of tables) {
      const [row] = await server.query<RowDataPacket[]>(`CHECKSUM TABLE \`${db}\`.\`${String(t)}\` EXTENDED`);
      out[`${db}.${String(t)}`] = String(row!.Checksum);
    }
  }
  return out;
}
