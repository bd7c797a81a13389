/**
 * The body of GTID_TAGGED_LOG_EVENT (type 42, MySQL 8.3+): one mysql::serialization message
 * (libs/mysql/serialization, Gtid_event::define_fields in libs/mysql/binlog/event/control_events.h).
 *
 * Layout, every integer a variable-length integer (see decodeVarlen):
 *   format version (= 1), message size (bytes from the version to the end), last non-ignorable
 *   field id, then fields as (field id, value), ids ascending, optional ones left out:
 *     0 gtid_flags u8            4 last_committed i64          8 transaction_length u64
 *     1 uuid: 16 × u8            5 sequence_number i64         9 immediate_server_version u32
 *     2 gno i64                  6 immediate_commit_ts u64     10 original_server_version u32 (opt)
 *     3 tag: length + bytes      7 original_commit_ts u64 (opt) 11 commit_group_ticket u64 (opt)
 * Signed integers are zigzag-coded (sign in the low bit). MySQL leaves out field 7 when it equals
 * field 6, field 10 when it equals field 9, and field 11 when it is 0. A newer server may append
 * fields this decoder does not know; they are kept as raw bytes and written back unchanged.
 *
 * Decoding is strict where MySQL's reader is lenient (it accepts over-long integers and silently
 * skips out-of-order fields): anything that would not re-encode to the same bytes is a
 * GtidParseError, so that encodeTaggedGtidBody(decodeTaggedGtidBody(b)) is always b.
 */
import {
  GtidParseError,
  MAX_GNO,
  TAG_MAX_LENGTH,
  decodeSignedVarlen,
  decodeVarlen,
  encodeSignedVarlen,
  encodeVarlen,
  normalizeTag,
  uuidFromBytes,
  uuidToBytes,
  varlenSize,
  type MysqlGtid,
} from "./gtid-mysql.ts";

export interface TaggedGtidEventBody {
  /** gtid_flags; bit 0 = the transaction may hold statement-based events. */
  flags: number;
  uuid: string;
  gno: bigint;
  /** "" would be an untagged GTID (MySQL writes type 33 for those). */
  tag: string;
  lastCommitted: bigint;
  sequenceNumber: bigint;
  /** Microseconds since the epoch, on the server that wrote this binlog. */
  immediateCommitTimestamp: bigint;
  /** Absent when the transaction originated here (it then equals the immediate one). */
  originalCommitTimestamp?: bigint;
  /** Bytes of the whole transaction, this event included. */
  transactionLength: bigint;
  /** major * 10000 + minor * 100 + patch of the server that wrote this binlog. */
  immediateServerVersion: number;
  /** Absent when equal to the immediate server version. */
  originalServerVersion?: number;
  /** Absent when not used (0). */
  commitGroupTicket?: bigint;
  /** From the message header: above 12 means a newer server marked unknown fields as required. */
  lastNonIgnorableFieldId: number;
  /** Encoded fields after commit_group_ticket (ids above 11), from a newer server; usually empty. */
  unknownFields: Uint8Array;
}

const SERIALIZATION_FORMAT_VERSION = 1n;
const LAST_KNOWN_FIELD_ID = 11;
const MAX_U8 = 0xffn;
const MAX_U32 = 0xffff_ffffn;
const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;

/** The GTID the event announces. */
export function taggedGtidOf(body: TaggedGtidEventBody): MysqlGtid {
  return body.tag ? { uuid: body.uuid, tag: body.tag, gno: body.gno } : { uuid: body.uuid, gno: body.gno };
}

/** Cursor over the message; every error names the byte offset. */
class MessageReader {
  readonly bytes: Uint8Array;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  fail(offset: number, problem: string): never {
    throw new GtidParseError(`malformed GTID_TAGGED_LOG_EVENT body (${this.bytes.length} bytes): ${problem} at byte ${offset}`, {
      offset,
    });
  }

