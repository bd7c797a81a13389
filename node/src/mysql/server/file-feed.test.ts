import assert from "node:assert/strict";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { sharedDir } from "../../../test-support/requirements.ts";
import { FeedError, type FeedItem } from "./feed.ts";
import { FileBinlogFeed } from "./file-feed.ts";
import { MariadbFileBuilder } from "./testing/memory-feed.ts";

const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const g = (domain: number, seq: bigint) => ({ domain, serverId: 1, seq });

let dir: string;
const f1 = new MariadbFileBuilder("bin.000001");
f1.transaction(g(0, 1n));
f1.ddl(g(1, 1n));
f1.rotate("bin.000002");
const f2 = new MariadbFileBuilder("bin.000002", { gtidList: [g(0, 1n), g(1, 1n)], inUse: true });
f2.transaction(g(0, 2n));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "kingbus-file-feed-"));
  await writeFile(join(dir, "bin.000001"), Buffer.concat([MAGIC, ...f1.events]));
  await writeFile(join(dir, "bin.000002"), Buffer.concat([MAGIC, ...f2.events]));
  await writeFile(join(dir, "bin.index"), "./bin.000001\n./bin.000002\n");
});

after(() => rm(dir, { recursive: true, force: true }));

async function collect(iterable: AsyncIterable<FeedItem>, until: (items: FeedItem[]) => boolean): Promise<FeedItem[]> {
  const items: FeedItem[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (until(items)) break;
  }
  return items;
}

test("a directory's binlogs: files with their GTID lists, the GTID state, the checksum", async () => {
  const feed = await FileBinlogFeed.fromDirectory(dir);
  assert.equal(feed.flavor, "mariadb");
  assert.equal(feed.binlogChecksum(), "CRC32");
  const files = await feed.files();
  assert.deepEqual(files.map((f) => [f.name, f.size]), [["bin.000001", f1.size], ["bin.000002", f2.size]]);
  assert.deepEqual(files[0]!.gtidList, []);
  assert.deepEqual(files[1]!.gtidList, [g(0, 1n), g(1, 1n)]);
  const state = await feed.gtidState();
  assert.equal(state.flavor === "mariadb" && state.binlogState.position().toString(), "0-1-2,1-1-1");
});

test("reading: every event with its file and offset, caughtUp at the end, then waiting until aborted", async () => {
  const feed = await FileBinlogFeed.fromDirectory(dir);
  const aborter = new AbortController();
  const items = await collect(feed.read({ file: "bin.000001", position: 4 }, aborter.signal), (got) => got.at(-1)?.kind === "caughtUp");
  const events = items.filter((i) => i.kind === "event");
  assert.equal(events.length, f1.events.length + f2.events.length);
  assert.ok(events.every((e, i) => e.bytes.equals([...f1.events, ...f2.events][i]!)));
  assert.deepEqual(events.slice(f1.events.length, f1.events.length + 1).map((e) => [e.file, e.offset]), [["bin.000002", 4]]);
  assert.deepEqual(items.at(-1), { kind: "caughtUp", file: "bin.000002", position: f2.size });

  // After caughtUp the iterator waits; aborting ends it.
  const iterator = feed.read({ file: "bin.000002", position: f2.size }, aborter.signal)[Symbol.asyncIterator]();
  assert.equal(((await iterator.next()).value as FeedItem).kind, "event", "the FDE first");
  assert.equal(((await iterator.next()).value as FeedItem).kind, "caughtUp");
  const waiting = iterator.next();
  let settled = false;
  void waiting.then(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(settled, false);
  aborter.abort();
  assert.equal((await waiting).done, true);
});

test("reading from a position: the file's FDE, then the events from there; positions must start an event", async () => {
  const feed = await FileBinlogFeed.fromDirectory(dir);
  const from = 4 + f1.events.slice(0, 4).reduce((n, e) => n + e.length, 0);
  const items = await collect(feed.read({ file: "bin.000001", position: from }, new AbortController().signal), (got) => got.length === 3);
  assert.deepEqual(items.map((i) => (i.kind === "event" ? i.offset : -1)), [4, from, from + f1.events[4]!.length]);
  await assert.rejects(collect(feed.read({ file: "bin.000001", position: from + 1 }, new AbortController().signal), () => true), (e: unknown) => e instanceof FeedError && e.code === "FEED_BAD_POSITION");
  await assert.rejects(collect(feed.read({ file: "bin.000009", position: 4 }, new AbortController().signal), () => true), (e: unknown) => e instanceof FeedError && e.code === "FEED_UNKNOWN_FILE");
});

test("a torn event at the end of the last file is left out; damage elsewhere refuses to open", async () => {
  const torn = await mkdtemp(join(tmpdir(), "kingbus-file-feed-torn-"));
  try {
    const whole = Buffer.concat([MAGIC, ...f2.events]);
    await writeFile(join(torn, "bin.000001"), Buffer.concat([MAGIC, ...f1.events]));
    await writeFile(join(torn, "bin.000002"), whole);
    await truncate(join(torn, "bin.000002"), whole.length - 5);
    const feed = await FileBinlogFeed.open([join(torn, "bin.000001"), join(torn, "bin.000002")]);
    assert.equal((await feed.files())[1]!.size, f2.size - f2.events.at(-1)!.length);
    // The same damage in a file that is not the last one is refused.
    await assert.rejects(FileBinlogFeed.open([join(torn, "bin.000002"), join(torn, "bin.000001")]), (e: unknown) => e instanceof FeedError && e.code === "FEED_DAMAGED");
    await assert.rejects(FileBinlogFeed.open([]), (e: unknown) => e instanceof FeedError && e.code === "FEED_UNAVAILABLE");
    await assert.rejects(FileBinlogFeed.fromDirectory(join(torn, "nope")));
  } finally {
    await rm(torn, { recursive: true, force: true });
  }
});

const { dir: shared, skip } = sharedDir();

test("MySQL fixtures: PREVIOUS_GTIDS per file, executed and purged sets; flavours are not mixed", { skip }, async () => {
  const fixture = join(shared, "fixtures", "binlog", "mysql", "binlog_transaction_with_GTID_TAG.000001");
  const feed = await FileBinlogFeed.open([fixture]);
  assert.equal(feed.flavor, "mysql");
  const [file] = await feed.files();
  assert.equal(file!.previousGtids?.toString(), "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2");
  const state = await feed.gtidState();
  assert.equal(state.flavor, "mysql");
  if (state.flavor === "mysql") {
    assert.equal(state.executed.toString(), "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-3");
    assert.equal(state.purged.toString(), "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2");
  }
  await assert.rejects(
    FileBinlogFeed.open([fixture, join(shared, "fixtures", "binlog", "mariadb", "mariadb-bin.000001")]),
    (e: unknown) => e instanceof FeedError && /written by MariaDB, the others by MySQL/.test(e.message),
  );
});
