/**
 * LogBinlogFeed over a real LogStore filled with real binlog events (the MySQL fixtures, turned
 * into entries by the syncer's own assembler and batcher, with entries small enough that larger
 * transactions are fragmented):
 *  - reading a stored file gives back the primary's bytes, across fragments and abandoned runs;
 *  - every dump a replica can ask for (COM_BINLOG_DUMP_GTID from any GTID set, COM_BINLOG_DUMP at
 *    every event) is byte for byte the dump the same server sends from the files themselves,
 *    while the GTID start is found through the store's indexes, not by reading the log;
 *  - only committed (applied) entries are served, and a reader waiting at the end is woken by the
 *    next apply, not by polling;
 *  - unknown files, bad positions and purged files are refused with the feed's errors and, over
 *    the wire, with ERR 1236; the index rebuilt by a replay from the first retained entry equals
 *    the one kept while applying.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { MysqlGtidSet } from "../binlog/gtid-mysql.ts";
import { decodeEntry } from "../log-entry/format.ts";
import { FeedError, type BinlogFeed, type FeedItem } from "../mysql/server/feed.ts";
import { BinlogServer } from "../mysql/server/binlog-server.ts";
import { FileBinlogFeed } from "../mysql/server/file-feed.ts";
import { encodeBinlogDump, encodeBinlogDumpGtid, RawClient, readDumpEvents, ServerErrorReply } from "../mysql/server/testing/raw-client.ts";
import { sharedDir } from "../../test-support/requirements.ts";
import { abandonedRun, binlogEntries, binlogPayloads, fileEvents, toEntries } from "./testing/binlog-entries.ts";
import { LogFeedHarness } from "./testing/log-feed-harness.ts";

const { dir: shared, skip } = sharedDir();
const fixtures = join(shared, "fixtures", "binlog", "mysql");
const NON_BLOCK = 0x01;
const HEARTBEAT_V2 = 0x02;
const SERVER_ID = 7001;
const SERVER_UUID = "11111111-2222-3333-4444-555555555555";

/** Fixtures the syncer stores whole (one file each, a FORMAT_DESCRIPTION first). */
const READABLE = [
  "binlog-invisible-columns.000001",
  "binlog_56_gtid_reserved_word.000001",
  "binlog_transaction_with_GTID.000001",
  "binlog_transaction_with_GTID_TAG.000001",
  "binlog_transaction_with_anonymous_GTID.000001",
  "bug27213339-bin.000001",
  "json.binlog.000001",
  "mysql-enum-string-set.000001",
  "mysql_type_bit.000001",
  "rpl_atomic_ddl_rollback_full.000001",
  "rpl_cross_version_default_utf8mb4_collation.000001",
  "transaction_compression.000001",
  "vector.binlog",
  "ver_5_1_23.001",
];
/** MySQL 8 fixtures with GTIDs, served by COM_BINLOG_DUMP_GTID. */
const GTID_FIXTURES = ["mysql-enum-string-set.000001", "binlog-invisible-columns.000001", "rpl_atomic_ddl_rollback_full.000001", "binlog_transaction_with_GTID_TAG.000001", "mysql_type_bit.000001"];

async function collect(feed: BinlogFeed, from: { file: string; position: number; seekTo?: number }): Promise<{ events: Array<{ file: string; offset: number; bytes: Buffer }>; caughtUp: FeedItem | undefined }> {
  const aborter = new AbortController();
  const events = [];
  let caughtUp: FeedItem | undefined;
  try {
    for await (const item of feed.read(from, aborter.signal)) {
      if (item.kind === "caughtUp") {
        caughtUp = item;
        break;
      }
      for (const e of item.kind === "events" ? item.events : [item]) events.push({ file: e.file, offset: e.offset, bytes: Buffer.from(e.bytes) });
    }
  } finally {
    aborter.abort();
  }
  return { events, caughtUp };
}

