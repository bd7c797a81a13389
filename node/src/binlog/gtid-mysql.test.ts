import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { sharedDir } from "../../test-support/requirements.ts";
import {
  GtidTaggedFormatError,
  MAX_GNO,
  MysqlGtidSet,
  decodeSignedVarlen,
  decodeVarlen,
  encodeSignedVarlen,
  encodeVarlen,
  formatMysqlGtid,
  parseMysqlGtid,
  type MysqlGtid,
} from "./gtid-mysql.ts";
import { assertGtidParseError } from "../../test-support/gtid-assertions.ts";

const U1 = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
const U2 = "4e11fa47-71ca-11e1-9e33-c80aa9429562";
const U3 = "00000000-0000-0000-0000-000000000001";

const parseError = assertGtidParseError;

// ---------------------------------------------------------------------------------------------
// Text forms

test("the empty set is the empty string, blanks, or only commas (MySQL accepts those)", () => {
  for (const text of ["", "   ", "\n", ",", " , ,\n,"]) {
    const set = MysqlGtidSet.parse(text);
    assert.ok(set.isEmpty(), text);
    assert.equal(set.toString(), "");
    assert.equal(set.size(), 0n);
  }
  assert.ok(MysqlGtidSet.empty().equals(MysqlGtidSet.parse("")));
});

test("parses what SELECT @@gtid_executed prints (',\\n' between UUIDs) and prints it back with ','", () => {
  const printed = `${U1}:1-5:11-18,\n${U2}:1-27`;
  const set = MysqlGtidSet.parse(printed);
  assert.equal(set.toString(), `${U1}:1-5:11-18,${U2}:1-27`);
  assert.equal(set.size(), 5n + 8n + 27n);
  assert.deepEqual(set.intervalsOf(U1), [
    { first: 1n, last: 5n },
    { first: 11n, last: 18n },
  ]);
});

test("sorts UUIDs, merges overlapping and adjacent intervals, and lowercases", () => {
  assert.equal(MysqlGtidSet.parse(`${U2}:3,${U1.toUpperCase()}:7:1-3:4-5:2:9-9`).toString(), `${U1}:1-5:7:9,${U2}:3`);
  assert.equal(MysqlGtidSet.parse(`${U1}:1-3,${U1}:4`).toString(), `${U1}:1-4`);
  assert.equal(MysqlGtidSet.parse(` ${U1} : 1 - 3 : 5 ,\t${U3}:2`).toString(), `${U3}:2,${U1}:1-3:5`);
});

test("tags: uuid:tag:1-3 and uuid:1-3:tag:5, untagged intervals first, then tags in order (MySQL 8.4)", () => {
  assert.equal(MysqlGtidSet.parse(`${U1}:tag:1-3`).toString(), `${U1}:tag:1-3`);
  assert.equal(MysqlGtidSet.parse(`${U1}:1-3:tag:5`).toString(), `${U1}:1-3:tag:5`);
  assert.equal(MysqlGtidSet.parse(`${U1}:zeta:1,${U1}:4:Alpha:2:3,${U2}:b_1:7`).toString(), `${U1}:4:alpha:2-3:zeta:1,${U2}:b_1:7`);
  assert.equal(MysqlGtidSet.parse(`${U1}: _x : 1`).toString(), `${U1}:_x:1`);
  const set = MysqlGtidSet.parse(`${U1}:1:t:1`);
  assert.ok(set.hasTags());
  assert.ok(!MysqlGtidSet.parse(`${U1}:1`).hasTags());
  assert.equal(set.size(), 2n);
  assert.deepEqual(
    [...set].map((s) => [s.uuid, s.tag, s.intervals.length]),
    [
      [U1, "", 1],
      [U1, "t", 1],
    ],
  );
});

test("a UUID or tag with no intervals adds nothing, as in MySQL", () => {
  assert.equal(MysqlGtidSet.parse(`${U1},${U2}:mytag,${U3}:1`).toString(), `${U3}:1`);
});

