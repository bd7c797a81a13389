import { test, after } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LogStore } from "./log-store.ts";
import { StorageError } from "./errors.ts";
import { entries, entry, payloadOf, removeTempStoreDirs, tempStoreDir, binlogEntry, testExtractor } from "../../test-support/storage.ts";
import { SEGMENT_HEADER_LENGTH } from "./segment.ts";
import { MysqlGtidSet } from "../binlog/gtid-mysql.ts";

after(removeTempStoreDirs);

const isStorageError = (code: string, pattern?: RegExp) => (e: unknown): boolean =>
  e instanceof StorageError && e.code === code && (pattern === undefined || pattern.test(e.message));

function segmentFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith(".seg")).sort();
}

function assertIntact(store: LogStore, lo: number, hi: number, termOf: (i: number) => number = () => 1, size = 64): void {
  const got = store.entries(lo, hi + 1);
  assert.equal(got.length, hi - lo + 1);
  got.forEach((e, k) => {
    assert.equal(e.index, lo + k);
    assert.equal(e.term, termOf(lo + k));
    assert.ok(Buffer.from(e.data).equals(payloadOf(lo + k, termOf(lo + k), size)), `payload of ${lo + k}`);
  });
}

test("append, read back, terms, first and last index, across segment rolls and a reopen", async () => {
  const dir = tempStoreDir();
  let store = await LogStore.open(dir, { segmentBytes: 2048 });
  assert.deepEqual([store.firstIndex(), store.lastIndex()], [1, 0]);
  await store.append(entries(1, 50, 1));
  await store.append(entries(51, 50, 2));
  assert.equal(store.lastIndex(), 100);
  assert.ok(segmentFiles(dir).length >= 4, "rolled into several segments");
  assert.equal(readdirSync(dir).filter((n) => n.endsWith(".idx")).length, segmentFiles(dir).length - 1, "every sealed segment has a sidecar");
  assertIntact(store, 1, 100, (i) => (i <= 50 ? 1 : 2));
  assert.deepEqual([store.term(50), store.term(51), store.term(100)], [1, 2, 2]);
  await store.close();
  store = await LogStore.open(dir, { segmentBytes: 2048 });
  assert.deepEqual([store.firstIndex(), store.lastIndex()], [1, 100]);
  assertIntact(store, 1, 100, (i) => (i <= 50 ? 1 : 2));
  await store.append(entries(101, 5, 3));
  assertIntact(store, 95, 105, (i) => (i <= 100 ? 2 : 3));
  await store.close();
});

test("reads are bounded by bytes but return at least one entry; out-of-range reads are typed errors", async () => {
  const store = await LogStore.open(tempStoreDir(), { segmentBytes: 4096 });
  await store.append(entries(1, 100, 1, 100));
  assert.equal(store.entries(1, 101, 1).length, 1);
  assert.equal(store.entries(1, 101, 3 * 125).length, 3, "three 125-byte records fit in 375 bytes");
  assert.equal(store.entries(10, 90, 10_000).length, 80);
  assert.throws(() => store.entries(0, 5), isStorageError("STORAGE_COMPACTED"));
  assert.throws(() => store.entries(99, 102), isStorageError("STORAGE_UNAVAILABLE"));
  assert.throws(() => store.term(101), isStorageError("STORAGE_UNAVAILABLE"));
  await assert.rejects(store.append(entries(105, 2)), isStorageError("STORAGE_BAD_APPEND", /append at index 105/));
  await assert.rejects(store.append([entry(101), entry(103)]), isStorageError("STORAGE_BAD_APPEND", /not consecutive/));
  await store.close();
});

test("appending at or below the last index replaces the suffix (a follower's conflicting entries)", async () => {
  const dir = tempStoreDir();
  let store = await LogStore.open(dir, { segmentBytes: 1024 });
  await store.append(entries(1, 40, 1));
  await store.append(entries(12, 3, 5));
  assert.equal(store.lastIndex(), 14);
  assertIntact(store, 1, 14, (i) => (i < 12 ? 1 : 5));
  await store.truncateSuffix(3);
  assert.equal(store.lastIndex(), 2);
  await store.append(entries(3, 30, 6));
  await store.close();
  store = await LogStore.open(dir, { segmentBytes: 1024 });
  assertIntact(store, 1, 32, (i) => (i < 3 ? 1 : 6));
  await store.close();
});

