/**
 * What the syncer tests share: a primary with a replication user, the kingbus admin calls that
 * start the syncer, waiting for the log to hold the primary's GTIDs, and comparing the stored
 * files with the primary's own binlog files byte for byte.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { computeEventChecksum } from "../src/binlog/checksum.ts";
import { EventFlag } from "../src/binlog/event-type.ts";
import { MariadbGtidPosition } from "../src/binlog/gtid-mariadb.ts";
import type { KingbusCluster } from "./kingbus-cluster.ts";
import type { MariadbServer } from "./mariadb.ts";

export const REPL_USER = "kb_repl";
export const REPL_PASSWORD = "kb-secret-Pa55";

export async function createReplicationUser(primary: MariadbServer): Promise<void> {
  await primary.query(`CREATE USER IF NOT EXISTS '${REPL_USER}'@'%' IDENTIFIED BY '${REPL_PASSWORD}'`);
  await primary.query(`GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '${REPL_USER}'@'%'`);
}

export interface DebugBinlog {
  flavor: string;
  executed: string;
  position: { file: string; pos: number } | null;
  lastGtid: string;
  transactions: number;
  abandonedFragments: number;
  applied: number;
  files?: Record<string, string>;
  syncer: { phase: string; lastError?: string; connects: number };
}

export async function debugBinlog(cluster: KingbusCluster, id: number, files = false): Promise<DebugBinlog> {
  const r = await fetch(`http://127.0.0.1:${cluster.node(id).httpPort}/debug/binlog${files ? "?files=1" : ""}`, { signal: AbortSignal.timeout(30_000) });
  const json = (await r.json()) as { data: DebugBinlog; message: string };
  if (r.status !== 200) throw new Error(`/debug/binlog of node ${id}: ${r.status} ${json.message}`);
  return json.data;
}

export function syncerStartBody(primary: MariadbServer, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    syncer_id: 4001,
    syncer_uuid: "0b7a3f5e-2d1c-11ef-9a31-0242ac120002",
    mysql_addr: `127.0.0.1:${primary.port}`,
    mysql_user: REPL_USER,
    mysql_password: REPL_PASSWORD,
    heartbeat_period: 0.5,
    ...extra,
  });
}

/** Stops the syncer (committed: later leaders stay stopped). */
export async function stopSyncer(cluster: KingbusCluster, via: number): Promise<void> {
  const r = await cluster.call<string>(via, "PUT", "/binlog/syncer/stop");
  assert.equal(r.status, 200, `PUT /binlog/syncer/stop: ${r.message}`);
}

/** Re-points the syncer: a stop, then a start with the new primary (a running syncer refuses a start). */
export async function repointSyncer(cluster: KingbusCluster, via: number, primary: MariadbServer): Promise<void> {
  await stopSyncer(cluster, via);
  await startSyncer(cluster, via, primary);
}

export async function startSyncer(cluster: KingbusCluster, via: number, primary: MariadbServer, extra: Record<string, unknown> = {}): Promise<void> {
  const r = await cluster.call<string>(via, "PUT", "/binlog/syncer/start", syncerStartBody(primary, extra));
  assert.equal(r.status, 200, `PUT /binlog/syncer/start: ${r.message}`);
}

/** Waits until every listed node applied the primary's whole GTID position. */
export async function waitForPosition(cluster: KingbusCluster, ids: number[], target: string, timeoutMs = 60_000): Promise<void> {
  const want = MariadbGtidPosition.parse(target);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(ids.map((id) => debugBinlog(cluster, id).catch(() => undefined)));
    if (states.every((s) => s !== undefined && MariadbGtidPosition.parse(s.executed).equals(want))) return;
    if (Date.now() > deadline) throw new Error(`not at ${target} within ${timeoutMs} ms: ${JSON.stringify(states.map((s) => s && { executed: s.executed, syncer: s.syncer }))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The primary's file as a replica receives it: the FDE of the file still being written has its
 * IN_USE flag cleared (and its CRC with it); closed files are sent as they are.
 */
export function asSentOnTheWire(file: Buffer): Buffer {
  const out = Buffer.from(file);
  const fdeAt = 4;
  const flags = out.readUInt16LE(fdeAt + 17);
  if ((flags & EventFlag.BINLOG_IN_USE) === 0) return out;
  out.writeUInt16LE(flags & ~EventFlag.BINLOG_IN_USE, fdeAt + 17);
  const size = out.readUInt32LE(fdeAt + 9);
  // The FDE always ends in algorithm + CRC; a CRC of 0 would mean the primary wrote none.
  if (out.readUInt32LE(fdeAt + size - 4) !== 0) out.writeUInt32LE(computeEventChecksum(out.subarray(fdeAt, fdeAt + size - 4)), fdeAt + size - 4);
  return out;
}

/** Every binlog file of the primary equals the node's stored copy (from the first stored file on). */
export async function assertFilesIdentical(cluster: KingbusCluster, id: number, primary: MariadbServer): Promise<number> {
  const stored = (await debugBinlog(cluster, id, true)).files ?? {};
  const names = Object.keys(stored);
  assert.ok(names.length > 0, `node ${id} stores no file`);
  let compared = 0;
  for (const path of await primary.binlogFiles()) {
    const name = basename(path);
    if (!(name in stored)) continue;
    const want = asSentOnTheWire(readFileSync(path)).subarray(4);
    const got = Buffer.from(stored[name]!, "base64");
    if (!got.equals(want)) {
      let at = 0;
      while (at < Math.min(got.length, want.length) && got[at] === want[at]) at++;
      assert.fail(`node ${id}: ${name} differs from the primary's at byte ${at + 4} (stored ${got.length + 4} bytes, primary ${want.length + 4})`);
    }
    compared++;
  }
  assert.equal(compared, names.length, `node ${id} stores files the primary does not have: ${names.join(", ")}`);
  return compared;
}