test("the largest GNO is 2^63-2 (MySQL's GNO_END is INT64_MAX, one past it)", () => {
  assert.equal(MAX_GNO, 9223372036854775806n);
  const set = MysqlGtidSet.parse(`${U1}:9223372036854775800-9223372036854775806`);
  assert.equal(set.size(), 7n);
  assert.ok(MysqlGtidSet.decode(set.encode()).equals(set));
});

test("bad text names the problem and where it is", () => {
  parseError(() => MysqlGtidSet.parse("3e11fa47-71ca-11e1-9e33-c80aa942956:1"), "expected a UUID", "at character 0");
  parseError(() => MysqlGtidSet.parse(`${U1}:0`), "GNO 0", `${U1}:0`);
  parseError(() => MysqlGtidSet.parse(`${U1}:1-0`), "GNO 0");
  parseError(() => MysqlGtidSet.parse(`${U1}:9223372036854775807`), "9223372036854775807", "maximum");
  parseError(() => MysqlGtidSet.parse(`${U1}:9223372036854775808`), "9223372036854775808");
  parseError(() => MysqlGtidSet.parse(`${U1}:99999999999999999999999999`), "above the maximum");
  parseError(() => MysqlGtidSet.parse(`${U1}:5-3`), "5-3", "ends before it starts", "at character 37");
  parseError(() => MysqlGtidSet.parse(`${U1}:010`), "leading zero");
  parseError(() => MysqlGtidSet.parse(`${U1}:`), "expected a GNO");
  parseError(() => MysqlGtidSet.parse(`${U1}:1-`), "expected a GNO");
  parseError(() => MysqlGtidSet.parse(`${U1}:-1`), "expected a GNO");
  parseError(() => MysqlGtidSet.parse(`${U1}:1x`), "expected ',', ':' or the end", "at character 38");
  parseError(() => MysqlGtidSet.parse(`${U1};1`), "at character 36");
  parseError(() => MysqlGtidSet.parse(`${U1}:ab cd:1`), "at character");
  parseError(() => MysqlGtidSet.parse(`${U1}:${"t".repeat(33)}:1`), "longer than 32");
  assert.equal(MysqlGtidSet.parse(`${U1}:${"t".repeat(32)}:1`).toString(), `${U1}:${"t".repeat(32)}:1`);
});

test("single GTIDs: uuid:gno and uuid:tag:gno", () => {
  assert.deepEqual(parseMysqlGtid(`${U1.toUpperCase()}:23`), { uuid: U1, gno: 23n });
  assert.deepEqual(parseMysqlGtid(` ${U1} : MyTag : 9 `), { uuid: U1, tag: "mytag", gno: 9n });
  assert.equal(formatMysqlGtid({ uuid: U1, gno: 23n }), `${U1}:23`);
  assert.equal(formatMysqlGtid({ uuid: U1, tag: "t", gno: 1n }), `${U1}:t:1`);
  assert.equal(formatMysqlGtid({ uuid: U1, tag: "", gno: 1n }), `${U1}:1`);
  parseError(() => parseMysqlGtid(`${U1}:0`), "GNO 0");
  parseError(() => parseMysqlGtid(`${U1}:1-2`), "expected the end");
  parseError(() => parseMysqlGtid(`${U1}:t`), "expected ':'");
  parseError(() => parseMysqlGtid("nope:1"), "expected a UUID");
});

test("add and containsGtid validate the GTID", () => {
  const set = MysqlGtidSet.empty().add({ uuid: U1.toUpperCase(), tag: "T", gno: 4n });
  assert.equal(set.toString(), `${U1}:t:4`);
  assert.ok(set.containsGtid({ uuid: U1, tag: "t", gno: 4n }));
  assert.ok(!set.containsGtid({ uuid: U1, gno: 4n }));
  parseError(() => set.add({ uuid: U1, gno: 0n }), "below 1");
  parseError(() => set.add({ uuid: U1, gno: MAX_GNO + 1n }), "above the maximum");
  parseError(() => set.add({ uuid: "x", gno: 1n }), "bad UUID");
  parseError(() => set.add({ uuid: U1, tag: "1abc", gno: 1n }), "bad GTID tag");
  parseError(() => set.add({ uuid: U1, tag: "t".repeat(33), gno: 1n }), "longer than 32");
  assert.equal(set.add({ uuid: U1, tag: "t".repeat(32), gno: 1n }).size(), 2n);
});