  /** Wraps the varlen reader so its errors carry this event's context. */
  #read(read: () => { value: bigint; size: number }, what: string): bigint {
    const at = this.pos;
    let result: { value: bigint; size: number };
    try {
      result = read();
    } catch (error) {
      if (error instanceof GtidParseError) return this.fail(at, `${what}: ${error.message}`);
      throw error;
    }
    this.pos += result.size;
    return result.value;
  }

  unsigned(what: string, max: bigint): bigint {
    const at = this.pos;
    const value = this.#read(() => decodeVarlen(this.bytes, this.pos, "integer", true), what);
    if (value > max) this.fail(at, `${what} ${value} is above its maximum ${max}`);
    return value;
  }

  signed(what: string): bigint {
    return this.#read(() => decodeSignedVarlen(this.bytes, this.pos, "integer", true), what);
  }

  peekUnsigned(what: string): bigint {
    const at = this.pos;
    const value = this.unsigned(what, MAX_U64);
    this.pos = at;
    return value;
  }
}

const FIELD_NAMES = [
  "gtid_flags",
  "uuid",
  "gno",
  "tag",
  "last_committed",
  "sequence_number",
  "immediate_commit_timestamp",
  "original_commit_timestamp",
  "transaction_length",
  "immediate_server_version",
  "original_server_version",
  "commit_group_ticket",
] as const;
const OPTIONAL_FIELDS = new Set([7, 10, 11]);

/** Bytes the message size field counts, computed the way MySQL's serializer computes them. */
function declaredMessageSize(payloadSize: number, lastNonIgnorableFieldId: number): number {
  return (
    varlenSize(SERIALIZATION_FORMAT_VERSION) +
    varlenSize(BigInt(payloadSize)) +
    varlenSize(BigInt(lastNonIgnorableFieldId)) +
    payloadSize
  );
}

export function decodeTaggedGtidBody(body: Uint8Array): TaggedGtidEventBody {
  const reader = new MessageReader(body);
  const version = reader.unsigned("serialization format version", MAX_U64);
  if (version !== SERIALIZATION_FORMAT_VERSION) reader.fail(0, `serialization format version ${version} is not 1`);
  const sizeAt = reader.pos;
  const declaredSize = reader.unsigned("message size", MAX_U64);
  const lastNonIgnorableFieldId = Number(reader.unsigned("last non-ignorable field id", 0xffffn));
  if (lastNonIgnorableFieldId > LAST_KNOWN_FIELD_ID + 1) {
    reader.fail(sizeAt, `field ${lastNonIgnorableFieldId - 1} is marked required but is unknown to this decoder`);
  }
  const payloadStart = reader.pos;
  const expectedSize = declaredMessageSize(body.length - payloadStart, lastNonIgnorableFieldId);
  if (declaredSize !== BigInt(expectedSize)) {
    reader.fail(
      sizeAt,
      `message size ${declaredSize} does not match the body (${expectedSize} expected for ${body.length} bytes; truncated or followed by other data)`,
    );
  }

  const values = new Map<number, bigint | string>();
  let previousId = -1;
  for (let id = 0; id <= LAST_KNOWN_FIELD_ID && reader.pos < body.length; id++) {
    const idAt = reader.pos;
    const nextId = reader.peekUnsigned("field id");
    if (nextId > BigInt(id)) continue;
    if (nextId < BigInt(id)) reader.fail(idAt, `field ${nextId} comes after field ${previousId} (out of order or repeated)`);
    reader.unsigned("field id", MAX_U64);
    previousId = id;
    const name = FIELD_NAMES[id]!;
    values.set(id, readField(reader, id, name));
  }
  for (const [id, name] of FIELD_NAMES.entries()) {
    if (!OPTIONAL_FIELDS.has(id) && !values.has(id)) reader.fail(reader.pos, `required field ${id} (${name}) is missing`);
  }
  if (reader.pos < body.length) {
    const nextId = reader.peekUnsigned("field id");
    if (nextId <= BigInt(LAST_KNOWN_FIELD_ID)) {
      reader.fail(reader.pos, `field ${nextId} comes after field ${previousId} (out of order or repeated)`);
    }
  }

  const decoded: TaggedGtidEventBody = {
    flags: Number(values.get(0)),
    uuid: values.get(1) as string,
    gno: values.get(2) as bigint,
    tag: values.get(3) as string,
    lastCommitted: values.get(4) as bigint,
    sequenceNumber: values.get(5) as bigint,
    immediateCommitTimestamp: values.get(6) as bigint,
    transactionLength: values.get(8) as bigint,
    immediateServerVersion: Number(values.get(9)),
    lastNonIgnorableFieldId,
    unknownFields: new Uint8Array(body.subarray(reader.pos)),
  };
  if (values.has(7)) decoded.originalCommitTimestamp = values.get(7) as bigint;
  if (values.has(10)) decoded.originalServerVersion = Number(values.get(10));
  if (values.has(11)) decoded.commitGroupTicket = values.get(11) as bigint;
  return decoded;
}