test("concurrent appends are committed in order and share fsyncs", async () => {
  const store = await LogStore.open(tempStoreDir(), { segmentBytes: 64 * 1024 });
  await Promise.all(Array.from({ length: 40 }, (_, k) => store.append(entries(k * 5 + 1, 5))));
  assert.equal(store.lastIndex(), 200);
  assertIntact(store, 1, 200);
  await store.close();
});

test("compaction forgets a prefix, keeps the term before it, deletes whole segments, survives reopen", async () => {
  const dir = tempStoreDir();
  let store = await LogStore.open(dir, { segmentBytes: 1024 });
  await store.append(entries(1, 60, 1));
  await store.append(entries(61, 40, 2));
  const before = segmentFiles(dir).length;
  await store.compact(65);
  assert.equal(store.firstIndex(), 66);
  assert.equal(store.term(65), 2, "the term at the compaction point stays known");
  assert.throws(() => store.entries(65, 66), isStorageError("STORAGE_COMPACTED"));
  assert.ok(segmentFiles(dir).length < before, "whole segments below the point are deleted");
  await assert.rejects(store.truncateSuffix(60), isStorageError("STORAGE_BAD_APPEND"));
  await store.close();
  store = await LogStore.open(dir, { segmentBytes: 1024 });
  assert.deepEqual([store.firstIndex(), store.lastIndex(), store.term(65)], [66, 100, 2]);
  assertIntact(store, 66, 100, () => 2);
  await store.close();
});

test("a follower's snapshot install replaces the log; appends continue after it", async () => {
  const dir = tempStoreDir();
  let store = await LogStore.open(dir, { segmentBytes: 1024 });
  await store.append(entries(1, 30));
  await store.resetToSnapshot({ index: 500, term: 7, conf: { voters: [1, 2, 3], learners: [] } });
  assert.deepEqual([store.firstIndex(), store.lastIndex(), store.term(500)], [501, 500, 7]);
  await store.append(entries(501, 10, 8));
  await store.close();
  store = await LogStore.open(dir, { segmentBytes: 1024 });
  assert.deepEqual([store.firstIndex(), store.lastIndex()], [501, 510]);
  assert.deepEqual(store.snapshotMetadata(), { index: 500, term: 7, conf: { voters: [1, 2, 3], learners: [] } });
  assertIntact(store, 501, 510, () => 8);
  await store.close();
});

test("hard state, membership and snapshot metadata are saved atomically and loaded on open", async () => {
  const dir = tempStoreDir();
  let store = await LogStore.open(dir);
  assert.deepEqual(store.hardState(), { term: 0, vote: 0, commit: 0 });
  await store.saveHardState({ term: 4, vote: 2, commit: 17 });
  await store.saveConfState({ voters: [1, 2, 3], learners: [4] });
  await store.saveSnapshotMetadata({ index: 9, term: 3, conf: { voters: [1, 2], learners: [] } });
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith(".tmp")), [], "no temporary file left behind");
  await store.close();
  writeFileSync(join(dir, "hardstate.tmp"), "half-written by a crash");
  store = await LogStore.open(dir);
  assert.deepEqual(store.hardState(), { term: 4, vote: 2, commit: 17 });
  assert.deepEqual(store.confState(), { voters: [1, 2, 3], learners: [4] });
  assert.deepEqual(store.snapshotMetadata()?.index, 9);
  assert.ok(!readdirSync(dir).includes("hardstate.tmp"), "a leftover temporary file is removed");
  await store.close();
  const bytes = readFileSync(join(dir, "hardstate"));
  bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 0x01;
  writeFileSync(join(dir, "hardstate"), bytes);
  await assert.rejects(LogStore.open(dir), isStorageError("STORAGE_CORRUPT", /hardstate at byte 16: .*CRC32/));
});

// ------------------------------------------------------------------ failure behaviour

