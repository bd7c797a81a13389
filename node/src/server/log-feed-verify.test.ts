/**
 * When the binlog server checks stored records' CRC32 (LogBinlogFeed's `verifyRecords`), shown on
 * a real LogStore holding real binlog files with one byte of a segment file flipped on disk:
 *  - "auto", a file whose events carry a CRC32 (MySQL 8): the dump serves the damaged event as it
 *    is stored, and the event's own CRC32 fails: what every replica checks as it receives it;
 *  - "always", the same damage: the read fails with STORAGE_CORRUPT, nothing is served past it;
 *  - "auto", a file whose events carry no CRC32 (MySQL 5.1): the record's CRC32 is checked, and
 *    the read fails with STORAGE_CORRUPT;
 *  - "auto", damage in the entry's own framing (not the events): the entry is read again with its
 *    CRC32 checked and the read fails, instead of skipping the entry as one it cannot decode.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { verifyEventChecksum } from "../binlog/checksum.ts";
import { decodeEntry } from "../log-entry/format.ts";
import { StorageError } from "../storage/errors.ts";
import { sharedDir } from "../../test-support/requirements.ts";
import { binlogEntries } from "./testing/binlog-entries.ts";
import { flipByte } from "../../test-support/damage.ts";
import { LogFeedHarness } from "./testing/log-feed-harness.ts";
import type { VerifyRecords } from "./verify-records.ts";

const { dir: shared, skip } = sharedDir();
const fixtures = join(shared, "fixtures", "binlog", "mysql");
/** MySQL 8.0: every event ends in a CRC32. */
const WITH_CRC = "mysql-enum-string-set.000001";
/** MySQL 5.1: no event checksums. */
const WITHOUT_CRC = "ver_5_1_23.001";

interface Stored {
  h: LogFeedHarness;
  file: Buffer;
}

async function store(name: string, verifyRecords: VerifyRecords): Promise<Stored> {
  const path = join(fixtures, name);
  const h = await LogFeedHarness.open({ verifyRecords, readBytes: 64 * 1024 });
  const entries = binlogEntries([path], { maxEntryBytes: 64 * 1024 });
  await h.append(entries);
  h.applyThrough(entries.at(-1)!.index);
  return { h, file: readFileSync(path) };
}

/** The last stored entry holding a whole transaction, and where its payload lies in a segment file. */
function transactionEntry(h: LogFeedHarness): { index: number; segment: string; payloadAt: number; events: Buffer; eventsAt: number } {
  for (let index = h.index.lastApplied; index >= 1; index--) {
    const [entry] = h.store.entries(index, index + 1);
    const payload = decodeEntry(entry!.data);
    if (payload.kind !== "batch") continue;
    const item = payload.items.find((i) => i.kind === "transaction");
    if (!item || item.kind !== "transaction") continue;
    const data = Buffer.from(entry!.data);
    for (const name of readdirSync(h.dir).filter((f) => f.endsWith(".seg"))) {
      const segment = join(h.dir, name);
      const at = readFileSync(segment).indexOf(data);
      if (at >= 0) return { index, segment, payloadAt: at, events: Buffer.from(item.events), eventsAt: at + data.indexOf(Buffer.from(item.events)) };
    }
  }
  throw new Error("no stored transaction");
}

async function serve(h: LogFeedHarness, file: string): Promise<{ events: Buffer[]; error: unknown }> {
  const aborter = new AbortController();
  const events: Buffer[] = [];
  try {
    for await (const item of h.feed.read({ file, position: 4 }, aborter.signal)) {
      if (item.kind === "caughtUp") break;
      for (const e of item.kind === "events" ? item.events : [item]) events.push(Buffer.from(e.bytes));
    }
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  } finally {
    aborter.abort();
  }
}

/** Offset in the transaction's bytes of a byte inside the body of its last event (not its header, not a CRC32). */
function insideLastEvent(events: Buffer): number {
  let at = 0;
  while (at + events.readUInt32LE(at + 9) < events.length) at += events.readUInt32LE(at + 9);
  const size = events.readUInt32LE(at + 9);
  return at + 19 + Math.floor((size - 19 - 4) / 2);
}

describe("LogBinlogFeed: which reads check the records' CRC32", { skip }, () => {
  const harnesses: LogFeedHarness[] = [];
  after(async () => {
    for (const h of harnesses) await h.close().catch(() => undefined);
  });

  it("auto, events with a CRC32 of their own: a damaged event is served as stored, and its own CRC32 fails", async () => {
    const { h, file } = await store(WITH_CRC, "auto");
    harnesses.push(h);
    const before = await serve(h, WITH_CRC);
    assert.equal(before.error, undefined);
    assert.ok(before.events.every((e) => verifyEventChecksum(e)), "undamaged: every event's CRC32 holds");
    assert.ok(Buffer.concat(before.events).equals(file.subarray(4)));

    const target = transactionEntry(h);
    flipByte(target.segment, target.eventsAt + insideLastEvent(target.events));
    const after = await serve(h, WITH_CRC);
    assert.equal(after.error, undefined, "the record's CRC32 is left to the replica");
    const bad = after.events.filter((e) => !verifyEventChecksum(e));
    assert.equal(bad.length, 1, "exactly the damaged event fails its own CRC32, which a replica checks on receipt");
    assert.equal(after.events.length, before.events.length);
  });

  it("always: the same damage stops the read with STORAGE_CORRUPT before the damaged event is served", async () => {
    const { h } = await store(WITH_CRC, "always");
    harnesses.push(h);
    const target = transactionEntry(h);
    flipByte(target.segment, target.eventsAt + insideLastEvent(target.events));
    const { events, error } = await serve(h, WITH_CRC);
    assert.ok(error instanceof StorageError && error.code === "STORAGE_CORRUPT", String(error));
    assert.match(error.message, /CRC32/);
    assert.ok(events.every((e) => verifyEventChecksum(e)), "nothing damaged was handed out");
  });

  it("auto, events without a CRC32 (MySQL 5.1): the record's CRC32 is checked and the read fails", async () => {
    const { h, file } = await store(WITHOUT_CRC, "auto");
    harnesses.push(h);
    const before = await serve(h, WITHOUT_CRC);
    assert.equal(before.error, undefined);
    assert.ok(Buffer.concat(before.events).equals(file.subarray(4)));
    const target = transactionEntry(h);
    flipByte(target.segment, target.eventsAt + insideLastEvent(target.events));
    const { events, error } = await serve(h, WITHOUT_CRC);
    assert.ok(error instanceof StorageError && error.code === "STORAGE_CORRUPT", String(error));
    assert.ok(Buffer.concat(events).length < file.length - 4, "the read stopped at the damage");
  });

  it("auto, damage in an entry's framing: read again with its CRC32 checked and refused, never skipped", async () => {
    const { h } = await store(WITH_CRC, "auto");
    harnesses.push(h);
    const target = transactionEntry(h);
    // The entry's first byte (the kingbus magic): unchecked, it would decode as no log entry at all.
    flipByte(target.segment, target.payloadAt);
    const { error } = await serve(h, WITH_CRC);
    assert.ok(error instanceof StorageError && error.code === "STORAGE_CORRUPT", String(error));
    assert.match(error.message, /CRC32/);
  });
});