async function filled(paths: string[], maxEntryBytes: number): Promise<LogFeedHarness> {
  const h = await LogFeedHarness.open();
  const entries = binlogEntries(paths, { maxEntryBytes });
  await h.append(entries);
  h.applyThrough(entries.at(-1)!.index);
  return h;
}

describe("LogBinlogFeed over real binlog events", { skip }, () => {
  const harnesses: LogFeedHarness[] = [];
  const servers: BinlogServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
    for (const h of harnesses) await h.close();
  });

  it("gives back every stored file byte for byte, fragments reassembled", async () => {
    let fragmented = 0;
    for (const name of READABLE) {
      const path = join(fixtures, name);
      for (const maxEntryBytes of [400, 64 * 1024]) {
        const h = await filled([path], maxEntryBytes);
        harnesses.push(h);
        const { events, caughtUp } = await collect(h.feed, { file: name, position: 4 });
        const file = readFileSync(path);
        assert.ok(Buffer.concat(events.map((e) => e.bytes)).equals(file.subarray(4)), `${name} at ${maxEntryBytes} bytes per entry`);
        assert.deepEqual(caughtUp, { kind: "caughtUp", file: name, position: file.length });
        assert.deepEqual((await h.feed.files()).map((f) => [f.name, f.size]), [[name, file.length]]);
        if (maxEntryBytes === 400) fragmented += [...Array(h.index.lastApplied).keys()].filter((i) => h.index.fragmentRun(i + 1)).length;
      }
    }
    assert.ok(fragmented > 10, `${fragmented} fragmented transactions were read back`);
  });

  it("skips a run of fragments never finished, and reads from any event of any file", async () => {
    const a = "mysql-enum-string-set.000001";
    const b = "binlog-invisible-columns.000001";
    const files = [a, b].map((name) => ({ name, bytes: readFileSync(join(fixtures, name)) }));
    const payloads = binlogPayloads(files, { maxEntryBytes: 400 });
    // A leader change mid-transaction: an abandoned run in the middle of the log (between transactions).
    let middle = Math.floor(payloads.length / 2);
    while (decodeEntry(payloads[middle]!).kind === "fragment" && !(decodeEntry(payloads[middle]!) as { first: boolean }).first) middle++;
    const withAbandoned = [...payloads.slice(0, middle), ...abandonedRun(a, 3), ...payloads.slice(middle)];
    const h = await LogFeedHarness.open();
    harnesses.push(h);
    const entries = toEntries(withAbandoned);
    await h.append(entries);
    h.applyThrough(entries.at(-1)!.index);
    const { events } = await collect(h.feed, { file: a, position: 4 });
    assert.ok(Buffer.concat(events.filter((e) => e.file === a).map((e) => e.bytes)).equals(files[0]!.bytes.subarray(4)));
    assert.ok(Buffer.concat(events.filter((e) => e.file === b).map((e) => e.bytes)).equals(files[1]!.bytes.subarray(4)));
    // From every event of both files: the FDE of the file first, then everything from there on.
    for (const file of files) {
      let offset = 4;
      for (const event of fileEvents(file.bytes)) {
        const got = await collect(h.feed, { file: file.name, position: offset });
        const own = got.events.filter((e) => e.file === file.name);
        assert.equal(own[0]!.offset, 4, "the FDE comes first");
        if (offset > 4) assert.equal(own[1]?.offset ?? file.bytes.length, offset, `${file.name} from ${offset}`);
        assert.ok(Buffer.concat(own.slice(offset > 4 ? 1 : 0).map((e) => e.bytes)).equals(file.bytes.subarray(offset)), `${file.name} from ${offset}`);
        offset += event.length;
      }
    }
  });

  it("refuses unknown files, positions that are not events, and files purged from the log", async () => {
    const name = "mysql-enum-string-set.000001";
    const h = await filled([join(fixtures, name)], 400);
    harnesses.push(h);
    const refused = async (from: { file: string; position: number }): Promise<FeedError> => {
      const error = await collect(h.feed, from).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof FeedError, `${JSON.stringify(from)}: ${String(error)}`);
      return error;
    };
    assert.equal((await refused({ file: "mysql-bin.000009", position: 4 })).code, "FEED_UNKNOWN_FILE");
    assert.equal((await refused({ file: name, position: 3 })).code, "FEED_BAD_POSITION");
    assert.equal((await refused({ file: name, position: 500 })).code, "FEED_BAD_POSITION");
    assert.equal((await refused({ file: name, position: 999_999 })).code, "FEED_BAD_POSITION");
    // The end of the file is a position: nothing more yet.
    const size = readFileSync(join(fixtures, name)).length;
    assert.deepEqual((await collect(h.feed, { file: name, position: size })).caughtUp, { kind: "caughtUp", file: name, position: size });
    // A reader the log is purged under is told the log is unavailable (the dump then ends without
    // an error, and the replica reconnects): here through a small read size.
    const slow = await LogFeedHarness.open({ readBytes: 1 });
    harnesses.push(slow);
    const entries = binlogEntries([join(fixtures, name)], { maxEntryBytes: 400 });
    await slow.append(entries);
    slow.applyThrough(entries.at(-1)!.index);
    const aborter = new AbortController();
    const reader = slow.feed.read({ file: name, position: 4 }, aborter.signal)[Symbol.asyncIterator]();
    await reader.next();
    await slow.store.compact(Math.floor(entries.length / 2));
    const purgedUnder = await (async () => {
      for (;;) await reader.next();
    })().catch((e: unknown) => e);
    aborter.abort();
    assert.ok(purgedUnder instanceof FeedError && purgedUnder.code === "FEED_UNAVAILABLE", String(purgedUnder));
    // Compaction takes the file's beginning away: it is no longer served.
    await h.store.compact(2);
    assert.deepEqual(await h.feed.files(), []);
    assert.match((await refused({ file: name, position: 4 })).message, /was purged/);
  });

  it("a lone reader reads into one buffer again and again; readers side by side share the cache; every byte comes out right", async () => {
    const name = "ver_5_1_23.001";
    const path = join(fixtures, name);
    const file = readFileSync(path);
    const entries = binlogEntries([path], { maxEntryBytes: 2048 });
    const open = async (options: { readBytes: number; cacheBytes?: number }): Promise<LogFeedHarness> => {
      const h = await LogFeedHarness.open(options);
      harnesses.push(h);
      await h.append(entries);
      h.applyThrough(entries.at(-1)!.index);
      return h;
    };
    // Alone: about 20 reads of 8 KiB, all into the same memory (the events are views of it, so the
    // consumer copies each before asking for more, as a dump does).
    const lone = await open({ readBytes: 8 * 1024 });
    const memories = new Set<ArrayBufferLike>();
    const copied: Buffer[] = [];
    let transient = 0;
    const aborter = new AbortController();
    for await (const item of lone.feed.read({ file: name, position: 4 }, aborter.signal)) {
      if (item.kind === "caughtUp") break;
      for (const e of item.kind === "events" ? item.events : [item]) {
        // (The FORMAT_DESCRIPTION comes from the index, a fragmented transaction from its own reads.)
        if (e.transient) memories.add(e.bytes.buffer);
        transient += e.transient ? 1 : 0;
        copied.push(Buffer.from(e.bytes));
      }
    }
    aborter.abort();
    assert.ok(Buffer.concat(copied).equals(file.subarray(4)), "the lone reader's events, copied as they came, are the file");
    assert.ok(file.length / (8 * 1024) > 15, "many reads");
    assert.ok(transient > copied.length / 2, `${transient} of ${copied.length} events read into the reader's buffer`);
    assert.ok(memories.size <= 3, `events came from ${memories.size} buffers over ${Math.ceil(file.length / 8192)} reads`);

    // Two readers in step: what one reads from the store the other takes from the cache. Counted:
    // entries read in batches (a fragmented transaction is read again entry by entry by each
    // reader, as documented, and is left out).
    const batchReads = (h: LogFeedHarness): { entries: number } => {
      const counted = { entries: 0 };
      const plain = h.counting.entries;
      h.counting.entries = (lo, hi, max, options) => {
        const out = plain(lo, hi, max, options);
        if (max !== undefined) counted.entries += out.length;
        return out;
      };
      return counted;
    };
    const shared = await open({ readBytes: 8 * 1024, cacheBytes: 1024 * 1024 });
    const sharedReads = batchReads(shared);
    const both = new AbortController();
    const readers = [0, 1].map(() => shared.feed.read({ file: name, position: 4 }, both.signal)[Symbol.asyncIterator]());
    const got: Buffer[][] = [[], []];
    let transientShared = 0;
    for (let done = [false, false]; !done[0] || !done[1]; ) {
      for (const k of [0, 1]) {
        if (done[k]) continue;
        const r = await readers[k]!.next();
        if (r.done || r.value.kind === "caughtUp") done[k] = true;
        else
          for (const e of r.value.kind === "events" ? r.value.events : [r.value]) {
            got[k]!.push(Buffer.from(e.bytes));
            // Shared (cached) bytes never change: a dump may send them by reference. (The first
            // reader read its first batch alone, into its own buffer.)
            if (k === 1 && e.transient === true) transientShared++;
          }
      }
    }
    both.abort();
    for (const k of [0, 1]) assert.ok(Buffer.concat(got[k]!).equals(file.subarray(4)), `reader ${k} got the file`);
    assert.equal(transientShared, 0, "the second reader's events all came from the shared cache or a cached read");
    // Two readers from the start, then one runs to the end first. Counted: which batch reads went
    // into a reader's own buffer (true) and which into buffers the cache keeps (false).
    const window = await open({ readBytes: 8 * 1024, cacheBytes: 16 * 1024 });
    const batchReadsInto: boolean[] = [];
    const countReads = (h: LogFeedHarness, into: boolean[]): void => {
      const plainEntries = h.counting.entries;
      h.counting.entries = (lo, hi, max, options) => {
        if (max !== undefined) into.push(options?.into !== undefined);
        return plainEntries(lo, hi, max, options);
      };
    };
    countReads(window, batchReadsInto);
    const late = new AbortController();
    const [ahead, behind] = [0, 1].map(() => window.feed.read({ file: name, position: 4 }, late.signal)[Symbol.asyncIterator]());
    const over = (r: IteratorResult<FeedItem>): boolean => r.done === true || r.value.kind === "caughtUp";
    await ahead!.next();
    await behind!.next();
    while (!over(await ahead!.next()));
    // The reader ahead read for the other only while the other was close enough behind to find
    // the entries in the cache; past that, it read into its own buffer (a fresh buffer per read
    // that nobody would take from the cache is only garbage).
    const aheadReads = batchReadsInto.slice();
    assert.ok(aheadReads.length > 6 && aheadReads.slice(-3).every((into) => into), `the reader ahead, far ahead, read into its own buffer: ${JSON.stringify(aheadReads)}`);
    const fromHere = batchReadsInto.length;
    while (!over(await behind!.next()));
    late.abort();
    // The reader behind is the last of the readers: what it reads goes to the cache, for the
    // replicas that connect next (they start behind it).
    const behindReads = batchReadsInto.slice(fromHere);
    assert.ok(behindReads.length > 3 && behindReads.every((into) => !into), `the last reader read ${behindReads.length} batches for the cache: ${JSON.stringify(behindReads)}`);

    // A reader behind what the cache holds reads for itself, into its own buffer, leaving the
    // cache to the readers ahead: a pack of two reads the second half of the file in step, then
    // a straggler reads the file from its start.
    const packed = await open({ readBytes: 8 * 1024, cacheBytes: 16 * 1024 });
    const packedReads: boolean[] = [];
    countReads(packed, packedReads);
    let middle = 4;
    for (const e of fileEvents(file)) {
      if (middle >= file.length / 2) break;
      middle += e.length;
    }
    const third = new AbortController();
    const pack = [0, 1].map(() => packed.feed.read({ file: name, position: middle }, third.signal)[Symbol.asyncIterator]());
    for (let done = [false, false]; !done[0] || !done[1]; ) {
      for (const k of [0, 1]) if (!done[k] && over(await pack[k]!.next())) done[k] = true;
    }
    // (Its first reader reads alone until the second one has started.)
    assert.ok(packedReads.length > 3 && packedReads.slice(-3).every((into) => !into), `the pack read for the cache once both read: ${JSON.stringify(packedReads)}`);
    const stragglerFrom = packedReads.length;
    const straggler = packed.feed.read({ file: name, position: 4 }, third.signal)[Symbol.asyncIterator]();
    while (!over(await straggler.next()));
    third.abort();
    const stragglerReads = packedReads.slice(stragglerFrom);
    assert.ok(stragglerReads.length > 3 && stragglerReads.every((into) => into), `the straggler read ${stragglerReads.length} batches, each into its own buffer: ${JSON.stringify(stragglerReads)}`);
    assert.ok(sharedReads.entries < entries.length * 1.2, `two readers read the store about once: ${sharedReads.entries} entries in batches for ${entries.length} stored`);
  });

  it("settle: a pod whose commit index may lag what the cluster committed (its leader just died) waits until it is current, then for the apply", async () => {
    const h = await LogFeedHarness.open({ settleMs: 300 });
    harnesses.push(h);
    const entries = binlogEntries([join(fixtures, "mysql-enum-string-set.000001")], { maxEntryBytes: 400 });
    await h.append(entries);
    const half = Math.floor(entries.length / 2);
    h.applyThrough(half);
    h.committed = half;
    const signal = new AbortController().signal;
    assert.equal(await h.feed.settle(signal), true, "current and applied: at once");
    h.current = false;
    assert.equal(await h.feed.settle(signal), false, "never current within settleMs: the replica is told to ask again");
    const settling = h.feed.settle(signal);
    // The new leader's first entry reaches this pod: its commit index jumps and is current; then it applies.
    h.current = true;
    h.committed = entries.at(-1)!.index;
    setTimeout(() => h.applyThrough(entries.at(-1)!.index), 50);
    assert.equal(await settling, true);
    assert.equal(h.index.lastApplied, entries.at(-1)!.index, "answered once the apply was done");
  });

  it("rebuilds the same index by replaying the log from its first retained entry", async () => {
    const h = await filled(GTID_FIXTURES.slice(0, 2).map((n) => join(fixtures, n)), 400);
    harnesses.push(h);
    const before = JSON.stringify(await h.feed.files(), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v instanceof MysqlGtidSet ? v.toString() : v));
    const facts = h.index.files().map((f) => ({ ...f, format: undefined }));
    h.replay();
    assert.equal(JSON.stringify(await h.feed.files(), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v instanceof MysqlGtidSet ? v.toString() : v)), before);
    assert.deepEqual(h.index.files().map((f) => ({ ...f, format: undefined })), facts);
  });
});

