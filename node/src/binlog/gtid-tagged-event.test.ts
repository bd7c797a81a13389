import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { sharedDir } from "../../test-support/requirements.ts";
import { GtidParseError, MAX_GNO, MysqlGtidSet, encodeSignedVarlen, encodeVarlen, formatMysqlGtid } from "./gtid-mysql.ts";
import { decodeTaggedGtidBody, encodeTaggedGtidBody, taggedGtidOf, type TaggedGtidEventBody } from "./gtid-tagged-event.ts";
import { assertGtidParseError } from "../../test-support/gtid-assertions.ts";

const parseError = assertGtidParseError;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

// ---------------------------------------------------------------------------------------------
// The real event

const { dir: shared, skip } = sharedDir();
const TAGGED_FILE = join(shared, "fixtures", "binlog", "mysql", "binlog_transaction_with_GTID_TAG.000001");

interface FixtureEvent {
  offset: number;
  type: number;
  timestamp: number;
  size: number;
  body: Buffer;
}

/** Walks the file by raw headers; its FDE announces CRC32, so every event ends in a CRC. */
function readEvents(path: string): FixtureEvent[] {
  const file = readFileSync(path);
  assert.equal(file.subarray(0, 4).toString("latin1"), "\xfebin");
  const events: FixtureEvent[] = [];
  for (let offset = 4; offset + 19 <= file.length; ) {
    const size = file.readUInt32LE(offset + 9);
    const event = file.subarray(offset, offset + size);
    const type = event[4]!;
    if (type === 15) assert.equal(event[size - 5], 1, "the FDE announces CRC32 checksums");
    if (type !== 15) assert.equal(crc32(event.subarray(0, size - 4)), event.readUInt32LE(size - 4), `CRC at ${offset}`);
    events.push({ offset, type, timestamp: event.readUInt32LE(0), size, body: event.subarray(19, size - 4) });
    offset += size;
  }
  return events;
}

/** "9.6.0" -> 90600, the way MySQL numbers server versions in GTID events. */
function versionNumber(fdeBody: Buffer): number {
  const text = fdeBody.subarray(2, 52).toString("latin1").replace(/\0+$/, "");
  const [major, minor, patch] = text.split(/[.-]/).map(Number) as [number, number, number];
  return major * 10000 + minor * 100 + patch;
}

test("the real GTID_TAGGED_LOG_EVENT: byte-exact round trip and fields consistent with the file", { skip }, () => {
  const events = readEvents(TAGGED_FILE);
  const fde = events.find((e) => e.type === 15)!;
  const previous = MysqlGtidSet.decode(events.find((e) => e.type === 35)!.body);
  const tagged = events.filter((e) => e.type === 42);
  assert.equal(tagged.length, 1);
  for (const event of tagged) {
    const body = decodeTaggedGtidBody(event.body);
    assert.equal(hex(encodeTaggedGtidBody(body)), hex(event.body));

    const gtid = taggedGtidOf(body);
    // As read from the file once by hand; the checks below tie it to the rest of the file.
    assert.equal(formatMysqlGtid(gtid), "55778904-0299-11f1-b1b8-4ef0c4956feb:mytag:3");
    // The transaction continues the tag's run in PREVIOUS_GTIDS: new, and right after its end.
    assert.ok(!previous.containsGtid(gtid));
    assert.ok(previous.containsGtid({ ...gtid, gno: gtid.gno - 1n }));
    const intervals = previous.intervalsOf(gtid.uuid, gtid.tag);
    assert.equal(intervals.at(-1)!.last + 1n, gtid.gno);
    assert.equal(previous.add(gtid).intervalsOf(gtid.uuid, gtid.tag).length, intervals.length);

    // transaction_length covers this event through the XID that commits the transaction.
    const start = events.indexOf(event);
    const end = events.findIndex((e, i) => i > start && e.type === 16);
    assert.ok(end > start, "an XID ends the transaction");
    const length = events.slice(start, end + 1).reduce((total, e) => total + e.size, 0);
    assert.equal(body.transactionLength, BigInt(length));

    assert.equal(body.immediateServerVersion, versionNumber(fde.body));
    assert.equal(body.immediateCommitTimestamp / 1_000_000n, BigInt(event.timestamp), "commit time in µs vs header seconds");
    // Written where the transaction originated: the original-* fields are left out.
    assert.equal(body.originalCommitTimestamp, undefined);
    assert.equal(body.originalServerVersion, undefined);
    assert.equal(body.commitGroupTicket, undefined);
    assert.ok(body.sequenceNumber > body.lastCommitted);
    assert.equal(body.unknownFields.length, 0);
    assert.equal(body.lastNonIgnorableFieldId, 0);
  }
});

