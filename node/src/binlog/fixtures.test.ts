/**
 * The codec against every real binlog in ../shared/fixtures/binlog: each file is read to its end
 * (or to its damage, at the right offset), each event's bytes come back identical from
 * encode(decode()), checksums verify where the file has them, and each event's offset, size and
 * type agree with an independent walk of the raw headers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedDir } from "../../test-support/requirements.ts";
import { readBinlogBuffer, type ReadEvent } from "./reader.ts";
import { encodeEvent } from "./codec.ts";
import { BinlogError } from "./errors.ts";
import { ChecksumAlgorithm } from "./checksum.ts";

const { dir: shared, skip } = sharedDir();
const fixtureDir = join(shared, "fixtures", "binlog");

function fixtureFiles(): string[] {
  if (skip) return [];
  return ["mysql", "mariadb"].flatMap((flavor) => readdirSync(join(fixtureDir, flavor)).map((f) => join(fixtureDir, flavor, f))).sort();
}

/** Known damage: file name -> [error code, byte offset of the first bad event]. */
const BROKEN: Record<string, [string, number]> = {
  // 14 bytes: the magic and 10 bytes of a header.
  "binlog_truncated_event.000001": ["BINLOG_TRUNCATED", 4],
  // An FDE, then 9 bytes of the PREVIOUS_GTIDS event's header.
  "binlog_truncated_prev_gtid_event.000001": ["BINLOG_TRUNCATED", 120],
  // A 5.0 relay log (no checksums) whose QUERY event at 91204 holds garbage after its thread id.
  "corrupt-relay-bin.000624": ["BINLOG_CORRUPT", 91204],
};

/** Offsets, sizes and types read straight from the headers, trusting nothing else. */
function walkHeaders(file: Buffer): Array<{ offset: number; size: number; type: number }> {
  const out = [];
  for (let off = 4; off + 19 <= file.length; ) {
    const size = file.readUInt32LE(off + 9);
    if (size < 19 || off + size > file.length) break;
    out.push({ offset: off, size, type: file[off + 4]! });
    off += size;
  }
  return out;
}

function readAll(bytes: Buffer): { events: ReadEvent[]; error: unknown } {
  const events: ReadEvent[] = [];
  try {
    for (const e of readBinlogBuffer(bytes)) events.push(e);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

test("the shared fixtures are there", { skip }, () => {
  assert.ok(fixtureFiles().length >= 40, `expected the 41 fixture files in ${fixtureDir}`);
});

for (const path of fixtureFiles()) {
  const name = path.slice(path.lastIndexOf("/") + 1);
  test(`fixture ${name}: read whole, byte-exact round trip, checksums`, () => {
    const bytes = readFileSync(path);
    const { events, error } = readAll(bytes);
    const broken = BROKEN[name];
    const walked = walkHeaders(bytes);

    if (broken) {
      assert.ok(error instanceof BinlogError, `${name} must fail with a BinlogError, got ${String(error)}`);
      assert.equal(error.code, broken[0]);
      assert.equal(error.offset, broken[1]);
      assert.match(error.message, new RegExp(`at byte ${broken[1]}`));
      assert.ok(events.every((e) => e.offset < broken[1]), "no event at or after the damage is handed out");
    } else {
      assert.equal(error, undefined, `${name}: ${String(error)}`);
      const last = events.at(-1)!;
      assert.equal(last.offset + last.bytes.length, bytes.length, "read to the end of the file");
      assert.equal(events.length, walked.length);
    }

    events.forEach((e, i) => {
      const w = walked[i]!;
      assert.deepEqual([e.offset, e.bytes.length, e.event.header.type], [w.offset, w.size, w.type], `event ${i}`);
      const again = encodeEvent(e.event, e.format);
      assert.ok(again.equals(e.bytes), `${name}: event ${i} (type ${e.event.header.type} at ${e.offset}) round trip differs`);
      if (e.format.checksum === ChecksumAlgorithm.CRC32 || (e.event.body.kind === "formatDescription" && e.event.body.checksumAlgorithm === ChecksumAlgorithm.CRC32)) {
        assert.equal(e.checksumOk, true, `event at ${e.offset} has a CRC32 that must verify`);
      } else {
        assert.equal(e.checksumOk, undefined, `event at ${e.offset} carries no checksum`);
      }
    });
  });
}

test("a flipped byte anywhere in a checksummed event is caught at that event's offset", { skip }, () => {
  const path = join(fixtureDir, "mysql", "mysql-enum-string-set.000001");
  const pristine = readFileSync(path);
  const events = readAll(pristine).events;
  assert.ok(events.length > 5);
  for (const target of events.slice(1)) {
    for (const at of [target.offset + 19, target.offset + target.bytes.length - 1]) {
      const damaged = Buffer.from(pristine);
      damaged[at] = damaged[at]! ^ 0x40;
      const { events: before, error } = readAll(damaged);
      assert.ok(error instanceof BinlogError);
      assert.equal(error.code, "BINLOG_CHECKSUM");
      assert.equal(error.offset, target.offset);
      assert.equal(before.length, events.indexOf(target));
    }
  }
});
