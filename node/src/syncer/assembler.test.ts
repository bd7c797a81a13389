/**
 * The assembler over real binlogs (the shared fixtures of both flavours), fed as a primary would
 * send them: a fake ROTATE naming the file, then every event. What it returns, concatenated, is
 * the file itself; a resumed connection returns exactly what is not stored yet; a damaged event
 * or a broken transaction stops the connection instead of storing anything wrong.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TransactionAssembler, AssemblerError, compareBinlogFiles, type AssembledItem, type StoredProgress } from "./assembler.ts";
import { readBinlogBuffer } from "../binlog/reader.ts";
import { buildEvent } from "../binlog/build.ts";
import { ChecksumAlgorithm } from "../binlog/checksum.ts";
import { EventFlag } from "../binlog/event-type.ts";
import type { BinlogFormat } from "../binlog/format.ts";
import { BinlogState } from "../log-entry/binlog-state.ts";
import { encodeBatch } from "../log-entry/format.ts";
import { EntryType } from "../raft/types.ts";
import { sharedDir } from "../../test-support/requirements.ts";

const { dir: shared, skip } = sharedDir();
const FIXTURES = [
  "mariadb/mariadb-bin.000001",
  "mysql/binlog_transaction_with_GTID.000001",
  "mysql/binlog_transaction_with_GTID_TAG.000001",
  "mysql/binlog_transaction_with_anonymous_GTID.000001",
  "mysql/transaction_compression.000001",
  "mysql/json.binlog.000001",
  "mysql/bug27213339-bin.000001",
];

interface Stream {
  name: string;
  file: Buffer;
  checksum: ChecksumAlgorithm;
  format: BinlogFormat;
  /** The packets a primary sends: fake rotate, then the file's events. */
  events: Buffer[];
}

function stream(fixture: string): Stream {
  const file = readFileSync(join(shared, "fixtures", "binlog", fixture));
  const events = [...readBinlogBuffer(file)];
  const format = events[1]?.format ?? events[0]!.format;
  const name = fixture.split("/")[1]!;
  const fake = buildEvent({ kind: "rotate", position: 4n, nextFile: name }, { timestamp: 0, logPos: 0, flags: EventFlag.ARTIFICIAL }, format).bytes;
  return { name, file, checksum: format.checksum, format, events: [fake, ...events.map((e) => e.bytes)] };
}

function feed(a: TransactionAssembler, events: readonly Buffer[]): AssembledItem[] {
  return events.flatMap((e) => a.push(e));
}

function bytesOf(items: readonly AssembledItem[]): Buffer {
  return Buffer.concat(items.map(({ item }) => (item.kind === "transaction" ? item.events : item.event)));
}

const nothingStored: StoredProgress = { position: undefined, writerServerId: undefined, hasGtid: () => false };

for (const fixture of FIXTURES) {
  test(`${fixture}: the items are the file, byte for byte, in whole transactions`, { skip }, () => {
    const s = stream(fixture);
    const items = feed(new TransactionAssembler(nothingStored, s.checksum), s.events);
    assert.ok(items.length > 0);
    assert.ok(bytesOf(items).equals(s.file.subarray(4)), "concatenated items equal the file after its magic");
    for (const { item } of items) assert.equal(item.file, s.name);
    // Positions only grow, and each item ends where the primary's log_pos says.
    let at = 4;
    for (const { item } of items) {
      at += item.kind === "transaction" ? item.events.length : item.event.length;
      assert.equal(item.endPos, at);
    }
  });

  test(`${fixture}: a connection resumed after any stored item returns exactly the rest`, { skip }, () => {
    const s = stream(fixture);
    const all = feed(new TransactionAssembler(nothingStored, s.checksum), s.events);
    for (let k = 0; k < all.length; k++) {
      const state = new BinlogState();
      state.apply({ index: 1, term: 1, type: EntryType.Normal, data: encodeBatch(all.slice(0, k + 1).map((x) => x.item)) });
      const rest = feed(new TransactionAssembler(state, s.checksum), s.events);
      assert.deepEqual(rest.map((x) => x.item.endPos), all.slice(k + 1).map((x) => x.item.endPos), `resumed after item ${k}`);
    }
  });
}