test("every truncation of the real body is a GtidParseError, never a wrong answer", { skip }, () => {
  const body = readEvents(TAGGED_FILE).find((e) => e.type === 42)!.body;
  for (let length = 0; length < body.length; length++) {
    parseError(() => decodeTaggedGtidBody(body.subarray(0, length)), "at byte");
  }
  parseError(() => decodeTaggedGtidBody(Buffer.concat([body, Buffer.from([0])])), "message size");
});

// ---------------------------------------------------------------------------------------------
// Hand-built messages

const UUID = "55778904-0299-11f1-b1b8-4ef0c4956feb";

const varlen = (v: number | bigint): Buffer => Buffer.from(encodeVarlen(BigInt(v)));
const signed = (v: number | bigint): Buffer => Buffer.from(encodeSignedVarlen(BigInt(v)));
const field = (id: number, ...value: Buffer[]): Buffer => Buffer.concat([varlen(id), ...value]);
const uuidField = (): Buffer => field(1, ...Buffer.from(UUID.replaceAll("-", ""), "hex").reduce<Buffer[]>((all, b) => [...all, varlen(b)], []));
const tagField = (tag: string): Buffer => field(3, varlen(tag.length), Buffer.from(tag, "latin1"));

/** The required fields, as MySQL writes them, for gno 7 tagged 'tg'. */
function standardFields(): Buffer[] {
  return [
    field(0, varlen(1)),
    uuidField(),
    field(2, signed(7)),
    tagField("tg"),
    field(4, signed(5)),
    field(5, signed(6)),
    field(6, varlen(1_700_000_000_000_000n)),
    field(8, varlen(300)),
    field(9, varlen(80403)),
  ];
}

/** Wraps fields in the message header, sizing it as libs/mysql/serialization does. */
function message(fields: Buffer[], lastNonIgnorable = 0, version = 1): Buffer {
  const payload = Buffer.concat(fields);
  const declared = varlen(version).length + varlen(payload.length).length + varlen(lastNonIgnorable).length + payload.length;
  return Buffer.concat([varlen(version), varlen(declared), varlen(lastNonIgnorable), payload]);
}

test("a hand-built message decodes to its fields and re-encodes to the same bytes", () => {
  const fields = standardFields();
  fields.splice(7, 0, field(7, varlen(1_600_000_000_000_000n)));
  fields.push(field(10, varlen(80036)), field(11, varlen(9)));
  const bytes = message(fields);
  const body = decodeTaggedGtidBody(bytes);
  assert.deepEqual(body, {
    flags: 1,
    uuid: UUID,
    gno: 7n,
    tag: "tg",
    lastCommitted: 5n,
    sequenceNumber: 6n,
    immediateCommitTimestamp: 1_700_000_000_000_000n,
    originalCommitTimestamp: 1_600_000_000_000_000n,
    transactionLength: 300n,
    immediateServerVersion: 80403,
    originalServerVersion: 80036,
    commitGroupTicket: 9n,
    lastNonIgnorableFieldId: 0,
    unknownFields: new Uint8Array(0),
  } satisfies TaggedGtidEventBody);
  assert.equal(hex(encodeTaggedGtidBody(body)), hex(bytes));
  assert.deepEqual(taggedGtidOf(body), { uuid: UUID, tag: "tg", gno: 7n });
});