describe("dumps over the log equal dumps over the files", { skip }, () => {
  const servers: BinlogServer[] = [];
  const harnesses: LogFeedHarness[] = [];
  after(async () => {
    for (const s of servers) await s.close();
    for (const h of harnesses) await h.close();
  });

  async function serve(feed: BinlogFeed): Promise<number> {
    const server = new BinlogServer({ flavor: "mysql", serverId: SERVER_ID, serverUuid: SERVER_UUID, users: { repl: "pw" } }, feed);
    servers.push(server);
    return (await server.listen("127.0.0.1", 0)).port;
  }

  async function dump(port: number, command: Buffer): Promise<Buffer[] | string> {
    const c = await RawClient.connect({ host: "127.0.0.1", port, user: "repl", password: "pw" });
    try {
      await c.query("SET @source_binlog_checksum = 'CRC32', @master_binlog_checksum = 'CRC32'");
      await c.command(command);
      return await readDumpEvents(c);
    } catch (e) {
      if (e instanceof ServerErrorReply) return `ERR ${e.errno}: ${e.message}`;
      throw e;
    } finally {
      c.destroy();
    }
  }

  function sameDump(got: Buffer[] | string, want: Buffer[] | string, what: string): void {
    if (typeof want === "string" || typeof got === "string") {
      assert.equal(got, want, what);
      return;
    }
    assert.equal(got.length, want.length, `${what}: ${got.length} events, expected ${want.length} (types ${got.map((e) => e[4]).join(",")} / ${want.map((e) => e[4]).join(",")})`);
    got.forEach((e, i) => assert.ok(e.equals(want[i]!), `${what}: event ${i} (type ${e[4]}) differs`));
  }

  /** GTID sets a replica may hold: none, every prefix, every prefix with a hole, one missing, all, and more than stored. */
  function gtidSets(executed: MysqlGtidSet): MysqlGtidSet[] {
    const sets = [MysqlGtidSet.empty(), executed];
    for (const source of executed) {
      const last = source.intervals.at(-1)!.last;
      const first = source.intervals[0]!.first;
      const at = (text: string) => MysqlGtidSet.parse(source.tag ? `${source.uuid}:${source.tag}:${text}` : `${source.uuid}:${text}`);
      for (let n = first; n <= last; n++) {
        sets.push(at(`${first}-${n}`));
        if (n + 2n <= last) sets.push(at(`${first}-${n}:${n + 2n}-${last}`));
        sets.push(executed.subtract(at(`${n}`)));
      }
      sets.push(at(`${first}-${last + 5n}`));
    }
    return sets;
  }

  for (const name of GTID_FIXTURES) {
    it(`${name}: COM_BINLOG_DUMP_GTID from every GTID set, COM_BINLOG_DUMP from every event`, async () => {
      const path = join(fixtures, name);
      const files = await FileBinlogFeed.open([path]);
      const h = await filled([path], 400);
      harnesses.push(h);
      const [filePort, logPort] = [await serve(files), await serve(h.feed)];
      const state = await files.gtidState();
      assert.equal(state.flavor, "mysql");
      let sought = 0;
      let dumps = 0;
      for (const set of gtidSets(state.flavor === "mysql" ? state.executed : MysqlGtidSet.empty())) {
        for (const flags of [NON_BLOCK, NON_BLOCK | HEARTBEAT_V2]) {
          const command = encodeBinlogDumpGtid(set, flags, 99);
          const want = await dump(filePort, command);
          h.counting.entriesRead = 0;
          const got = await dump(logPort, command);
          sameDump(got, want, `${name} from {${set.toString()}} flags ${flags}`);
          if (h.counting.entriesRead < h.index.lastApplied - 2) sought++;
          dumps++;
        }
      }
      assert.ok(sought > dumps / 4, `${sought} of ${dumps} GTID dumps read less than the whole log`);
      const file = readFileSync(path);
      let offset = 4;
      for (const event of fileEvents(file)) {
        const command = encodeBinlogDump(name, offset, NON_BLOCK, 42);
        sameDump(await dump(logPort, command), await dump(filePort, command), `${name} at ${offset}`);
        offset += event.length;
      }
      for (const [file2, position] of [[name, 5], [name, file.length + 1], ["nope.000001", 4]] as const) {
        const command = encodeBinlogDump(file2, position, NON_BLOCK, 42);
        const got = await dump(logPort, command);
        assert.match(String(got), /^ERR 1236/, `${file2} at ${position}`);
      }
    });
  }

  it("a GTID dump of a replica that has almost everything reads a few entries, not the log", async () => {
    // Two fixtures of different sources make a larger log with a file boundary.
    const paths = ["mysql-enum-string-set.000001", "binlog-invisible-columns.000001"].map((n) => join(fixtures, n));
    const h = await filled(paths, 1024);
    harnesses.push(h);
    const files = await FileBinlogFeed.open(paths);
    const [filePort, logPort] = [await serve(files), await serve(h.feed)];
    const state = await files.gtidState();
    assert.equal(state.flavor, "mysql");
    if (state.flavor !== "mysql") return;
    const last = [...state.executed].at(-1)!;
    const lastGno = last.intervals.at(-1)!.last;
    const almost = state.executed.subtract(MysqlGtidSet.parse(`${last.uuid}:${lastGno}`));
    const command = encodeBinlogDumpGtid(almost, NON_BLOCK, 99);
    const want = await dump(filePort, command);
    h.counting.entriesRead = 0;
    sameDump(await dump(logPort, command), want, "almost everything");
    assert.ok(h.counting.entriesRead <= 12, `read ${h.counting.entriesRead} of ${h.index.lastApplied} entries`);
  });
});