async function storeWithSegments(segmentBytes = 1024): Promise<{ dir: string; last: number }> {
  const dir = tempStoreDir();
  const store = await LogStore.open(dir, { segmentBytes });
  await store.append(entries(1, 40));
  await store.close();
  return { dir, last: 40 };
}

test("a torn tail (the file cut anywhere inside the last record) is truncated at the last whole record", async () => {
  const { dir } = await storeWithSegments(64 * 1024);
  const seg = join(dir, segmentFiles(dir).at(-1)!);
  const whole = readFileSync(seg);
  const recordBytes = 25 + 64;
  const lastStart = whole.length - recordBytes;
  for (const cut of [lastStart + 1, lastStart + 4, lastStart + 24, lastStart + 25, whole.length - 1]) {
    writeFileSync(seg, whole.subarray(0, cut));
    const store = await LogStore.open(dir, { segmentBytes: 64 * 1024 });
    assert.equal(store.lastIndex(), 39, `cut at ${cut}`);
    assertIntact(store, 1, 39);
    assert.equal(statSync(seg).size, lastStart, "the torn bytes are gone from the file");
    await store.append([entry(40)]);
    await store.close();
  }
});

test("zeros after the last record (a crash after the file grew) are truncated; a flipped byte in the last record is a torn tail", async () => {
  const { dir } = await storeWithSegments(64 * 1024);
  const seg = join(dir, segmentFiles(dir).at(-1)!);
  appendFileSync(seg, Buffer.alloc(4096));
  let store = await LogStore.open(dir, { segmentBytes: 64 * 1024 });
  assert.equal(store.lastIndex(), 40);
  await store.close();
  const bytes = readFileSync(seg);
  bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff;
  writeFileSync(seg, bytes);
  store = await LogStore.open(dir, { segmentBytes: 64 * 1024 });
  assert.equal(store.lastIndex(), 39);
  await store.close();
});

test("a bad record before the tail of the open segment stops open with the file and offset", async () => {
  const { dir } = await storeWithSegments(64 * 1024);
  const seg = join(dir, segmentFiles(dir).at(-1)!);
  const bytes = readFileSync(seg);
  const tenth = SEGMENT_HEADER_LENGTH + 9 * (25 + 64);
  bytes[tenth + 40] = bytes[tenth + 40]! ^ 0x10;
  writeFileSync(seg, bytes);
  await assert.rejects(LogStore.open(dir), (e: unknown) => e instanceof StorageError && e.code === "STORAGE_CORRUPT" && e.file === seg && e.offset === tenth && /CRC32/.test(e.message));
});

test("damage in a sealed segment: open reads only the open segment, a read of the damage stops the store", async () => {
  const { dir } = await storeWithSegments(1024);
  const sealed = join(dir, segmentFiles(dir)[1]!);
  const bytes = readFileSync(sealed);
  const third = SEGMENT_HEADER_LENGTH + 2 * (25 + 64);
  bytes[third + 30] = bytes[third + 30]! ^ 0x01;
  writeFileSync(sealed, bytes);
  const store = await LogStore.open(dir, { segmentBytes: 1024 });
  assert.equal(store.lastIndex(), 40, "open did not read the sealed segment's records");
  const firstOfSealed = Number(segmentFiles(dir)[1]!.slice(0, 20));
  assertIntact(store, 1, firstOfSealed - 1);
  assert.throws(() => store.entries(firstOfSealed, firstOfSealed + 5), (e: unknown) => e instanceof StorageError && e.code === "STORAGE_CORRUPT" && e.file === sealed && e.offset === third);
  assert.throws(() => store.entries(1, 2), isStorageError("STORAGE_CORRUPT"), "nothing is served once damage was found");
  await assert.rejects(store.append([entry(41)]), isStorageError("STORAGE_CORRUPT"));
});

test("a missing middle segment is a gap: open refuses naming the segments on both sides", async () => {
  const { dir } = await storeWithSegments(1024);
  const files = segmentFiles(dir);
  unlinkSync(join(dir, files[1]!));
  await assert.rejects(LogStore.open(dir, { segmentBytes: 1024 }), (e: unknown) => e instanceof StorageError && e.code === "STORAGE_CORRUPT" && new RegExp(`gap in the log after this segment: .*\\(${files[2]}\\)`).test(e.message) && e.file === join(dir, files[0]!));
});

