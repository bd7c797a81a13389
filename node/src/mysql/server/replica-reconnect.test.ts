/**
 * A real MariaDB 10.11 replica whose connection breaks while it sets up its session, the way it
 * breaks when the kingbus pod it reached stops or restarts: the reply to one of its commands
 * arrives, then the connection is reset before the replica sends the next one.
 *
 * The replica's client library (the IO thread runs with mysql->reconnect = 1) then reconnects by
 * itself and sends that next command again on a new session, without the @variables the replica
 * set on the old one: COM_BINLOG_DUMP arrives on a session that never announced
 * @mariadb_slave_capability. The server must not answer 1236 there (the IO thread would stop for
 * good): it answers an error the replica reconnects on, the replica sets up a whole session
 * again, and replicates.
 *
 * The reset is made deterministic by stopping mariadbd (SIGSTOP) while the reply and then the
 * reset reach its socket, and letting it go on (SIGCONT) once both are there.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { MariadbGtidState } from "../../binlog/gtid-mariadb.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../../test-support/mariadb.ts";
import { Command } from "../wire/constants.ts";
import { BinlogServer } from "./binlog-server.ts";
import { MariadbFileBuilder, MemoryBinlogFeed } from "./testing/memory-feed.ts";

const skip = process.platform === "linux" ? mariadbSkip() : "stops mariadbd's threads and watches them through /proc (Linux)";
after(stopAllMariadb);

const USER = "repl";
const PASSWORD = "Reconnect-Pa55";

/** Which command's reply is followed by the reset: a COM_QUERY containing this text, or COM_REGISTER_SLAVE. */
type Trigger = { query: string } | "register";

/**
 * A TCP proxy in front of the server. Armed, it waits on the next connection for `trigger`,
 * stops the replica's mariadbd, forwards the reply, resets the connection and lets mariadbd go on.
 */
class ResettingProxy {
  readonly #server: Server;
  readonly #target: number;
  #armed: { trigger: Trigger; pidFile: string } | undefined;
  readonly resets: string[] = [];