describe("committed entries only, and woken by the next apply", { skip }, () => {
  it("serves what is applied, waits at the end without polling, and goes on at the next apply", async () => {
    const name = "mysql-enum-string-set.000001";
    const file = readFileSync(join(fixtures, name));
    const h = await LogFeedHarness.open();
    try {
      const entries = binlogEntries([join(fixtures, name)], { maxEntryBytes: 400 });
      await h.append(entries);
      const half = Math.floor(entries.length / 2);
      h.applyThrough(half);
      const aborter = new AbortController();
      const iterator = h.feed.read({ file: name, position: 4 }, aborter.signal)[Symbol.asyncIterator]();
      const events: Buffer[] = [];
      const take = (value: FeedItem): void => {
        for (const e of value.kind === "events" ? value.events : value.kind === "event" ? [value] : []) events.push(Buffer.from(e.bytes));
      };
      let item = await iterator.next();
      while (!item.done && item.value.kind !== "caughtUp") {
        take(item.value);
        item = await iterator.next();
      }
      assert.equal(item.value?.kind, "caughtUp");
      const servedUpTo = (item.value as { position: number }).position;
      assert.ok(servedUpTo < file.length && servedUpTo > 4, `caught up at ${servedUpTo}`);
      assert.ok(Buffer.concat(events).equals(file.subarray(4, servedUpTo)), "whole transactions, up to the last applied one");
      // Nothing more while nothing is applied, and no busy loop: one wait.
      const pending = iterator.next();
      const early = await Promise.race([pending.then(() => "item"), new Promise((r) => setTimeout(() => r("idle"), 300))]);
      assert.equal(early, "idle");
      assert.equal(h.waits, 1, "one wait for the next apply, no polling");
      const appliedAt = performance.now();
      h.applyThrough(entries.at(-1)!.index);
      const next = await pending;
      const wokeInMs = performance.now() - appliedAt;
      assert.notEqual(next.value?.kind, "caughtUp");
      assert.ok(wokeInMs < 50, `woken ${wokeInMs.toFixed(1)} ms after the apply`);
      take(next.value as FeedItem);
      for (item = await iterator.next(); !item.done && item.value.kind !== "caughtUp"; item = await iterator.next()) take(item.value);
      assert.ok(Buffer.concat(events).equals(file.subarray(4)));
      aborter.abort();
      assert.equal((await iterator.next()).done, true, "an aborted reader ends");
    } finally {
      await h.close();
    }
  });
});