test("a sealed segment cut short under its sidecar is refused; a damaged or missing sidecar is rebuilt", async () => {
  const { dir } = await storeWithSegments(1024);
  const files = segmentFiles(dir);
  const idx = join(dir, files[0]!.replace(".seg", ".idx"));
  const sidecar = readFileSync(idx);
  sidecar[20] = sidecar[20]! ^ 0x55;
  writeFileSync(idx, sidecar);
  unlinkSync(join(dir, files[1]!.replace(".seg", ".idx")));
  const store = await LogStore.open(dir, { segmentBytes: 1024 });
  assertIntact(store, 1, 40);
  await store.close();
  assert.ok(!readFileSync(idx).equals(sidecar), "the damaged sidecar was rewritten");
  assert.ok(readdirSync(dir).includes(files[1]!.replace(".seg", ".idx")), "the missing sidecar was rebuilt");
  const sealed = join(dir, files[0]!);
  truncateSync(sealed, statSync(sealed).size - 10);
  await assert.rejects(LogStore.open(dir, { segmentBytes: 1024 }), (e: unknown) => e instanceof StorageError && e.code === "STORAGE_CORRUPT" && e.file === sealed);
});

// ------------------------------------------------------------------ binlog indexes and retention

test("binlog indexes find entries by GTID and by file position in sealed and open segments, after reopen", async () => {
  const dir = tempStoreDir();
  const open = () => LogStore.open(dir, { segmentBytes: 2048, extractBinlogInfo: testExtractor });
  let store = await open();
  const all = Array.from({ length: 120 }, (_, k) => binlogEntry(k + 1, 1, `${k % 3}-7-${Math.floor(k / 3) + 1}`, k < 60 ? "bin.000001" : "bin.000002", 4 + (k % 60 + 1) * 100));
  for (let k = 0; k < 120; k += 10) await store.append(all.slice(k, k + 10));
  for (const s of [store, (await store.close(), (store = await open()))]) {
    assert.equal(s.lookupGtid({ flavor: "mariadb", domain: 1, serverId: 7, seq: 5n }), 14);
    assert.equal(s.lookupGtid({ flavor: "mariadb", domain: 2, serverId: 7, seq: 40n }), 120);
    assert.equal(s.lookupGtid({ flavor: "mariadb", domain: 2, serverId: 8, seq: 40n }), undefined, "another server id is another GTID");
    assert.equal(s.lookupGtid({ flavor: "mariadb", domain: 0, serverId: 7, seq: 41n }), undefined);
    assert.equal(s.earliestEntryWithSeqFrom({ flavor: "mariadb", domain: 0, serverId: 7, seq: 30n }), 88);
    assert.equal(s.entryAfterPosition("bin.000001", 4), 1);
    assert.equal(s.entryAfterPosition("bin.000001", 2004), 21, "the transaction ending after 2004 is entry 21");
    assert.equal(s.entryAfterPosition("bin.000002", 104), 62);
    assert.equal(s.entryAfterPosition("bin.000002", 6004), undefined, "past the end of the file");
    assert.equal(s.entryAfterPosition("bin.000003", 4), undefined);
  }
  await store.truncateSuffix(100);
  assert.equal(store.lookupGtid({ flavor: "mariadb", domain: 2, serverId: 7, seq: 40n }), undefined, "truncated entries leave the index");
  await store.close();
});