function readField(reader: MessageReader, id: number, name: string): bigint | string {
  const at = reader.pos;
  switch (id) {
    case 0:
      return reader.unsigned(name, MAX_U8);
    case 1: {
      const bytes = new Uint8Array(16);
      for (let i = 0; i < 16; i++) bytes[i] = Number(reader.unsigned(`${name} byte ${i}`, MAX_U8));
      return uuidFromBytes(bytes);
    }
    case 2: {
      const gno = reader.signed(name);
      if (gno < 1n || gno > MAX_GNO) reader.fail(at, `gno ${gno} is outside 1..${MAX_GNO}`);
      return gno;
    }
    case 3: {
      const length = reader.unsigned(`${name} length`, BigInt(TAG_MAX_LENGTH));
      if (reader.pos + Number(length) > reader.bytes.length) reader.fail(at, `${name} of ${length} bytes is truncated`);
      const text = Buffer.from(reader.bytes.subarray(reader.pos, reader.pos + Number(length))).toString("latin1");
      let tag: string;
      try {
        tag = normalizeTag(text);
      } catch {
        return reader.fail(at, `tag '${text}' is not a valid GTID tag`);
      }
      if (tag !== text) reader.fail(at, `tag '${text}' is not in the lowercase form MySQL writes`);
      reader.pos += Number(length);
      return tag;
    }
    case 4:
    case 5:
      return reader.signed(name);
    case 9:
    case 10:
      return reader.unsigned(name, MAX_U32);
    default:
      return reader.unsigned(name, MAX_U64);
  }
}

function checkRange(value: bigint, min: bigint, max: bigint, name: string): bigint {
  if (value < min || value > max) throw new RangeError(`${name} ${value} is outside ${min}..${max}`);
  return value;
}

export function encodeTaggedGtidBody(body: TaggedGtidEventBody): Uint8Array {
  const tag = normalizeTag(body.tag);
  if (tag !== body.tag) throw new RangeError(`tag '${body.tag}' is not in the lowercase form MySQL writes`);
  checkRange(body.gno, 1n, MAX_GNO, "gno");
  const parts: Uint8Array[] = [];
  const field = (id: number, ...value: Uint8Array[]): void => {
    parts.push(encodeVarlen(BigInt(id)), ...value);
  };
  field(0, encodeVarlen(checkRange(BigInt(body.flags), 0n, MAX_U8, "flags")));
  field(1, ...Array.from(uuidToBytes(body.uuid), (b) => encodeVarlen(BigInt(b))));
  field(2, encodeSignedVarlen(body.gno));
  field(3, encodeVarlen(BigInt(tag.length)), Buffer.from(tag, "latin1"));
  field(4, encodeSignedVarlen(checkRange(body.lastCommitted, MIN_I64, MAX_I64, "last_committed")));
  field(5, encodeSignedVarlen(checkRange(body.sequenceNumber, MIN_I64, MAX_I64, "sequence_number")));
  field(6, encodeVarlen(body.immediateCommitTimestamp));
  if (body.originalCommitTimestamp !== undefined) field(7, encodeVarlen(body.originalCommitTimestamp));
  field(8, encodeVarlen(body.transactionLength));
  field(9, encodeVarlen(checkRange(BigInt(body.immediateServerVersion), 0n, MAX_U32, "immediate_server_version")));
  if (body.originalServerVersion !== undefined) {
    field(10, encodeVarlen(checkRange(BigInt(body.originalServerVersion), 0n, MAX_U32, "original_server_version")));
  }
  if (body.commitGroupTicket !== undefined) field(11, encodeVarlen(body.commitGroupTicket));
  parts.push(body.unknownFields);

  const payloadSize = parts.reduce((total, p) => total + p.length, 0);
  const header = [
    encodeVarlen(SERIALIZATION_FORMAT_VERSION),
    encodeVarlen(BigInt(declaredMessageSize(payloadSize, body.lastNonIgnorableFieldId))),
    encodeVarlen(BigInt(body.lastNonIgnorableFieldId)),
  ];
  return Uint8Array.from(Buffer.concat([...header, ...parts]));
}