describe("a MySQL 8 replica over the log", { skip }, () => {
  it("gets what its setup sequence asks, registers, dumps by GTID; purged and ahead-of-the-pod GTID sets", async () => {
    const name = "mysql-enum-string-set.000001";
    const path = join(fixtures, name);
    const h = await LogFeedHarness.open();
    const entries = binlogEntries([path], { maxEntryBytes: 1024 });
    await h.append(entries);
    const half = Math.floor(entries.length / 2);
    h.applyThrough(half);
    const server = new BinlogServer({ flavor: "mysql", serverId: SERVER_ID, serverUuid: SERVER_UUID, users: { repl: "pw" } }, h.feed);
    try {
      const { port } = await server.listen("127.0.0.1", 0);
      const files = await FileBinlogFeed.open([path]);
      const full = await files.gtidState();
      assert.equal(full.flavor, "mysql");
      if (full.flavor !== "mysql") return;

      // The sequence rpl_replica.cc sends (protocol notes, section 3).
      const c = await RawClient.connect({ host: "127.0.0.1", port, user: "repl", password: "pw" });
      assert.match(String(await c.value("SELECT UNIX_TIMESTAMP()")), /^\d+$/);
      assert.equal(await c.value("SELECT @@GLOBAL.SERVER_ID"), String(SERVER_ID));
      await c.query("SET @master_heartbeat_period = 30000001024, @source_heartbeat_period = 30000001024");
      await c.query("SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum");
      assert.equal(await c.value("SELECT @source_binlog_checksum"), "CRC32");
      assert.equal(await c.value("SELECT @@GLOBAL.GTID_MODE"), "ON");
      assert.equal(await c.value("SELECT @@GLOBAL.SERVER_UUID"), SERVER_UUID);
      await c.query("SET @slave_uuid = 'aaaaaaaa-0000-0000-0000-000000000001', @replica_uuid = 'aaaaaaaa-0000-0000-0000-000000000001'");
      assert.equal(await c.value("SELECT @@global.rpl_semi_sync_source_enabled"), "1");
      assert.equal(await c.value("SELECT @@GLOBAL.gtid_executed"), h.state.mysql.toString(), "what is applied, not what is stored");
      await c.command(Buffer.concat([Buffer.of(0x15), Buffer.from("0f000000000000000000000000000000", "hex")]));
      assert.equal((await c.read())[0], 0x00, "COM_REGISTER_SLAVE: OK");
      const listed = server.connections().find((x) => x.replica?.serverId === 15);
      assert.equal(listed?.replicaUuid, "aaaaaaaa-0000-0000-0000-000000000001");
      assert.equal(listed?.heartbeatPeriodNs, 30000001024);

      // This pod has applied half of what the cluster committed: a replica holding everything
      // waits for the pod to catch up instead of being refused.
      h.committed = entries.at(-1)!.index;
      await c.command(encodeBinlogDumpGtid(full.executed, NON_BLOCK, 15));
      const dumping = readDumpEvents(c);
      await new Promise((r) => setTimeout(r, 200));
      h.applyThrough(entries.at(-1)!.index);
      const events = await dumping;
      assert.deepEqual(events.map((e) => e[4]), [4, 15, 35, 27], "fake rotate, FDE, PREVIOUS_GTIDS, one heartbeat at the end: it has everything");
      c.destroy();

      // Ahead of everything committed: refused (after the wait) with the primary's message.
      const ahead = await RawClient.connect({ host: "127.0.0.1", port, user: "repl", password: "pw" });
      await ahead.query("SET @source_binlog_checksum = 'CRC32'");
      const [uuid] = [...full.executed].map((x) => x.uuid);
      await ahead.command(encodeBinlogDumpGtid(full.executed.union(MysqlGtidSet.parse(`${uuid}:1-99`)), NON_BLOCK, 16));
      await assert.rejects(readDumpEvents(ahead), (e: unknown) => e instanceof ServerErrorReply && e.errno === 1236 && /more GTIDs than the source/.test(e.message));
      ahead.destroy();

      // Compaction forgets the file's beginning: a replica that lacks its transactions is told they are purged.
      await h.store.compact(Math.floor(entries.length / 3));
      const purged = await RawClient.connect({ host: "127.0.0.1", port, user: "repl", password: "pw" });
      await purged.query("SET @source_binlog_checksum = 'CRC32'");
      await purged.command(encodeBinlogDumpGtid(MysqlGtidSet.empty(), NON_BLOCK, 17));
      await assert.rejects(readDumpEvents(purged), (e: unknown) => e instanceof ServerErrorReply && e.errno === 1236 && /purged required binary logs/.test(e.message));
      purged.destroy();
    } finally {
      await server.close();
      await h.close();
    }
  });
});