test("retention purges whole sealed segments by size and by age, never past the applied index, and keeps the purged GTIDs", async () => {
  const dir = tempStoreDir();
  let clock = 1_000_000;
  const store = await LogStore.open(dir, { segmentBytes: 1024, extractBinlogInfo: testExtractor, now: () => clock });
  for (let k = 1; k <= 100; k++) {
    await store.append([binlogEntry(k, 1, `0-1-${k}`, "bin.000001", 4 + k * 10)]);
    clock += 1000;
  }
  const facts = store.segmentFacts();
  const total = facts.reduce((n, f) => n + f.bytes, 0);
  assert.equal(await store.applyRetention({ maxBytes: total }, 100), 1, "under the limit: nothing goes");
  assert.equal(await store.applyRetention({ maxBytes: 0 }, 0), 1, "nothing applied: nothing goes");
  const firstAfterApplied = await store.applyRetention({ maxBytes: 0 }, 30);
  assert.ok(firstAfterApplied > 1 && firstAfterApplied <= 31, `purged only applied segments (first ${firstAfterApplied})`);
  assert.equal(store.purgedGtids().mariadb.toString(), `0-1-${firstAfterApplied - 1}`);
  assert.equal(store.lookupGtid({ flavor: "mariadb", domain: 0, serverId: 1, seq: 1n }), undefined);
  const ageFirst = await store.applyRetention({ maxAgeMs: clock - facts[4]!.sealedMs - 1 }, 100);
  assert.equal(ageFirst, facts[4]!.lastIndex + 1, "segments sealed before the age limit go, the younger stay");
  assert.equal(store.segmentFacts().at(-1)!.sealed, false, "the open segment always stays");
  await store.close();
  const reopened = await LogStore.open(dir, { segmentBytes: 1024, extractBinlogInfo: testExtractor });
  assert.equal(reopened.firstIndex(), ageFirst);
  assert.equal(reopened.purgedGtids().mariadb.toString(), `0-1-${ageFirst - 1}`);
  await reopened.close();
});

test("MySQL GTIDs (tagged too) are indexed, and compaction adds them to the purged MySQL GTID set", async () => {
  const uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
  const other = "b9b88c66-0755-11f1-9899-4a9da94c4d71";
  const extract = (e: { index: number }) => {
    const i = e.index;
    if (i % 10 === 0) return [{ gtid: { flavor: "mysql" as const, uuid, tag: "blue", gno: BigInt(i / 10) }, file: "binlog.000001", endPos: i * 50 }];
    return [{ gtid: { flavor: "mysql" as const, uuid: i % 2 ? uuid : other, gno: BigInt(i) }, file: "binlog.000001", endPos: i * 50 }];
  };
  const dir = tempStoreDir();
  let store = await LogStore.open(dir, { segmentBytes: 1500, extractBinlogInfo: extract });
  for (let k = 1; k <= 100; k += 10) await store.append(entries(k, 10));
  await store.close();
  store = await LogStore.open(dir, { segmentBytes: 1500, extractBinlogInfo: extract });
  assert.equal(store.lookupGtid({ flavor: "mysql", uuid, gno: 37n }), 37);
  assert.equal(store.lookupGtid({ flavor: "mysql", uuid: other, gno: 38n }), 38);
  assert.equal(store.lookupGtid({ flavor: "mysql", uuid, gno: 38n }), undefined);
  assert.equal(store.lookupGtid({ flavor: "mysql", uuid, tag: "blue", gno: 7n }), 70);
  assert.equal(store.earliestEntryWithSeqFrom({ flavor: "mysql", uuid: other, gno: 51n }), 52);
  await store.compact(25);
  const expected = MysqlGtidSet.fromGtids(Array.from({ length: 25 }, (_, k) => extract({ index: k + 1 })[0]!.gtid));
  assert.equal(store.purgedGtids().mysql.toString(), expected.toString());
  assert.match(expected.toString(), /:blue:1-2/, "tagged GTIDs are part of it");
  assert.equal(store.lookupGtid({ flavor: "mysql", uuid, gno: 23n }), undefined, "purged GTIDs are not found");
  await store.close();
});