// ---------------------------------------------------------------------------------------------
// Binary forms

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function u64le(value: bigint): string {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(value);
  return b.toString("hex");
}

test("untagged binary: u64 n_sids, then uuid, u64 n_intervals, [start, end) pairs", () => {
  const set = MysqlGtidSet.parse(`${U2}:1-5:7,${U1}:3`);
  const expected =
    u64le(2n) +
    U1.replaceAll("-", "") + u64le(1n) + u64le(3n) + u64le(4n) +
    U2.replaceAll("-", "") + u64le(2n) + u64le(1n) + u64le(6n) + u64le(7n) + u64le(8n);
  assert.equal(hex(set.encode()), expected);
  assert.equal(hex(set.encode("untagged")), expected);
  assert.ok(MysqlGtidSet.decode(Buffer.from(expected, "hex")).equals(set));
  assert.equal(hex(MysqlGtidSet.empty().encode()), "0000000000000000");
  assert.ok(MysqlGtidSet.decode(new Uint8Array(8)).isEmpty());
});

test("tagged binary: header (1<<56)|(n<<8)|1, and a length-prefixed tag after every UUID", () => {
  const set = MysqlGtidSet.parse(`${U1}:1-2:ab:5`);
  const tagged =
    u64le((1n << 56n) | (2n << 8n) | 1n) +
    U1.replaceAll("-", "") + "00" + u64le(1n) + u64le(1n) + u64le(3n) +
    U1.replaceAll("-", "") + "04" + "6162" + u64le(1n) + u64le(5n) + u64le(6n);
  assert.equal(hex(set.encode()), tagged);
  assert.ok(MysqlGtidSet.decode(Buffer.from(tagged, "hex")).equals(set));
  assert.throws(() => set.encode("untagged"), (e: unknown) => e instanceof GtidTaggedFormatError && e.code === "GTID_TAGS_NEED_TAGGED_FORMAT");
  // An untagged set can be written tagged too (a server that has ever seen tags does so).
  const plain = MysqlGtidSet.parse(`${U1}:1`);
  assert.equal(hex(plain.encode("tagged")).slice(0, 16), u64le((1n << 56n) | (1n << 8n) | 1n));
  assert.ok(MysqlGtidSet.decode(plain.encode("tagged")).equals(plain));
});

test("bad binary names the problem and the byte offset", () => {
  const good = MysqlGtidSet.parse(`${U1}:1-2:ab:5`).encode();
  for (let length = 0; length < good.length; length++) {
    parseError(() => MysqlGtidSet.decode(good.subarray(0, length)), "at byte");
  }
  parseError(() => MysqlGtidSet.decode(Buffer.concat([good, Buffer.from([0])])), "1 trailing bytes", `at byte ${good.length}`);
  const header = (value: bigint): Buffer => Buffer.from(u64le(value), "hex");
  parseError(() => MysqlGtidSet.decode(header(2n << 56n)), "unknown GTID set encoding format 2", "at byte 0");
  parseError(() => MysqlGtidSet.decode(header((1n << 56n) | (1n << 8n))), "low byte", "at byte 0");
  const interval = (start: bigint, end: bigint, previous = ""): Buffer =>
    Buffer.from(u64le(1n) + U1.replaceAll("-", "") + u64le(previous ? 2n : 1n) + previous + u64le(start) + u64le(end), "hex");
  parseError(() => MysqlGtidSet.decode(interval(0n, 3n)), "[0, 3)", "at byte 32");
  parseError(() => MysqlGtidSet.decode(interval(3n, 3n)), "[3, 3)");
  parseError(() => MysqlGtidSet.decode(interval(1n, 1n << 63n)), "at byte 32");
  parseError(() => MysqlGtidSet.decode(interval(5n, 9n, u64le(1n) + u64le(5n))), "[5, 9)", "after 5", "at byte 48");
  parseError(() => MysqlGtidSet.decode(interval(4n, 9n, u64le(1n) + u64le(5n))), "[4, 9)");
  assert.equal(MysqlGtidSet.decode(interval(6n, 9n, u64le(1n) + u64le(5n))).toString(), `${U1}:1-4:6-8`);
  const badTag = Buffer.from(u64le((1n << 56n) | (1n << 8n) | 1n) + U1.replaceAll("-", "") + "04" + "2d31" + u64le(0n), "hex");
  parseError(() => MysqlGtidSet.decode(badTag), "'-1' is not a valid tag", "at byte 24");
  const longTag = Buffer.from(u64le((1n << 56n) | (1n << 8n) | 1n) + U1.replaceAll("-", "") + "42" + "61".repeat(33) + u64le(0n), "hex");
  parseError(() => MysqlGtidSet.decode(longTag), "more than 32");
  parseError(() => MysqlGtidSet.decode(header(1000n)), "UUID of source 0", "truncated");
});

