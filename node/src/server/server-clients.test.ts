/**
 * The binlog server of a kingbus pod under many clients and bad ones: a real MariaDB 10.11 primary,
 * three real `kingbus node` processes, the server on a follower pod.
 *  - 50 binlog clients dump at once (MariaDB GTID protocol, from the beginning, blocking): every
 *    one gets the primary's files byte for byte, the pod lists all 50, and a commit made while
 *    they wait reaches every one of them;
 *  - while they stream, bad clients get MySQL errors and the others go on: a wrong password
 *    (1045), an unknown command (1047), a malformed dump request, a packet over max_allowed_packet
 *    (1153), unknown statements and variables (1064, 1193), a GTID the log does not hold and a file
 *    it does not have (1236);
 *  - the pod restarted goes on serving on the same port (its configuration survives), a stop ends
 *    the listener.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { after, before, describe, it } from "node:test";
import { EventFlag, EventType } from "../binlog/event-type.ts";
import { KingbusCluster } from "../../test-support/kingbus-cluster.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../test-support/mariadb.ts";
import { asSentOnTheWire, createReplicationUser, startSyncer, waitForPosition } from "../../test-support/syncer-harness.ts";
import { runMixedWorkload } from "../../test-support/workload.ts";
import { Command } from "../mysql/wire/constants.ts";
import { decodeErr, isErrPacket } from "../mysql/wire/messages.ts";
import { encodeBinlogDump, RawClient, ServerErrorReply } from "../mysql/server/testing/raw-client.ts";
import { SERVER_PASSWORD, SERVER_USER, startServers } from "./testing/replica.ts";

const skip = mariadbSkip();
const CLIENTS = 50;
const SEND_ANNOTATE_ROWS = 0x02;

/** A binlog client reading a blocking dump: the events per file, as received. */
class StreamingClient {
  readonly files = new Map<string, Buffer[]>();
  private file = "";
  bytes = 0;
  error: unknown;
  private waiters: Array<{ text: string; resolve: () => void }> = [];
  private readonly seen: string[] = [];
  readonly done: Promise<void>;

  readonly client: RawClient;

  private constructor(client: RawClient) {
    this.client = client;
    this.done = this.loop();
  }

  static async start(port: number, serverId: number): Promise<StreamingClient> {
    const c = await RawClient.connect({ host: "127.0.0.1", port, user: SERVER_USER, password: SERVER_PASSWORD });
    await c.query("SET @master_binlog_checksum = @@global.binlog_checksum");
    await c.query("SET @mariadb_slave_capability = 4, @slave_connect_state = '', @master_heartbeat_period = 500000000");
    await c.command(encodeBinlogDump("", 4, SEND_ANNOTATE_ROWS, serverId));
    return new StreamingClient(c);
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        const packet = await this.client.read(60_000);
        if (isErrPacket(packet)) throw new ServerErrorReply(decodeErr(packet));
        const event = packet.subarray(1);
        this.bytes += event.length;
        const type = event[4]!;
        const flags = event.readUInt16LE(17);
        if (type === EventType.ROTATE && flags & EventFlag.ARTIFICIAL) {
          this.file = event.subarray(19 + 8, event.length - 4).toString("utf8");
          continue;
        }
        if (type === EventType.HEARTBEAT) continue;
        let list = this.files.get(this.file);
        if (!list) this.files.set(this.file, (list = []));
        list.push(Buffer.from(event));
        if (this.waiters.length > 0 && type === EventType.QUERY) {
          const text = event.toString("latin1");
          this.waiters = this.waiters.filter((w) => (text.includes(w.text) ? (w.resolve(), false) : true));
          this.seen.push(text);
        }
      }
    } catch (e) {
      this.error = e;
    }
  }

  /** Resolves when a QUERY event containing `text` arrived. */
  waitFor(text: string): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ text, resolve }));
  }

  close(): void {
    this.client.destroy();
  }
}

