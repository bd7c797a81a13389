/**
 * The sender's serializer of kingbus.v1.MessageBatch, written by hand into a buffer the sender
 * reuses from one write to the next. proto-loader's serializer (protobufjs) encodes every batch
 * into a new buffer the size of the batch, which gRPC then copies once more to frame it: on a
 * leader that is two short-lived buffers per follower for every byte it replicates, and the C
 * allocator and the garbage collector carry them (docs/raft.md, "Memory"). With this encoder only
 * gRPC's framing copy is left.
 *
 * The bytes are the same protobuf any decoder reads (receivers keep proto-loader's deserializer);
 * fields holding their default value are left out, as proto3 allows. A returned view is valid
 * until the next call on the same encoder: gRPC copies it into its frame before the write's
 * callback, and a PeerSender writes one batch at a time.
 */
import type { WireAppend, WireAppendResponse, WireConfState, WireEntry, WireMessageBatch, WireRaftMessage, WireSnapshot, WireVoteRequest, WireVoteResponse } from "./wire-types.ts";

const LEN = 2;
const VARINT = 0;

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Size of a varint field (tag and value), or 0 when the value is the default (0 / false). */
function u64Field(v: number): number {
  return v === 0 ? 0 : 1 + varintSize(v);
}

function boolField(v: boolean): number {
  return v ? 2 : 0;
}

/** Size of a length-delimited field holding `len` bytes (tags of field numbers < 16 are one byte). */
function lenField(len: number): number {
  return 1 + varintSize(len) + len;
}

function entrySize(e: WireEntry): number {
  return u64Field(e.index) + u64Field(e.term) + u64Field(e.type) + (e.data.byteLength === 0 ? 0 : lenField(e.data.byteLength));
}

function appendSize(a: WireAppend, entrySizes: number[]): number {
  let n = u64Field(a.prevIndex) + u64Field(a.prevTerm) + u64Field(a.commit);
  for (const e of a.entries) {
    const s = entrySize(e);
    entrySizes.push(s);
    n += lenField(s);
  }
  return n;
}

function confSize(c: WireConfState): number {
  let n = 0;
  for (const list of [c.voters, c.learners]) {
    if (list.length === 0) continue;
    let packed = 0;
    for (const v of list) packed += varintSize(v);
    n += lenField(packed);
  }
  return n;
}

function snapshotSize(s: WireSnapshot): number {
  const m = s.metadata;
  if (m === null) return 0;
  const conf = m.conf === null ? -1 : confSize(m.conf);
  return lenField(u64Field(m.index) + u64Field(m.term) + (conf < 0 ? 0 : lenField(conf)));
}

const BODIES = ["app", "appResp", "vote", "voteResp", "preVote", "preVoteResp", "heartbeat", "heartbeatResp", "snap", "timeoutNow"] as const;
type Body = (typeof BODIES)[number];

/** The oneof member a message carries (as encodeMessage builds them: one of the fields set). */
function bodyOf(m: WireRaftMessage): Body | undefined {
  if (m.body !== undefined) return m.body;
  for (const b of BODIES) if (m[b] !== undefined && m[b] !== null) return b;
  return undefined;
}

/** The body's field number in RaftMessage. */
const FIELD: Record<Body, number> = { app: 4, appResp: 5, vote: 6, voteResp: 7, preVote: 8, preVoteResp: 9, heartbeat: 10, heartbeatResp: 11, snap: 12, timeoutNow: 13 };

function bodySize(body: Body, m: WireRaftMessage, entrySizes: number[]): number {
  switch (body) {
    case "app":
      return appendSize(m.app!, entrySizes);
    case "appResp": {
      const r: WireAppendResponse = m.appResp!;
      return u64Field(r.index) + boolField(r.reject) + u64Field(r.hintIndex) + u64Field(r.hintTerm);
    }
    case "vote":
    case "preVote": {
      const v: WireVoteRequest = m[body]!;
      return u64Field(v.lastIndex) + u64Field(v.lastTerm) + boolField(v.transfer);
    }
    case "voteResp":
    case "preVoteResp": {
      const v: WireVoteResponse = m[body]!;
      return boolField(v.reject);
    }
    case "heartbeat":
      return u64Field(m.heartbeat!.commit);
    case "snap":
      return snapshotSize(m.snap!);
    case "heartbeatResp":
    case "timeoutNow":
      return 0;
  }
}

export interface BatchEncoderOptions {
  /** The reused buffer is kept while at most this large (a larger batch gets a buffer of its own). */
  keepBytes: number;
}