test("variable-length integers match the examples of libs/mysql/serialization/readme.md", () => {
  assert.equal(hex(encodeVarlen(65535n)), "fbff07");
  assert.equal(hex(encodeSignedVarlen(65535n)), "f3ff0f");
  assert.equal(hex(encodeSignedVarlen(-65535n)), "ebff0f");
  assert.equal(hex(encodeSignedVarlen(-65536n)), "fbff0f");
  assert.equal(hex(encodeVarlen((1n << 64n) - 1n)), "ff".repeat(9));
  fc.assert(
    fc.property(fc.bigInt(0n, (1n << 64n) - 1n), (value) => {
      const bytes = encodeVarlen(value);
      assert.deepEqual(decodeVarlen(bytes, 0, "v", true), { value, size: bytes.length });
    }),
  );
  fc.assert(
    fc.property(fc.bigInt(-(1n << 63n), (1n << 63n) - 1n), (value) => {
      const bytes = encodeSignedVarlen(value);
      assert.deepEqual(decodeSignedVarlen(bytes, 0, "v", true), { value, size: bytes.length });
    }),
  );
  // 1 written in two bytes: MySQL reads it, the canonical reader refuses it.
  assert.equal(decodeVarlen(Uint8Array.from([0x05, 0x00]), 0, "v").value, 1n);
  parseError(() => decodeVarlen(Uint8Array.from([0x05, 0x00]), 0, "v", true), "uses 2 bytes where MySQL writes 1");
  parseError(() => decodeVarlen(Uint8Array.from([0x03, 0x00]), 0, "v"), "truncated");
});

// ---------------------------------------------------------------------------------------------
// Real PREVIOUS_GTIDS bodies

const { dir: shared, skip } = sharedDir();
const mysqlFixtures = join(shared, "fixtures", "binlog", "mysql");

interface FixtureEvent {
  offset: number;
  type: number;
  body: Buffer;
}

/**
 * MySQL computes the FDE's CRC with the in-use flag (0x1) clear and sets the flag afterwards, so
 * a file copied from a running server holds an FDE whose CRC matches only with the flag cleared.
 */
function crcMatches(event: Buffer): boolean {
  const stored = event.readUInt32LE(event.length - 4);
  if (crc32(event.subarray(0, event.length - 4)) === stored) return true;
  const withoutInUse = Buffer.from(event.subarray(0, event.length - 4));
  withoutInUse[17]! &= ~1;
  return event[4] === 15 && crc32(withoutInUse) === stored;
}

/** Walks a binlog file by its raw headers; with CRC32 checksums, verifies them and strips them. */
function readEvents(path: string): FixtureEvent[] {
  const file = readFileSync(path);
  assert.equal(file.subarray(0, 4).toString("latin1"), "\xfebin", `${path} is not a binlog`);
  const events: FixtureEvent[] = [];
  let checksummed = false;
  for (let offset = 4; offset + 19 <= file.length; ) {
    const type = file[offset + 4]!;
    const size = file.readUInt32LE(offset + 9);
    if (size < 19 || offset + size > file.length) break;
    const event = file.subarray(offset, offset + size);
    // The FDE says whether events carry a CRC: its body ends with the algorithm byte and a CRC.
    if (type === 15) checksummed = event[size - 5] === 1;
    if (checksummed) assert.ok(crcMatches(event), `CRC at ${offset}`);
    events.push({ offset, type, body: event.subarray(19, checksummed ? size - 4 : size) });
    offset += size;
  }
  return events;
}

