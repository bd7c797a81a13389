/**
 * Test helpers for real replicas of kingbus: start the binlog server on cluster nodes through the
 * admin API, point a real MariaDB replica at a pod, wait for it, compare table checksums.
 */
import assert from "node:assert/strict";
import type { KingbusCluster } from "../../../test-support/kingbus-cluster.ts";
import type { MariadbServer } from "../../../test-support/mariadb.ts";
import { freePort } from "../../../test-support/ports.ts";
import { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";

export const SERVER_USER = "kb_down";
export const SERVER_PASSWORD = "kb-down-Secret-77";

/** PUT /binlog/server/start on each node; returns the MySQL port of each. */
export async function startServers(cluster: KingbusCluster, ids: number[]): Promise<Map<number, number>> {
  const ports = new Map<number, number>();
  for (const id of ids) {
    const port = await freePort();
    const r = await cluster.call<string>(id, "PUT", "/binlog/server/start", JSON.stringify({ addr: `127.0.0.1:${port}`, user: SERVER_USER, password: SERVER_PASSWORD }));
    assert.equal(r.status, 200, `PUT /binlog/server/start on node ${id}: ${r.message}`);
    ports.set(id, port);
  }
  return ports;
}

export interface SlaveStatus {
  Slave_IO_Running: string;
  Slave_SQL_Running: string;
  Last_IO_Errno: number;
  Last_IO_Error: string;
  Last_SQL_Errno: number;
  Last_SQL_Error: string;
  Gtid_IO_Pos: string;
  Master_Log_File: string;
  Read_Master_Log_Pos: number;
  Relay_Master_Log_File: string;
  Exec_Master_Log_Pos: number;
  Master_Server_Id: number;
  Using_Gtid: string;
}

export async function slaveStatus(replica: MariadbServer): Promise<SlaveStatus> {
  const rows = await replica.query("SHOW SLAVE STATUS");
  assert.equal(rows.length, 1, "one replication connection");
  return rows[0] as unknown as SlaveStatus;
}

/** Points the replica at a kingbus pod (a fresh CHANGE MASTER: slave threads must be stopped). */
export async function pointReplica(replica: MariadbServer, port: number, how: "slave_pos" | { file: string; position: number }): Promise<void> {
  const mode = how === "slave_pos" ? ", MASTER_USE_GTID=slave_pos" : `, MASTER_USE_GTID=no, MASTER_LOG_FILE='${how.file}', MASTER_LOG_POS=${how.position}`;
  await replica.query(
    `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${port}, MASTER_USER='${SERVER_USER}', MASTER_PASSWORD='${SERVER_PASSWORD}', ` +
      `MASTER_HEARTBEAT_PERIOD=1, MASTER_CONNECT_RETRY=1${mode}`,
  );
}

/** Waits until the replica's gtid_slave_pos is `want`, failing at once on a replication error. */
export async function waitForReplica(replica: MariadbServer, want: string, timeoutMs = 60_000): Promise<number> {
  const began = performance.now();
  const target = MariadbGtidPosition.parse(want);
  for (;;) {
    const [row] = await replica.query("SELECT @@GLOBAL.gtid_slave_pos AS pos");
    const last = String(row!.pos);
    if (MariadbGtidPosition.parse(last).equals(target)) return performance.now() - began;
    const status = await slaveStatus(replica);
    if (status.Last_IO_Errno || status.Last_SQL_Errno) {
      const log = replica.errorLog().split("\n").slice(-15).join("\n");
      assert.fail(`replica stopped: IO ${status.Last_IO_Errno} ${status.Last_IO_Error} / SQL ${status.Last_SQL_Errno} ${status.Last_SQL_Error}\n${log}`);
    }
    if (performance.now() - began > timeoutMs) assert.fail(`replica at ${last}, expected ${want}; status: ${JSON.stringify(status)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** CHECKSUM TABLE ... EXTENDED of every table of the databases. */
export async function checksums(server: MariadbServer, databases: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const db of databases) {
    const tables = await server.query("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name", [db]);
    for (const { t } of tables) {
      const [row] = await server.query(`CHECKSUM TABLE \`${db}\`.\`${String(t)}\` EXTENDED`);
      out[`${db}.${String(t)}`] = String(row!.Checksum);
    }
  }
  return out;
}