test("a cut-off connection leaves nothing half-stored; the next one completes the transaction", { skip }, () => {
  const s = stream("mariadb/mariadb-bin.000001");
  const all = feed(new TransactionAssembler(nothingStored, s.checksum), s.events);
  const firstTxn = all.findIndex((x) => x.item.kind === "transaction");
  assert.ok(firstTxn >= 0);
  // Deliver events up to the middle of the first transaction.
  const a = new TransactionAssembler(nothingStored, s.checksum);
  let got: AssembledItem[] = [];
  let n = 0;
  while (!a.inTransaction) got = got.concat(a.push(s.events[n++]!));
  got = got.concat(a.push(s.events[n]!));
  assert.ok(a.inTransaction, "stopped inside a transaction");
  assert.equal(got.filter((x) => x.item.kind === "transaction").length, 0);
  const state = new BinlogState();
  state.apply({ index: 1, term: 1, type: EntryType.Normal, data: encodeBatch(got.map((x) => x.item)) });
  const rest = feed(new TransactionAssembler(state, s.checksum), s.events);
  assert.ok(Buffer.concat([bytesOf(got), bytesOf(rest)]).equals(s.file.subarray(4)));
});

test("a damaged event fails the connection; artificial events and heartbeats are not stored", { skip }, () => {
  const s = stream("mariadb/mariadb-bin.000001");
  assert.equal(s.checksum, ChecksumAlgorithm.CRC32);
  const damaged = s.events.map((e) => Buffer.from(e));
  const victim = damaged.length - 2;
  damaged[victim]![25]! ^= 0xff;
  const a = new TransactionAssembler(nothingStored, s.checksum);
  assert.throws(() => feed(a, damaged), (e: unknown) => e instanceof AssemblerError && e.code === "SYNCER_BAD_EVENT" && /CRC32/.test(e.message));

  const heartbeat = buildEvent({ kind: "heartbeat", logFile: s.name }, { timestamp: 0, logPos: 300, flags: EventFlag.ARTIFICIAL }, s.format).bytes;
  const gtidList = buildEvent({ kind: "mariadbGtidList", flags: 0, list: [], trailing: Buffer.alloc(0) }, { timestamp: 0, logPos: 300, flags: EventFlag.ARTIFICIAL }, s.format).bytes;
  const withExtras = [s.events[0]!, s.events[1]!, heartbeat, gtidList, ...s.events.slice(2)];
  const b = new TransactionAssembler(nothingStored, s.checksum);
  assert.ok(bytesOf(feed(b, withExtras)).equals(s.file.subarray(4)));
  assert.deepEqual(b.primaryPosition, { file: s.name, pos: s.file.length });
});

test("binlog file names order by their numeric extension within one series only", () => {
  assert.ok(compareBinlogFiles("bin.000009", "bin.000010")! < 0);
  assert.equal(compareBinlogFiles("bin.000010", "bin.000010"), 0);
  assert.ok(compareBinlogFiles("bin.1000000", "bin.999999")! > 0);
  assert.equal(compareBinlogFiles("a.000001", "b.000002"), undefined);
  assert.equal(compareBinlogFiles("noext", "bin.000001"), undefined);
});

test("after a re-point, positions of another server's files do not hide its transactions", { skip }, () => {
  const s = stream("mariadb/mariadb-bin.000001");
  const all = feed(new TransactionAssembler(nothingStored, s.checksum), s.events);
  const last = all.at(-1)!.item;
  // Stored: the same file name, far past every position, but written by another server, and none of these GTIDs.
  const elsewhere: StoredProgress = { position: { file: last.file, pos: 1 << 30 }, writerServerId: 999_999, hasGtid: () => false };
  assert.deepEqual(feed(new TransactionAssembler(elsewhere, s.checksum), s.events).map((x) => x.item.endPos), all.map((x) => x.item.endPos));
  // The same server: those positions are stored already.
  const fde = all.find((x) => x.item.kind === "event")!.item;
  const writer = fde.kind === "event" ? Buffer.from(fde.event).readUInt32LE(5) : 0;
  const same: StoredProgress = { ...elsewhere, writerServerId: writer };
  assert.deepEqual(feed(new TransactionAssembler(same, s.checksum), s.events), []);
});