function previousGtidsBody(file: string): Buffer {
  const events = readEvents(join(mysqlFixtures, file)).filter((e) => e.type === 35);
  assert.equal(events.length, 1, `${file} has one PREVIOUS_GTIDS event`);
  return events[0]!.body;
}

/**
 * The set's text read from the bytes by the layout in sql/rpl_gtid_set.cc alone, as a check that
 * does not share code with the decoder. Handles one-byte tag lengths only, enough for fixtures.
 */
function referenceText(body: Buffer): string {
  const header = body.readBigUInt64LE(0);
  const tagged = header >> 56n === 1n;
  const count = tagged ? (header >> 8n) & 0xffffffffffffn : header;
  let pos = 8;
  const parts: Array<{ uuid: string; tag: string; intervals: string[] }> = [];
  for (let i = 0n; i < count; i++) {
    const h = body.subarray(pos, pos + 16).toString("hex");
    pos += 16;
    let tag = "";
    if (tagged) {
      assert.equal(body[pos]! & 1, 0, "one-byte tag length");
      const length = body[pos]! >> 1;
      tag = body.subarray(pos + 1, pos + 1 + length).toString("latin1");
      pos += 1 + length;
    }
    const n = Number(body.readBigUInt64LE(pos));
    pos += 8;
    const intervals: string[] = [];
    for (let k = 0; k < n; k++, pos += 16) {
      const start = body.readBigUInt64LE(pos);
      const end = body.readBigUInt64LE(pos + 8) - 1n;
      intervals.push(start === end ? `${start}` : `${start}-${end}`);
    }
    parts.push({ uuid: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`, tag, intervals });
  }
  assert.equal(pos, body.length);
  const text: string[] = [];
  for (const { uuid, tag, intervals } of parts) {
    const piece = (tag ? `:${tag}` : "") + intervals.map((i) => `:${i}`).join("");
    if (text.length > 0 && text.at(-1)!.startsWith(uuid)) text[text.length - 1] += piece;
    else text.push(uuid + piece);
  }
  return text.join(",");
}

test("PREVIOUS_GTIDS of MySQL 9.6 in tagged format (binlog_transaction_with_GTID_TAG)", { skip }, () => {
  const body = previousGtidsBody("binlog_transaction_with_GTID_TAG.000001");
  assert.equal(body.readBigUInt64LE(0) >> 56n, 1n, "the tagged format byte");
  const set = MysqlGtidSet.decode(body);
  assert.equal(set.toString(), referenceText(body));
  // What the bytes say, as read from the file once by hand: an untagged run and a 'mytag' run.
  assert.equal(set.toString(), "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2");
  assert.ok(set.hasTags());
  assert.equal(set.size(), 15n);
  assert.equal(hex(set.encode()), hex(body));
  assert.equal(hex(set.encode("tagged")), hex(body));
  assert.ok(MysqlGtidSet.parse(set.toString()).equals(set));
});

test("PREVIOUS_GTIDS of MySQL 8.0.40 in untagged format (binlog_transaction_previous_GTID_no_tag)", { skip }, () => {
  const body = previousGtidsBody("binlog_transaction_previous_GTID_no_tag.000001");
  assert.equal(body.readBigUInt64LE(0) >> 56n, 0n, "the untagged format byte");
  const set = MysqlGtidSet.decode(body);
  assert.equal(set.toString(), referenceText(body));
  assert.equal(set.toString(), "b9b88c66-0755-11f1-9899-4a9da94c4d71:1-2");
  assert.ok(!set.hasTags());
  assert.equal(hex(set.encode()), hex(body));
  assert.ok(MysqlGtidSet.decode(set.encode("tagged")).equals(set));
});

test("every PREVIOUS_GTIDS body in the MySQL fixtures decodes and re-encodes to the same bytes", { skip }, () => {
  let seen = 0;
  for (const file of readdirSync(mysqlFixtures).sort()) {
    for (const event of readEvents(join(mysqlFixtures, file)).filter((e) => e.type === 35)) {
      const set = MysqlGtidSet.decode(event.body);
      assert.equal(set.toString(), referenceText(event.body), `${file} at ${event.offset}`);
      assert.equal(hex(set.encode()), hex(event.body), `${file} at ${event.offset}`);
      seen++;
    }
  }
  assert.ok(seen >= 20, `only ${seen} PREVIOUS_GTIDS events found`);
});

// ---------------------------------------------------------------------------------------------
// Properties against a naive model: a Set of "uuid:tag:gno" strings

const UUIDS = [U1, U2, U3];
const TAGS = ["", "a", "tag_2"];
const MAX_MODEL_GNO = 60;

type Model = Set<string>;

const gtidArb: fc.Arbitrary<MysqlGtid> = fc.record({
  uuid: fc.constantFrom(...UUIDS),
  tag: fc.constantFrom(...TAGS),
  gno: fc.bigInt(1n, BigInt(MAX_MODEL_GNO)),
});

/** Random runs, so sets hold long intervals as well as scattered GTIDs. */
const modelArb: fc.Arbitrary<Model> = fc
  .array(fc.record({ gtid: gtidArb, length: fc.integer({ min: 1, max: 25 }) }), { maxLength: 12 })
  .map((runs) => {
    const model: Model = new Set();
    for (const { gtid, length } of runs) {
      for (let g = gtid.gno; g < gtid.gno + BigInt(length) && g <= BigInt(MAX_MODEL_GNO); g++) model.add(key(gtid.uuid, gtid.tag!, g));
    }
    return model;
  });

function key(uuid: string, tag: string, gno: bigint): string {
  return `${uuid}:${tag}:${gno}`;
}

function setOf(model: Model): MysqlGtidSet {
  return MysqlGtidSet.fromGtids(
    [...model].map((k) => {
      const [uuid, tag, gno] = k.split(":") as [string, string, string];
      return { uuid, tag, gno: BigInt(gno) };
    }),
  );
}

function modelOf(set: MysqlGtidSet): Model {
  const model: Model = new Set();
  for (const { uuid, tag, intervals } of set) for (const { first, last } of intervals) for (let g = first; g <= last; g++) model.add(key(uuid, tag, g));
  return model;
}

function sorted(model: Model): string[] {
  return [...model].sort();
}

/** MySQL's canonical text, computed from the model by brute force. */
function modelText(model: Model): string {
  const byUuid = new Map<string, Map<string, number[]>>();
  for (const k of model) {
    const [uuid, tag, gno] = k.split(":") as [string, string, string];
    const tags = byUuid.get(uuid) ?? new Map<string, number[]>();
    byUuid.set(uuid, tags);
    tags.set(tag, [...(tags.get(tag) ?? []), Number(gno)]);
  }
  return [...byUuid.keys()]
    .sort()
    .map((uuid) => {
      let text = uuid;
      const tags = byUuid.get(uuid)!;
      for (const tag of [...tags.keys()].sort()) {
        const gnos = tags.get(tag)!.sort((a, b) => a - b);
        if (tag) text += `:${tag}`;
        for (let i = 0; i < gnos.length; ) {
          let j = i;
          while (j + 1 < gnos.length && gnos[j + 1] === gnos[j]! + 1) j++;
          text += gnos[i] === gnos[j] ? `:${gnos[i]}` : `:${gnos[i]}-${gnos[j]}`;
          i = j + 1;
        }
      }
      return text;
    })
    .join(",");
}

test("property: union, subtract, intersect agree with the model", () => {
  fc.assert(
    fc.property(modelArb, modelArb, (a, b) => {
      const sa = setOf(a);
      const sb = setOf(b);
      assert.deepEqual(sorted(modelOf(sa.union(sb))), sorted(new Set([...a, ...b])));
      assert.deepEqual(sorted(modelOf(sa.subtract(sb))), sorted(new Set([...a].filter((k) => !b.has(k)))));
      assert.deepEqual(sorted(modelOf(sa.intersect(sb))), sorted(new Set([...a].filter((k) => b.has(k)))));
    }),
  );
});

test("property: contains, containsGtid, equals, size and isEmpty agree with the model", () => {
  fc.assert(
    fc.property(modelArb, modelArb, gtidArb, (a, b, gtid) => {
      const sa = setOf(a);
      const sb = setOf(b);
      assert.equal(sa.contains(sb), [...b].every((k) => a.has(k)));
      assert.equal(sa.contains(sa.intersect(sb)), true);
      assert.equal(sa.union(sb).contains(sa), true);
      assert.equal(sa.containsGtid(gtid), a.has(key(gtid.uuid, gtid.tag!, gtid.gno)));
      assert.equal(sa.equals(sb), sorted(a).join() === sorted(b).join());
      assert.equal(sa.size(), BigInt(a.size));
      assert.equal(sa.isEmpty(), a.size === 0);
      assert.equal(sa.hasTags(), [...a].some((k) => k.split(":")[1] !== ""));
    }),
  );
});

test("property: add agrees with the model and leaves the original set unchanged", () => {
  fc.assert(
    fc.property(modelArb, gtidArb, (a, gtid) => {
      const before = setOf(a);
      const text = before.toString();
      const after = before.add(gtid);
      assert.deepEqual(sorted(modelOf(after)), sorted(new Set([...a, key(gtid.uuid, gtid.tag!, gtid.gno)])));
      assert.equal(before.toString(), text);
    }),
  );
});

test("property: toString is MySQL's canonical text and parse reads it back", () => {
  fc.assert(
    fc.property(modelArb, (a) => {
      const set = setOf(a);
      assert.equal(set.toString(), modelText(a));
      assert.ok(MysqlGtidSet.parse(set.toString()).equals(set));
      assert.ok(MysqlGtidSet.parse(set.toString().replaceAll(",", ",\n")).equals(set));
    }),
  );
});

test("property: parse reads any arrangement MySQL accepts (order, overlaps, case, blanks)", () => {
  const pieceArb = fc.record({
    gtid: gtidArb,
    length: fc.integer({ min: 0, max: 10 }),
    upper: fc.boolean(),
    space: fc.constantFrom("", " ", "\n", "\t "),
  });
  fc.assert(
    fc.property(fc.array(pieceArb, { maxLength: 15 }), (pieces) => {
      const model: Model = new Set();
      const text = pieces
        .map(({ gtid, length, upper, space }) => {
          const last = gtid.gno + BigInt(length);
          for (let g = gtid.gno; g <= last; g++) model.add(key(gtid.uuid, gtid.tag!, g));
          const uuid = upper ? gtid.uuid.toUpperCase() : gtid.uuid;
          const tag = gtid.tag ? `${space}:${space}${upper ? gtid.tag.toUpperCase() : gtid.tag}` : "";
          return `${space}${uuid}${tag}${space}:${space}${gtid.gno}${space}-${space}${last}${space}`;
        })
        .join(",");
      assert.deepEqual(sorted(modelOf(MysqlGtidSet.parse(text))), sorted(model));
    }),
  );
});

test("property: encode/decode round trip in both formats", () => {
  fc.assert(
    fc.property(modelArb, (a) => {
      const set = setOf(a);
      const tagged = set.encode("tagged");
      assert.equal(new DataView(tagged.buffer).getBigUint64(0, true) >> 56n, 1n);
      assert.ok(MysqlGtidSet.decode(tagged).equals(set));
      const auto = set.encode();
      assert.equal(new DataView(auto.buffer).getBigUint64(0, true) >> 56n, set.hasTags() ? 1n : 0n);
      if (set.hasTags()) {
        assert.throws(() => set.encode("untagged"), GtidTaggedFormatError);
      } else {
        assert.ok(MysqlGtidSet.decode(set.encode("untagged")).equals(set));
      }
    }),
  );
});