  private constructor(target: number) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(target: number): Promise<{ proxy: ResettingProxy; port: number }> {
    const proxy = new ResettingProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, "127.0.0.1", resolve));
    return { proxy, port: (proxy.#server.address() as AddressInfo).port };
  }

  arm(trigger: Trigger, pidFile: string): void {
    this.#armed = { trigger, pidFile };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const armed = this.#armed;
    this.#armed = undefined;
    const upstream = connect({ host: "127.0.0.1", port: this.#target });
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
    let awaitingReply = false;
    client.on("data", (chunk: Buffer) => {
      // The replica sends one command and waits for its reply: a chunk is one packet.
      if (armed && !awaitingReply && chunk.length > 4) {
        const { trigger } = armed;
        awaitingReply =
          trigger === "register" ? chunk[4] === Command.REGISTER_SLAVE : chunk[4] === Command.QUERY && chunk.subarray(5).toString("utf8").includes(trigger.query);
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!armed || !awaitingReply) {
        client.write(chunk);
        return;
      }
      awaitingReply = false;
      const pid = Number(readFileSync(armed.pidFile, "utf8").trim());
      process.kill(pid, "SIGSTOP");
      // The stop reaches the process's threads one after the other: the reply goes out once all stand.
      const label = armed.trigger === "register" ? "register" : armed.trigger.query;
      void allStopped(pid)
        .then(() => new Promise<void>((resolve) => client.write(chunk, () => resolve())))
        .then(() => sleep(20))
        .then(() => {
          this.resets.push(label);
          upstream.destroy();
          client.resetAndDestroy();
          return sleep(20);
        })
        .catch(() => undefined)
        .finally(() => process.kill(pid, "SIGCONT"));
    });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once every thread of process `pid` is stopped (state T in /proc). */
async function allStopped(pid: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const states = readdirSync(`/proc/${pid}/task`).map((task) => {
      try {
        return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/task/${task}/stat`, "utf8"))?.[1];
      } catch {
        return "T"; // the thread is gone
      }
    });
    if (states.every((state) => state === "T" || state === "t")) return;
    if (Date.now() > deadline) throw new Error(`mariadbd ${pid} did not stop: thread states ${states.join("")}`);
    await sleep(1);
  }
}

async function slaveStatus(replica: MariadbServer): Promise<Record<string, unknown>> {
  const [row] = await replica.query("SHOW SLAVE STATUS");
  assert.ok(row, "the replica is configured");
  return row;
}

/** Waits until the replica's gtid_slave_pos is `want`; fails at once if its IO or SQL thread stopped. */
async function waitForPosition(replica: MariadbServer, want: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await replica.query("SELECT @@GLOBAL.gtid_slave_pos AS pos");
    if (String(row!.pos) === want) return;
    const s = await slaveStatus(replica);
    if (s.Slave_IO_Running === "No" || s.Slave_SQL_Running === "No") {
      assert.fail(`replication stopped at '${String(row!.pos)}': IO ${String(s.Last_IO_Errno)} ${String(s.Last_IO_Error)} / SQL ${String(s.Last_SQL_Errno)} ${String(s.Last_SQL_Error)}`);
    }
    if (Date.now() > deadline) assert.fail(`the replica is at '${String(row!.pos)}', not ${want}, after ${timeoutMs} ms: ${JSON.stringify(s)}`);
    await sleep(50);
  }
}

test("a MariaDB replica whose client library reconnected by itself mid-setup is told to reconnect, not refused for good", { skip, timeout: 120_000 }, async (t) => {
  const file = new MariadbFileBuilder("mariadb-bin.000001");
  file.ddl({ domain: 0, serverId: 1, seq: 1n }, "CREATE DATABASE db");
  const feed = new MemoryBinlogFeed("mariadb");
  feed.addFile(file.name, file.events, { gtidList: [] });
  feed.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse("0-1-1") });

  const refusals: Array<{ message: string; errno: unknown }> = [];
  const logger = {
    debug: () => undefined,
    info: (fields: Record<string, unknown>, message: string) => {
      if (message.startsWith("dump refused")) refusals.push({ message, errno: fields.errno });
    },
    warn: () => undefined,
  };
  const server = new BinlogServer({ flavor: "mariadb", serverId: 4200, users: { [USER]: PASSWORD }, logger }, feed);
  const { port } = await server.listen("127.0.0.1", 0);
  const { proxy, port: proxyPort } = await ResettingProxy.start(port);
  const replica = await startMariadb({ name: "kb-reconnect-replica" });
  const pidFile = join(replica.dataDir, "mariadbd.pid");
  t.after(async () => {
    await replica.stop();
    await proxy.close();
    await server.close();
  });
  await replica.query(
    `CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${proxyPort}, MASTER_USER='${USER}', MASTER_PASSWORD='${PASSWORD}', ` +
      "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
  );

  // Reset after the capability was announced: SELECT @@GLOBAL.gtid_domain_id and the settings
  // after it go to the new session, the capability (and the checksum setting) do not.
  // Reset after COM_REGISTER_SLAVE: the dump goes alone to the new session.
  let seq = 1;
  for (const trigger of [{ query: "SET @mariadb_slave_capability" }, "register"] as const) {
    if (seq > 1) {
      file.ddl({ domain: 0, serverId: 1, seq: BigInt(seq) }, `CREATE TABLE t${seq} (a INT)`);
      feed.append(...file.events.slice(-2));
      feed.setGtidState({ flavor: "mariadb", binlogState: MariadbGtidState.parse(`0-1-${seq}`) });
    }
    const before = refusals.length;
    proxy.arm(trigger, pidFile);
    await replica.query("START SLAVE");
    await waitForPosition(replica, `0-1-${seq}`);
    const label = typeof trigger === "string" ? trigger : trigger.query;
    assert.ok(proxy.resets.includes(label), `the connection was reset after the reply to ${label}`);
    // The command the replica's library sent again reached a session without its settings: that
    // dump was refused with an error the replica reconnects on.
    assert.deepEqual(refusals.slice(before), [{ message: "dump refused for now: the replica will reconnect", errno: 1105 }], `${label}: ${JSON.stringify(refusals)}`);
    const s = await slaveStatus(replica);
    assert.equal(s.Slave_IO_Running, "Yes");
    assert.equal(s.Last_IO_Errno, 0, String(s.Last_IO_Error));
    assert.ok(server.connections().some((c) => c.dumping && c.dumpServerId === replica.serverId), "the replica dumps again");
    await replica.query("STOP SLAVE");
    seq++;
  }
  const [tables] = await replica.query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'db'");
  assert.equal(Number(tables!.n), 1, "what the dumps sent was applied");
});