test("fields of a newer server (ids above 11) are kept raw and written back", () => {
  const extra = Buffer.concat([field(12, varlen(5)), field(13, varlen(3), Buffer.from("abc"))]);
  const bytes = message([...standardFields(), extra]);
  const body = decodeTaggedGtidBody(bytes);
  assert.equal(hex(body.unknownFields), hex(extra));
  assert.equal(hex(encodeTaggedGtidBody(body)), hex(bytes));
  // Marked required by that server (last non-ignorable id 13 = field 12): refused, not guessed at.
  parseError(() => decodeTaggedGtidBody(message([...standardFields(), extra], 13)), "field 12 is marked required");
  assert.equal(decodeTaggedGtidBody(message(standardFields(), 12)).lastNonIgnorableFieldId, 12);
});

test("what would not re-encode to the same bytes is refused with the byte offset", () => {
  const fields = standardFields();
  parseError(() => decodeTaggedGtidBody(message(fields, 0, 2)), "serialization format version 2", "at byte 0");
  parseError(() => decodeTaggedGtidBody(message([Buffer.from([0x01, 0x00, 0x02]), ...fields.slice(1)])), "field id", "uses 2 bytes where MySQL writes 1", "at byte 3");
  const swapped = [...fields];
  [swapped[4], swapped[5]] = [swapped[5]!, swapped[4]!];
  parseError(() => decodeTaggedGtidBody(message(swapped)), "field 4 comes after field 5");
  parseError(() => decodeTaggedGtidBody(message([...fields, field(2, signed(8))])), "field 2 comes after field 9");
  parseError(() => decodeTaggedGtidBody(message([...fields, field(11, varlen(1)), field(11, varlen(2))])), "field 11 comes after field 11");
  parseError(() => decodeTaggedGtidBody(message(fields.filter((_, i) => i !== 2))), "required field 2 (gno) is missing");
  parseError(() => decodeTaggedGtidBody(message(fields.filter((_, i) => i !== 3))), "required field 3 (tag) is missing");
  parseError(() => decodeTaggedGtidBody(message(fields.with(3, tagField("MyTag")))), "'MyTag' is not in the lowercase form");
  parseError(() => decodeTaggedGtidBody(message(fields.with(3, tagField("1x")))), "'1x' is not a valid GTID tag");
  parseError(() => decodeTaggedGtidBody(message(fields.with(3, tagField("t".repeat(33))))), "above its maximum 32");
  parseError(() => decodeTaggedGtidBody(message(fields.with(2, field(2, signed(0))))), "gno 0 is outside");
  parseError(() => decodeTaggedGtidBody(message(fields.with(2, field(2, signed(-3))))), "gno -3 is outside");
  parseError(() => decodeTaggedGtidBody(message(fields.with(0, field(0, varlen(256))))), "gtid_flags 256 is above its maximum 255");
  parseError(() => decodeTaggedGtidBody(message(fields.with(8, field(9, varlen(2n ** 32n))))), "immediate_server_version");
  const badUuid = Buffer.concat([varlen(1), varlen(300), ...Array.from({ length: 15 }, () => varlen(0))]);
  parseError(() => decodeTaggedGtidBody(message(fields.with(1, badUuid))), "uuid byte 0 300 is above its maximum 255");
  const good = message(fields);
  parseError(() => decodeTaggedGtidBody(Buffer.concat([good.subarray(0, 1), varlen(good.length + 5), good.subarray(2)])), "message size");
});

test("the message size is computed as MySQL computes it, also where its own length grows a byte", () => {
  // MySQL sizes the message with the length of the payload size, not of the total: for payloads
  // of 125..127 bytes the declared total (128..130) needs a 2-byte integer that it did not count.
  const body = decodeTaggedGtidBody(message(standardFields()));
  const base = encodeTaggedGtidBody(body).length - 3;
  for (let payload = base + 2; payload <= 140; payload++) {
    const padding = payload - base;
    const unknownFields = Uint8Array.from(Buffer.concat([varlen(12), Buffer.alloc(padding - 1)]));
    const bytes = encodeTaggedGtidBody({ ...body, unknownFields });
    const declared = 1 + varlen(payload).length + 1 + payload;
    assert.equal(bytes.length, 1 + varlen(declared).length + 1 + payload, `payload ${payload}`);
    if (payload >= 125 && payload <= 127) assert.equal(bytes.length, declared + 1, `payload ${payload}: one byte more than declared`);
    assert.equal(hex(bytes.subarray(1, 1 + varlen(declared).length)), hex(varlen(declared)));
    assert.deepEqual(decodeTaggedGtidBody(bytes), { ...body, unknownFields });
    assert.equal(hex(Buffer.from(bytes)), hex(message([...standardFields(), Buffer.from(unknownFields)])));
  }
});