describe("binlog server: 50 clients at once, bad clients, restarts", { skip }, () => {
  let primary: MariadbServer;
  let cluster: KingbusCluster;
  let pod: number;
  let port: number;

  before(async () => {
    [primary, cluster] = await Promise.all([startMariadb({ name: "srv-clients-primary" }), KingbusCluster.create(3)]);
    await createReplicationUser(primary);
    const leader = await cluster.waitForLeader();
    pod = cluster.nodes.map((n) => n.id).find((id) => id !== leader)!;
    await startSyncer(cluster, pod, primary);
    await runMixedWorkload(primary, { domains: [0, 5], database: "kb_clients" });
    await primary.flushBinaryLogs();
    await primary.query("CREATE TABLE kb_clients.t_after (id INT PRIMARY KEY) ENGINE=InnoDB");
    await waitForPosition(cluster, [pod], await primary.gtidBinlogPos());
    port = (await startServers(cluster, [pod])).get(pod)!;
  });

  after(async () => {
    await cluster?.stop();
    await stopAllMariadb();
  });

  it("serves 50 binlog clients at once, every one the primary's bytes, and bad clients get errors", async () => {
    const began = performance.now();
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => StreamingClient.start(port, 6000 + i)));
    try {
      // All 50 dumps are running on the pod, and listed.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const s = await cluster.call<{ slaves: Array<{ server_id: number }> }>(pod, "GET", "/binlog/server/status");
        const ids = new Set(s.data.slaves.map((r) => r.server_id));
        if (Array.from({ length: CLIENTS }, (_, i) => 6000 + i).every((id) => ids.has(id))) break;
        assert.ok(Date.now() < deadline, `the pod lists ${ids.size} of ${CLIENTS} clients`);
        await new Promise((r) => setTimeout(r, 50));
      }

      // Bad clients, while the 50 stream.
      await assert.rejects(RawClient.connect({ host: "127.0.0.1", port, user: SERVER_USER, password: "wrong" }), (e: unknown) => e instanceof ServerErrorReply && e.errno === 1045);
      await assert.rejects(RawClient.connect({ host: "127.0.0.1", port, user: "nobody", password: SERVER_PASSWORD }), (e: unknown) => e instanceof ServerErrorReply && e.errno === 1045);
      const bad = await RawClient.connect({ host: "127.0.0.1", port, user: SERVER_USER, password: SERVER_PASSWORD });
      const errno = async (run: () => Promise<unknown>): Promise<number> => {
        const e = await run().then(() => undefined, (x: unknown) => x);
        assert.ok(e instanceof ServerErrorReply, String(e));
        return e.errno;
      };
      assert.equal(await errno(() => bad.query("SELEKT 1")), 1064);
      assert.equal(await errno(() => bad.query("SELECT @@no_such_variable")), 1193);
      assert.equal(await errno(() => bad.query("DROP TABLE kb_clients.t_after")), 1235);
      await bad.command(Buffer.of(0x99));
      const unknown = await bad.read();
      assert.ok(isErrPacket(unknown) && decodeErr(unknown).errno === 1047);
      assert.equal(await bad.value("SELECT @@server_id"), "4001", "the connection still answers; server_id is the syncer's");
      assert.match(String(await bad.value("SELECT @@version")), /MariaDB/);
      await bad.command(Buffer.of(Command.BINLOG_DUMP, 1, 2));
      const malformed = await bad.read();
      assert.ok(isErrPacket(malformed), "a short COM_BINLOG_DUMP gets an ERR packet");
      // A GTID the log does not hold, and a file it does not have: 1236.
      for (const [vars, file] of [["SET @mariadb_slave_capability = 4, @slave_connect_state = '0-1001-999999'", ""], ["SET @mariadb_slave_capability = 4", "mariadb-bin.999999"]] as const) {
        const c = await RawClient.connect({ host: "127.0.0.1", port, user: SERVER_USER, password: SERVER_PASSWORD });
        await c.query("SET @master_binlog_checksum = 'CRC32'");
        await c.query(vars);
        await c.command(encodeBinlogDump(file, 4, 0, 7999));
        const reply = await c.read();
        assert.ok(isErrPacket(reply));
        const err = decodeErr(reply);
        assert.equal(err.errno, 1236, err.message);
        assert.match(err.message, file ? /Could not find first log file/ : /not in the master's binlog/);
        c.destroy();
      }
      // A packet over max_allowed_packet (16 MiB): ERR 1153, that connection closed.
      const big = await RawClient.connect({ host: "127.0.0.1", port, user: SERVER_USER, password: SERVER_PASSWORD });
      await big.command(Buffer.concat([Buffer.of(Command.QUERY), Buffer.alloc(17 * 1024 * 1024, 0x20)]));
      // As MariaDB does, the server answers after the first packet's header: sequence id 1.
      big.packets.sequenceId = 1;
      const tooBig = await big.read();
      assert.ok(isErrPacket(tooBig) && decodeErr(tooBig).errno === 1153, "ERR 1153");
      big.destroy();
      bad.destroy();

      // A commit made while all 50 wait reaches every one.
      const marker = `kb_marker_${Date.now()}`;
      const reached = clients.map((c) => c.waitFor(marker));
      const committedAt = performance.now();
      await primary.query(`CREATE TABLE kb_clients.${marker} (id INT) ENGINE=InnoDB`);
      await Promise.all(reached);
      const fanoutMs = performance.now() - committedAt;
      for (const c of clients) assert.equal(c.error, undefined, String(c.error));

      // Every client holds the primary's files, byte for byte.
      const files = await primary.binlogFiles();
      for (const [i, path] of files.entries()) {
        const want = (i === files.length - 1 ? asSentOnTheWire(readFileSync(path)) : readFileSync(path)).subarray(4);
        for (const [k, c] of clients.entries()) {
          const got = Buffer.concat(c.files.get(basename(path)) ?? []);
          assert.ok(got.equals(want), `client ${k}: ${basename(path)} (${got.length} bytes, primary ${want.length})`);
        }
      }
      const total = clients.reduce((n, c) => n + c.bytes, 0);
      process.stderr.write(`# ${CLIENTS} clients: ${(total / 1e6).toFixed(1)} MB served in ${((performance.now() - began) / 1000).toFixed(1)} s; a commit reached all ${CLIENTS} in ${fanoutMs.toFixed(0)} ms\n`);
    } finally {
      for (const c of clients) c.close();
    }
  });

  it("a restarted pod serves again on the same port; a stop ends the listener", async () => {
    await cluster.kill(pod, "SIGTERM");
    cluster.start(pod);
    const deadline = Date.now() + 20_000;
    let c: RawClient | undefined;
    while (!c) {
      c = await RawClient.connect({ host: "127.0.0.1", port, user: SERVER_USER, password: SERVER_PASSWORD }).catch(() => undefined);
      if (!c) {
        assert.ok(Date.now() < deadline, "the restarted pod listens again");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // It listens only once it applied what was committed when it started: all of it.
    assert.equal(await c.value("SELECT @@gtid_binlog_pos"), await primary.gtidBinlogPos());
    c.destroy();
    const stop = await cluster.call<string>(pod, "PUT", "/binlog/server/stop");
    assert.equal(stop.status, 200);
    const status = await cluster.call<{ status: string }>(pod, "GET", "/binlog/server/status");
    assert.equal(status.data.status, "stopped");
    await assert.rejects(RawClient.connect({ host: "127.0.0.1", port, user: SERVER_USER, password: SERVER_PASSWORD }));
  });
});