test("the last membership-change entry is known without a scan, through seal, reopen, truncation and compaction", async () => {
  const dir = tempStoreDir();
  const conf = (i: number) => ({ ...entry(i), type: 1 as const });
  let store = await LogStore.open(dir, { segmentBytes: 1024 });
  assert.equal(store.lastConfChangeIndex(), 0);
  await store.append([...entries(1, 4), conf(5), ...entries(6, 20), conf(26), ...entries(27, 10)]);
  assert.equal(store.lastConfChangeIndex(), 26);
  await store.close();
  store = await LogStore.open(dir, { segmentBytes: 1024 });
  assert.equal(store.lastConfChangeIndex(), 26, "from the sidecar summaries after a reopen");
  await store.truncateSuffix(20);
  assert.equal(store.lastConfChangeIndex(), 5, "a truncated membership change is forgotten");
  await store.append([...entries(20, 10)]);
  await store.close();
  store = await LogStore.open(dir, { segmentBytes: 1024 });
  assert.equal(store.lastConfChangeIndex(), 5);
  await store.compact(10);
  assert.equal(store.lastConfChangeIndex(), 0, "a compacted membership change lives in the snapshot");
  await store.close();
});

test("a leader's exported files install on a follower: the log is replaced, cut back to the snapshot's index", async () => {
  const leaderDir = tempStoreDir();
  const leader = await LogStore.open(leaderDir, { segmentBytes: 2048, extractBinlogInfo: testExtractor });
  for (let k = 1; k <= 120; k += 10) await leader.append(Array.from({ length: 10 }, (_, j) => binlogEntry(k + j, 2, `0-1-${k + j}`, "bin.000001", 100 * (k + j))));
  await leader.compact(30);
  const exported = tempStoreDir("kingbus-export-");
  const files = await leader.exportSnapshot(exported);
  assert.ok(files.some((f) => f.endsWith(".idx")) && files.includes("compaction"), `exported ${files.join(", ")}`);
  // Appends after the export leave the exported files as they were.
  const openCopy = files.find((f) => f.endsWith(".seg") && !files.includes(f.replace(".seg", ".idx")))!;
  const before = statSync(join(exported, openCopy)).size;
  await leader.append([binlogEntry(121, 2, "0-1-121", "bin.000001", 12100)]);
  assert.equal(statSync(join(exported, openCopy)).size, before);

  const followerDir = tempStoreDir();
  const follower = await LogStore.open(followerDir, { segmentBytes: 2048, extractBinlogInfo: testExtractor });
  await follower.append(entries(1, 15, 1));
  await follower.installSnapshot({ index: 100, term: 2, conf: { voters: [1, 2, 3], learners: [] } }, exported);
  assert.deepEqual([follower.firstIndex(), follower.lastIndex()], [31, 100]);
  const a = leader.entries(31, 101);
  const b = follower.entries(31, 101);
  assert.deepEqual(b.map((e) => [e.index, e.term, Buffer.from(e.data).toString("hex")]), a.map((e) => [e.index, e.term, Buffer.from(e.data).toString("hex")]));
  assert.equal(follower.lookupGtid({ flavor: "mariadb", domain: 0, serverId: 1, seq: 77n }), 77, "the binlog index came along");
  assert.equal(follower.snapshotMetadata()?.index, 100);
  await follower.append([binlogEntry(101, 3, "0-1-101", "bin.000001", 10100)]);
  await follower.close();
  const reopened = await LogStore.open(followerDir, { segmentBytes: 2048, extractBinlogInfo: testExtractor });
  assert.deepEqual([reopened.firstIndex(), reopened.lastIndex(), reopened.term(101)], [31, 101, 3]);
  await reopened.close();
  await leader.close();
});

test("appends queued behind each other never deadlock with compaction, truncation or a snapshot export running meanwhile", { timeout: 20_000 }, async () => {
  const store = await LogStore.open(tempStoreDir(), { segmentBytes: 2048 });
  let next = 1;
  const writers = Array.from({ length: 4 }, async () => {
    for (let k = 0; k < 40; k++) {
      const batch = entries(next, 3);
      next += 3;
      await store.append(batch);
    }
  });
  const exclusive = (async () => {
    for (let k = 0; k < 20; k++) {
      const last = store.lastIndex();
      if (last > 10) await store.compact(last - 5);
      await store.exportSnapshot(tempStoreDir("kingbus-export-"));
      await new Promise((r) => setImmediate(r));
    }
  })();
  await Promise.all([...writers, exclusive]);
  assert.equal(store.lastIndex(), next - 1);
  assertIntact(store, store.firstIndex(), store.lastIndex());
  await store.close();
});