test("encode refuses values MySQL cannot hold", () => {
  const body = decodeTaggedGtidBody(message(standardFields()));
  assert.throws(() => encodeTaggedGtidBody({ ...body, gno: 0n }), RangeError);
  assert.throws(() => encodeTaggedGtidBody({ ...body, gno: MAX_GNO + 1n }), RangeError);
  assert.throws(() => encodeTaggedGtidBody({ ...body, flags: 256 }), RangeError);
  assert.throws(() => encodeTaggedGtidBody({ ...body, tag: "Up" }), RangeError);
  assert.throws(() => encodeTaggedGtidBody({ ...body, immediateServerVersion: 2 ** 32 }), RangeError);
});

// ---------------------------------------------------------------------------------------------
// Properties

const u64 = fc.bigInt(0n, (1n << 64n) - 1n);
const i64 = fc.bigInt(-(1n << 63n), (1n << 63n) - 1n);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  const h = Buffer.from(b).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
});
const tagArb = fc.stringMatching(/^[a-z_][a-z0-9_]{0,31}$/);
const unknownArb = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.tuple(fc.integer({ min: 12, max: 5000 }), fc.uint8Array({ maxLength: 20 })).map(([id, rest]) => Uint8Array.from(Buffer.concat([varlen(id), rest]))),
);

const bodyArb: fc.Arbitrary<TaggedGtidEventBody> = fc
  .record({
    flags: fc.integer({ min: 0, max: 255 }),
    uuid: uuidArb,
    gno: fc.bigInt(1n, MAX_GNO),
    tag: tagArb,
    lastCommitted: i64,
    sequenceNumber: i64,
    immediateCommitTimestamp: u64,
    originalCommitTimestamp: fc.option(u64, { nil: undefined }),
    transactionLength: u64,
    immediateServerVersion: u32,
    originalServerVersion: fc.option(u32, { nil: undefined }),
    commitGroupTicket: fc.option(u64, { nil: undefined }),
    lastNonIgnorableFieldId: fc.integer({ min: 0, max: 12 }),
    unknownFields: unknownArb,
  })
  .map(({ originalCommitTimestamp, originalServerVersion, commitGroupTicket, ...required }) => {
    // Absent optional fields are left out of the object, as the decoder leaves them out.
    const body: TaggedGtidEventBody = { ...required };
    if (originalCommitTimestamp !== undefined) body.originalCommitTimestamp = originalCommitTimestamp;
    if (originalServerVersion !== undefined) body.originalServerVersion = originalServerVersion;
    if (commitGroupTicket !== undefined) body.commitGroupTicket = commitGroupTicket;
    return body;
  });

test("property: decode(encode(body)) is body, and the bytes survive a second round", () => {
  fc.assert(
    fc.property(bodyArb, (body) => {
      const bytes = encodeTaggedGtidBody(body);
      const decoded = decodeTaggedGtidBody(bytes);
      assert.deepEqual(decoded, body);
      assert.equal(hex(encodeTaggedGtidBody(decoded)), hex(bytes));
    }),
    { numRuns: 500 },
  );
});

test("property: any strict prefix of an encoded body is refused", () => {
  fc.assert(
    fc.property(bodyArb, fc.nat(), (body, cut) => {
      const bytes = encodeTaggedGtidBody(body);
      const length = cut % bytes.length;
      assert.throws(() => decodeTaggedGtidBody(bytes.subarray(0, length)), GtidParseError);
    }),
  );
});