export class BatchEncoder {
  readonly #keepBytes: number;
  #buf: Buffer = Buffer.alloc(0);

  constructor(options: BatchEncoderOptions) {
    this.#keepBytes = options.keepBytes;
  }

  /** The batch's protobuf bytes: a view of the encoder's buffer, valid until the next call. */
  encode(batch: WireMessageBatch): Buffer {
    // Sizes first (inner messages are length-prefixed), kept in order for the writing pass.
    const entrySizes: number[] = [];
    const bodySizes: number[] = [];
    const messageSizes: number[] = [];
    let total = 0;
    for (const m of batch.messages) {
      const body = bodyOf(m);
      let size = u64Field(m.from) + u64Field(m.to) + u64Field(m.term);
      if (body !== undefined) {
        const b = bodySize(body, m, entrySizes);
        bodySizes.push(b);
        size += lenField(b);
      }
      messageSizes.push(size);
      total += lenField(size);
    }
    if (total > this.#buf.length) {
      // Never from Node's shared pool: a kept buffer must not pin, or be, a slice of someone else's.
      const fresh = Buffer.allocUnsafeSlow(total);
      if (total <= this.#keepBytes) this.#buf = fresh;
      else return this.#write(fresh, batch, entrySizes, bodySizes, messageSizes);
    }
    return this.#write(this.#buf, batch, entrySizes, bodySizes, messageSizes).subarray(0, total);
  }

  #write(buf: Buffer, batch: WireMessageBatch, entrySizes: number[], bodySizes: number[], messageSizes: number[]): Buffer {
    const w = new Out(buf);
    let entry = 0;
    let bodyAt = 0;
    batch.messages.forEach((m, i) => {
      w.len(1, messageSizes[i]!);
      w.u64(1, m.from);
      w.u64(2, m.to);
      w.u64(3, m.term);
      const body = bodyOf(m);
      if (body === undefined) return;
      w.len(FIELD[body], bodySizes[bodyAt++]!);
      switch (body) {
        case "app": {
          const a = m.app!;
          w.u64(1, a.prevIndex);
          w.u64(2, a.prevTerm);
          for (const e of a.entries) {
            w.len(3, entrySizes[entry++]!);
            w.u64(1, e.index);
            w.u64(2, e.term);
            w.u64(3, e.type);
            if (e.data.byteLength > 0) {
              w.len(4, e.data.byteLength);
              w.bytes(e.data);
            }
          }
          w.u64(4, a.commit);
          return;
        }
        case "appResp": {
          const r = m.appResp!;
          w.u64(1, r.index);
          w.bool(2, r.reject);
          w.u64(3, r.hintIndex);
          w.u64(4, r.hintTerm);
          return;
        }
        case "vote":
        case "preVote": {
          const v = m[body]!;
          w.u64(1, v.lastIndex);
          w.u64(2, v.lastTerm);
          w.bool(3, v.transfer);
          return;
        }
        case "voteResp":
        case "preVoteResp":
          w.bool(1, m[body]!.reject);
          return;
        case "heartbeat":
          w.u64(1, m.heartbeat!.commit);
          return;
        case "snap": {
          const meta = m.snap!.metadata;
          if (meta === null) return;
          const conf = meta.conf === null ? -1 : confSize(meta.conf);
          w.len(1, u64Field(meta.index) + u64Field(meta.term) + (conf < 0 ? 0 : lenField(conf)));
          w.u64(1, meta.index);
          w.u64(2, meta.term);
          if (meta.conf === null) return;
          w.len(3, conf);
          w.packed(1, meta.conf.voters);
          w.packed(2, meta.conf.learners);
          return;
        }
        case "heartbeatResp":
        case "timeoutNow":
          return;
      }
    });
    return buf;
  }
}

class Out {
  readonly buf: Buffer;
  at = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
  }

  varint(v: number): void {
    while (v >= 128) {
      this.buf[this.at++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.at++] = v;
  }

  tag(field: number, wire: number): void {
    this.buf[this.at++] = (field << 3) | wire;
  }

  u64(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, VARINT);
    this.varint(v);
  }

  bool(field: number, v: boolean): void {
    if (!v) return;
    this.tag(field, VARINT);
    this.buf[this.at++] = 1;
  }

  len(field: number, n: number): void {
    this.tag(field, LEN);
    this.varint(n);
  }

  bytes(b: Uint8Array): void {
    this.buf.set(b, this.at);
    this.at += b.byteLength;
  }

  packed(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    let n = 0;
    for (const v of values) n += varintSize(v);
    this.len(field, n);
    for (const v of values) this.varint(v);
  }
}
