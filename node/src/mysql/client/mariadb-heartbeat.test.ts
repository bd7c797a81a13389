/**
 * Heartbeats and the watchdog against a real MariaDB 10.11 primary: an idle primary keeps the
 * dump alive with a HEARTBEAT every period (yielded with `heartbeat: true`: body = current file,
 * log_pos = current end); a frozen primary (SIGSTOP) fails the stream with HeartbeatTimeoutError
 * after 2 periods of silence; a primary that kills the dump ends it with a typed error.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";
import { readEventHeader } from "../../binlog/header.ts";
import { mariadbSkip, startMariadb, stopAllMariadb } from "../../../test-support/mariadb.ts";
import type { MariadbServer } from "../../../test-support/mariadb.ts";
import { HeartbeatTimeoutError, PrimaryDisconnectedError } from "./errors.ts";
import { binaryLogs, Collector, connectTo, serverPid } from "./test-helpers.ts";

const skip = mariadbSkip();
after(() => stopAllMariadb());

const PERIOD_MS = 500;

async function dumpThreads(server: MariadbServer): Promise<number[]> {
  const rows = await server.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND = 'Binlog Dump'");
  return rows.map((r) => Number(r.id));
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  for (const deadline = performance.now() + timeoutMs; performance.now() < deadline; ) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test("an idle primary sends a heartbeat every period; a frozen one fails the stream with HeartbeatTimeoutError within 2 periods", { skip, timeout: 60_000 }, async () => {
  const server = await startMariadb({ serverId: 61, name: "client-heartbeat" });
  await server.query("CREATE DATABASE h");
  const [current] = (await binaryLogs(server)).slice(-1);
  const conn = await connectTo(server, { serverId: 6101, heartbeatPeriodMs: PERIOD_MS });
  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.parse(await server.gtidBinlogPos()) });
  const collector = new Collector(stream);
  const pid = serverPid(server);
  let stoppedAt: number | undefined;
  try {
    // Idle for 4 periods: the stream stays open and heartbeats arrive about every period.
    await new Promise((resolve) => setTimeout(resolve, 4 * PERIOD_MS + 200));
    const heartbeats = collector.events.filter((e) => e.heartbeat);
    assert.ok(heartbeats.length >= 3, `${heartbeats.length} heartbeats in ${4 * PERIOD_MS + 200} ms`);
    for (const h of heartbeats) {
      const header = readEventHeader(h.bytes);
      assert.equal(header.timestamp, 0);
      assert.equal(header.logPos, current!.size, "heartbeat log_pos = the primary's current position");
      assert.equal(h.file, current!.name, "heartbeat body = the primary's current file");
      assert.equal(h.artificial, true);
      assert.equal(h.ackRequested, false);
    }
    const gaps = heartbeats.slice(1).map((h, i) => h.at - heartbeats[i]!.at);
    assert.ok(gaps.every((gap) => gap > PERIOD_MS * 0.7 && gap < PERIOD_MS * 1.5), `gaps between heartbeats: ${gaps.map(Math.round).join(", ")} ms`);
    assert.equal(collector.error, undefined);

    // Freeze the primary: its kernel keeps the TCP connection up, but nothing more is sent.
    const lastPacketAt = collector.events.at(-1)!.at;
    process.kill(pid, "SIGSTOP");
    stoppedAt = performance.now();
    await collector.finished;
    const failedAt = performance.now();
    const error = collector.failure();
    assert.ok(error instanceof HeartbeatTimeoutError, String(error));
    assert.equal(error.code, "PRIMARY_HEARTBEAT_TIMEOUT");
    assert.ok(error.silentMs >= 2 * PERIOD_MS, `silent ${error.silentMs} ms`);
    assert.ok(failedAt - lastPacketAt < 2 * PERIOD_MS + 300, `failed ${Math.round(failedAt - lastPacketAt)} ms after the last packet`);
    console.log(`# heartbeat gaps ${gaps.map(Math.round).join("/")} ms; watchdog fired ${Math.round(failedAt - stoppedAt)} ms after SIGSTOP, ${Math.round(failedAt - lastPacketAt)} ms after the last heartbeat`);
  } finally {
    if (stoppedAt !== undefined) process.kill(pid, "SIGCONT");
    await stream.close();
  }
  // The connection was destroyed: once running again, the primary's dump thread goes away.
  await eventually("the primary's dump thread to end", async () => (await dumpThreads(server)).length === 0);
});

test("a dump killed on the primary ends the stream with PrimaryDisconnectedError (MariaDB sends no error packet)", { skip, timeout: 60_000 }, async () => {
  const server = await startMariadb({ serverId: 62, name: "client-kill" });
  await server.query("CREATE DATABASE k");
  const conn = await connectTo(server, { serverId: 6201, heartbeatPeriodMs: PERIOD_MS });
  const stream = await conn.dump({ flavor: "mariadb", position: MariadbGtidPosition.empty() });
  const collector = new Collector(stream);
  try {
    await collector.until((e) => e.heartbeat, 5_000, "a first heartbeat");
    await eventually("the dump thread to show", async () => (await dumpThreads(server)).length === 1);
    const [thread] = await dumpThreads(server);
    await server.query(`KILL ${thread}`);
    await collector.finished;
    const error = collector.error;
    assert.ok(error instanceof PrimaryDisconnectedError, String(error));
    assert.equal(error.code, "PRIMARY_DISCONNECTED");
    assert.match(error.message, /lost during the binlog dump/);
    console.log(`# KILL of the dump thread: ${error.constructor.name}: ${error.message}`);
  } finally {
    await stream.close();
  }
});
