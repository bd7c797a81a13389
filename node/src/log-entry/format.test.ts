import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeEntry, encodeBatch, encodeControl, encodeFragment, LogEntryError, type BatchItem } from "./format.ts";
import { extractBinlogInfo } from "./extract.ts";
import { BinlogState } from "./binlog-state.ts";
import { EntryType, type Entry } from "../raft/types.ts";
import type { GtidKey } from "../storage/binlog-index.ts";

const hex = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString("hex"));
const uuid = hex.map((h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`);
const gtid: fc.Arbitrary<GtidKey | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record({ flavor: fc.constant("mariadb" as const), domain: fc.nat(0xffffffff), serverId: fc.nat(0xffffffff), seq: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }) }),
  fc.record({ flavor: fc.constant("mysql" as const), uuid, gno: fc.bigInt({ min: 1n, max: (1n << 63n) - 2n }) }),
  fc.record({ flavor: fc.constant("mysql" as const), uuid, tag: fc.stringMatching(/^[a-z_][a-z0-9_]{0,31}$/), gno: fc.bigInt({ min: 1n, max: (1n << 63n) - 2n }) }),
);
const file = fc.constantFrom("bin.000001", "bin.000002", "mysql-bin.000123", "b\u00e9n.000001");
const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
const item: fc.Arbitrary<BatchItem> = fc.oneof(
  fc.record({ kind: fc.constant("transaction" as const), file, endPos: fc.nat(), timestamp: fc.nat(0xffffffff), gtid, events: bytes }),
  fc.record({ kind: fc.constant("event" as const), file, endPos: fc.nat(), timestamp: fc.nat(0xffffffff), event: bytes }),
);

test("batches, fragments and control records decode to what was encoded", () => {
  fc.assert(
    fc.property(fc.array(item, { maxLength: 20 }), (items) => {
      // fast-check's records have no prototype; compare as plain objects.
      assert.deepEqual(decodeEntry(encodeBatch(items)), { kind: "batch", items: items.map((it) => (it.kind === "transaction" ? { ...it, gtid: it.gtid && { ...it.gtid } } : { ...it })) });
    }),
  );
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), fc.nat(1000), file, fc.nat(), gtid, bytes, (first, last, part, f, endPos, g, b) => {
      const fragment = { first, last, part, file: f, endPos, timestamp: 7, gtid: g, bytes: b };
      assert.deepEqual(decodeEntry(encodeFragment(fragment)), { kind: "fragment", ...fragment, gtid: g && { ...g } });
    }),
  );
  assert.deepEqual(decodeEntry(encodeControl({ type: "syncer", running: true, config: { a: 1 } })), { kind: "control", record: { type: "syncer", running: true, config: { a: 1 } } });
});

test("a damaged entry is refused with a typed error, never misread", () => {
  const good = encodeBatch([{ kind: "transaction", file: "bin.000001", endPos: 500, timestamp: 1, gtid: { flavor: "mariadb", domain: 0, serverId: 1, seq: 5n }, events: Buffer.alloc(40, 1) }]);
  for (let cut = 4; cut < good.length; cut++) assert.throws(() => decodeEntry(good.subarray(0, cut)), LogEntryError, `cut at ${cut}`);
  assert.throws(() => decodeEntry(Buffer.concat([good, Buffer.of(0)])), /follow the last item/);
  const badVersion = Buffer.from(good);
  badVersion[2] = 9;
  assert.throws(() => decodeEntry(badVersion), /version 9/);
  assert.throws(() => decodeEntry(Buffer.from("plain test write")), /magic/);
});

function entry(index: number, data: Buffer): Entry {
  return { index, term: 1, type: EntryType.Normal, data };
}

const maria = (seq: number): GtidKey => ({ flavor: "mariadb", domain: 0, serverId: 1, seq: BigInt(seq) });

test("the extractor lists every batch item and only the last fragment", () => {
  const batch = encodeBatch([
    { kind: "event", file: "bin.000001", endPos: 256, timestamp: 1, event: Buffer.alloc(19) },
    { kind: "transaction", file: "bin.000001", endPos: 900, timestamp: 1, gtid: maria(1), events: Buffer.alloc(50) },
  ]);
  assert.deepEqual(extractBinlogInfo(entry(1, batch)), [
    { file: "bin.000001", endPos: 256 },
    { gtid: maria(1), file: "bin.000001", endPos: 900 },
  ]);
  const middle = encodeFragment({ first: true, last: false, part: 0, file: "bin.000001", endPos: 0, timestamp: 0, gtid: undefined, bytes: Buffer.alloc(10) });
  const last = encodeFragment({ first: false, last: true, part: 1, file: "bin.000001", endPos: 5000, timestamp: 3, gtid: maria(2), bytes: Buffer.alloc(10) });
  assert.deepEqual(extractBinlogInfo(entry(2, middle)), []);
  assert.deepEqual(extractBinlogInfo(entry(3, last)), [{ gtid: maria(2), file: "bin.000001", endPos: 5000 }]);
  assert.deepEqual(extractBinlogInfo(entry(4, encodeControl({ type: "syncer" }))), []);
  assert.deepEqual(extractBinlogInfo(entry(5, Buffer.from("test write"))), []);
});

test("the state counts a fragmented transaction once its last part applies, and abandons an unfinished run", () => {
  const state = new BinlogState();
  const frag = (part: number, first: boolean, last: boolean, seq: number) => encodeFragment({ first, last, part, file: "bin.000001", endPos: 1000 * seq, timestamp: seq, gtid: maria(seq), bytes: Buffer.alloc(8) });
  state.apply(entry(1, encodeBatch([{ kind: "transaction", file: "bin.000001", endPos: 400, timestamp: 1, gtid: maria(1), events: Buffer.alloc(8) }])));
  state.apply(entry(2, frag(0, true, false, 2)));
  assert.equal(state.executedText(), "0-1-1", "a first fragment alone does not count");
  // The leader changed: the transaction is stored again from its first part.
  state.apply(entry(3, frag(0, true, false, 2)));
  state.apply(entry(4, frag(1, false, false, 2)));
  state.apply(entry(5, frag(2, false, true, 2)));
  assert.equal(state.executedText(), "0-1-2");
  assert.equal(state.abandonedFragments, 1);
  assert.equal(state.transactions, 2);
  assert.deepEqual(state.position, { file: "bin.000001", pos: 2000 });
  // A continuation without its beginning is not a transaction.
  state.apply(entry(6, frag(3, false, true, 3)));
  assert.equal(state.executedText(), "0-1-2");
  assert.ok(state.hasGtid(maria(2)) && !state.hasGtid(maria(3)));
  state.apply(entry(7, encodeControl({ type: "syncer", running: true, config: { mysqlAddr: "127.0.0.1:3306" } })));
  assert.equal(state.syncer?.running, true);
});

test("MySQL GTIDs accumulate into a set", () => {
  const state = new BinlogState();
  const u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
  for (const gno of [1, 2, 3, 5]) {
    state.apply(entry(gno, encodeBatch([{ kind: "transaction", file: "binlog.000001", endPos: gno * 100, timestamp: 0, gtid: { flavor: "mysql", uuid: u, gno: BigInt(gno) }, events: Buffer.alloc(1) }])));
  }
  assert.equal(state.executedText(), `${u}:1-3:5`);
  assert.equal(state.lastGtid, `${u}:5`);
});
