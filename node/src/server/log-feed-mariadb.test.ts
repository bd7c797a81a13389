/**
 * LogBinlogFeed with a real MariaDB 10.11 binlog: a mixed workload over three GTID domains and
 * three files (BLOBs up to 1 MiB, stored as fragments of 64 KiB entries), loaded into a LogStore as
 * the syncer stores it. From every GTID position a replica can be at, the MariaDB GTID dump over
 * the log equals the dump over the primary's own files (the same server code, a FileBinlogFeed),
 * while the start is found through the store's GTID index: the log is not read from the file's
 * beginning. The one allowed difference: the fake GTID_LIST a primary sends when a domain reaches
 * the replica's position lists the GTIDs the dump has seen, and a dump that sought past part of
 * the file has seen fewer (the replica uses its position, not its list). By file and position,
 * from every transaction, the dumps are equal too.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EventFlag, EventType } from "../binlog/event-type.ts";
import { MariadbGtidPosition, parseMariadbGtid } from "../binlog/gtid-mariadb.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../test-support/mariadb.ts";
import { runMixedWorkload, type WorkloadSummary } from "../../test-support/workload.ts";
import { BinlogServer } from "../mysql/server/binlog-server.ts";
import type { BinlogFeed } from "../mysql/server/feed.ts";
import { FileBinlogFeed } from "../mysql/server/file-feed.ts";
import { encodeBinlogDump, RawClient, readDumpEvents, ServerErrorReply } from "../mysql/server/testing/raw-client.ts";
import { binlogEntries } from "./testing/binlog-entries.ts";
import { LogFeedHarness } from "./testing/log-feed-harness.ts";

const skip = mariadbSkip();
const NON_BLOCK = 0x01;

describe("LogBinlogFeed with a real MariaDB binlog", { skip }, () => {
  let primary: MariadbServer;
  let work: string;
  let paths: string[];
  let summary: WorkloadSummary;
  let harness: LogFeedHarness;
  const servers: BinlogServer[] = [];

  before(async () => {
    primary = await startMariadb({ name: "log-feed-primary" });
    summary = await runMixedWorkload(primary, { domains: [0, 1, 2], database: "kb_feed" });
    await primary.flushBinaryLogs({ settle: true });
    const c = await primary.connect();
    await c.query("CREATE TABLE kb_feed.t_more (id INT PRIMARY KEY, d INT) ENGINE=InnoDB");
    for (let i = 0; i < 12; i++) {
      await c.query("SET SESSION gtid_domain_id = ?", [[0, 1, 2, 4][i % 4]]);
      await c.query("INSERT INTO kb_feed.t_more VALUES (?, ?)", [i, i % 4]);
    }
    await c.end();
    await primary.flushBinaryLogs({ settle: true });
    work = await mkdtemp(join(tmpdir(), "kingbus-log-feed-maria-"));
    paths = [];
    for (const f of await primary.binlogFiles()) {
      await cp(f, join(work, basename(f)));
      paths.push(join(work, basename(f)));
    }
    harness = await LogFeedHarness.open();
    const entries = binlogEntries(paths, { maxEntryBytes: 64 * 1024 });
    await harness.append(entries);
    harness.applyThrough(entries.at(-1)!.index);
  });

  after(async () => {
    for (const s of servers) await s.close();
    await harness?.close();
    await stopAllMariadb();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function serve(feed: BinlogFeed): Promise<number> {
    const server = new BinlogServer({ flavor: "mariadb", serverId: 4001, users: { repl: "pw" } }, feed);
    servers.push(server);
    return (await server.listen("127.0.0.1", 0)).port;
  }

  async function dump(port: number, setup: string[], file = "", position = 4): Promise<Buffer[] | string> {
    const c = await RawClient.connect({ host: "127.0.0.1", port, user: "repl", password: "pw" });
    try {
      await c.query("SET @master_binlog_checksum = @@global.binlog_checksum, @mariadb_slave_capability = 4");
      for (const sql of setup) await c.query(sql);
      await c.command(encodeBinlogDump(file, position, NON_BLOCK, 99));
      return await readDumpEvents(c);
    } catch (e) {
      if (e instanceof ServerErrorReply) return `ERR ${e.errno}: ${e.message}`;
      throw e;
    } finally {
      c.destroy();
    }
  }

  /** Fake GTID_LIST events (ARTIFICIAL) compared by position only. */
  function comparable(events: Buffer[] | string): Array<string> | string {
    if (typeof events === "string") return events;
    return events.map((e) => (e[4] === EventType.MARIADB_GTID_LIST && e.readUInt16LE(17) & EventFlag.ARTIFICIAL ? `fake GTID_LIST at ${e.readUInt32LE(13)}` : e.toString("hex")));
  }

  it("from every GTID position: the same dump as from the files, started through the GTID index", async () => {
    const files = await FileBinlogFeed.open(paths);
    const [filePort, logPort] = [await serve(files), await serve(harness.feed)];
    const all = [...summary.gtids];
    const state = await files.gtidState();
    assert.equal(state.flavor, "mariadb");
    if (state.flavor !== "mariadb") return;
    for (const g of state.binlogState.gtids()) if (!all.includes(`${g.domain}-${g.serverId}-${g.seq}`)) all.push(`${g.domain}-${g.serverId}-${g.seq}`);
    // Every prefix of the GTIDs in binlog order, as a replica's position after it.
    const positions: string[] = [""];
    let position = MariadbGtidPosition.empty();
    for (const text of all) {
      position = position.with(parseMariadbGtid(text));
      positions.push(position.toString());
    }
    let lessRead = 0;
    for (const pos of positions) {
      for (const strict of [0, 1]) {
        const setup = [`SET @slave_connect_state = '${pos}'`, `SET @slave_gtid_strict_mode = ${strict}`];
        const want = await dump(filePort, setup);
        harness.counting.entriesRead = 0;
        const got = await dump(logPort, setup);
        assert.deepEqual(comparable(got), comparable(want), `from '${pos}' strict ${strict}`);
        if (harness.counting.entriesRead < harness.index.lastApplied / 2) lessRead++;
      }
    }
    assert.ok(lessRead > positions.length / 2, `${lessRead} of ${positions.length * 2} dumps read less than half the log`);
  });

  it("by file and position, from every transaction: the same dump as from the files", async () => {
    const files = await FileBinlogFeed.open(paths);
    const [filePort, logPort] = [await serve(files), await serve(harness.feed)];
    for (const facts of harness.index.files()) {
      const positions = new Set<number>([4, facts.headerEnd, facts.size]);
      const { events } = await (async () => {
        const aborter = new AbortController();
        const out: Array<{ offset: number; type: number }> = [];
        for await (const item of harness.feed.read({ file: facts.name, position: 4 }, aborter.signal)) {
          if (item.kind === "caughtUp") break;
          for (const e of item.kind === "events" ? item.events : [item]) if (e.file === facts.name) out.push({ offset: e.offset, type: e.bytes[4]! });
        }
        aborter.abort();
        return { events: out };
      })();
      for (const e of events) if (e.type === EventType.MARIADB_GTID) positions.add(e.offset);
      for (const p of positions) {
        const want = await dump(filePort, [], facts.name, p);
        const got = await dump(logPort, [], facts.name, p);
        assert.deepEqual(comparable(got), comparable(want), `${facts.name} at ${p}`);
      }
    }
  });
});
