/**
 * Reads a binlog or relay log file as a stream of events: checks the magic, cuts the bytes into
 * events (holding at most one event in memory), follows FORMAT_DESCRIPTION events to know the
 * checksum algorithm, verifies each checksum, and stops with a BinlogError naming the byte offset
 * at the first damage. Events before the damage have already been handed out.
 */
import { checkEventChecksum, decodeEvent, type BinlogEvent } from "./codec.ts";
import { BinlogError } from "./errors.ts";
import { EventType, eventTypeName } from "./event-type.ts";
import { formatFromDescription } from "./events/format-description.ts";
import { defaultFormat, type BinlogFormat } from "./format.ts";
import { BINLOG_MAGIC, ENCRYPTED_BINLOG_MAGIC, EVENT_HEADER_LENGTH } from "./header.ts";

/** Larger than any event a server writes (max_allowed_packet tops out at 1 GiB). */
export const MAX_EVENT_SIZE = 1024 * 1024 * 1024 + 64 * 1024;

export interface RawEvent {
  /** Byte offset of the event in the file. */
  offset: number;
  bytes: Buffer;
}

/**
 * Incremental cutter: feed chunks, take whole events. Partial events are kept as a list of chunks
 * and joined once, so a large event costs one copy, not one per chunk.
 */
export class EventSplitter {
  private chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed: cheaper than slicing the chunk once per event. */
  private headPos = 0;
  private buffered = 0;
  /** File offset of the first buffered byte. */
  offset: number;
  private readonly maxEventSize: number;

  constructor(startOffset = 0, maxEventSize = MAX_EVENT_SIZE) {
    this.offset = startOffset;
    this.maxEventSize = maxEventSize;
  }

  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.length;
  }

  /** The first n buffered bytes without consuming them, or undefined when fewer are buffered. */
  private peek(n: number): Buffer | undefined {
    if (this.buffered < n) return undefined;
    const first = this.chunks[0]!;
    if (first.length - this.headPos >= n) return first.subarray(this.headPos, this.headPos + n);
    const joined = Buffer.concat([first.subarray(this.headPos), ...this.chunks.slice(1)], this.buffered);
    this.chunks = [joined];
    this.headPos = 0;
    return joined.subarray(0, n);
  }

  private consume(n: number): void {
    this.buffered -= n;
    this.offset += n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const left = first.length - this.headPos;
      if (left <= n) {
        this.chunks.shift();
        this.headPos = 0;
        n -= left;
      } else {
        this.headPos += n;
        n = 0;
      }
    }
  }

  /** Takes exactly n bytes when buffered. */
  take(n: number): Buffer | undefined {
    const bytes = this.peek(n);
    if (bytes === undefined) return undefined;
    this.consume(n);
    return bytes;
  }

  /** The next whole event, or undefined until more bytes arrive. */
  nextEvent(): RawEvent | undefined {
    const head = this.peek(EVENT_HEADER_LENGTH);
    if (head === undefined) return undefined;
    const size = head.readUInt32LE(9);
    if (size < EVENT_HEADER_LENGTH) {
      throw new BinlogError("BINLOG_CORRUPT", `${eventTypeName(head[4]!)} event announces ${size} bytes, less than its own 19-byte header`, { offset: this.offset });
    }
    if (size > this.maxEventSize) {
      throw new BinlogError("BINLOG_CORRUPT", `${eventTypeName(head[4]!)} event announces ${size} bytes, more than any server writes`, { offset: this.offset });
    }
    const offset = this.offset;
    const bytes = this.take(size);
    return bytes === undefined ? undefined : { offset, bytes };
  }

  /** Called at the end of input: leftover bytes are a torn event. */
  finish(): void {
    if (this.buffered === 0) return;
    const head = this.peek(Math.min(this.buffered, EVENT_HEADER_LENGTH))!;
    const what = head.length < EVENT_HEADER_LENGTH
      ? `file ends inside an event header (${head.length} of 19 bytes)`
      : `file ends inside a ${eventTypeName(head[4]!)} event of ${head.readUInt32LE(9)} bytes (${this.buffered} present)`;
    throw new BinlogError("BINLOG_TRUNCATED", what, { offset: this.offset });
  }
}

export interface ReadEvent extends RawEvent {
  event: BinlogEvent;
  /** undefined when the event carries no checksum. */
  checksumOk: boolean | undefined;
  /** The format the event was read under (the one its preceding FDE set). */
  format: BinlogFormat;
}

export interface ReadOptions {
  /** Verify CRC32 and stop at the first mismatch (default true). */
  verifyChecksums?: boolean;
}

/** Checks the four magic bytes, naming what the file is when it is not a readable binlog. */
export function checkMagic(magic: Buffer | undefined, totalLength: number): void {
  if (magic === undefined) {
    throw new BinlogError("BINLOG_NOT_A_BINLOG", `not a binlog: ${totalLength} bytes, shorter than the 4-byte magic`, { offset: 0 });
  }
  if (magic.equals(BINLOG_MAGIC)) return;
  if (magic.equals(ENCRYPTED_BINLOG_MAGIC)) {
    throw new BinlogError("BINLOG_ENCRYPTED", "encrypted binlog (magic \\xfdbin, MySQL binlog_encryption): cannot be read without the keyring", { offset: 0 });
  }
  throw new BinlogError("BINLOG_NOT_A_BINLOG", `not a binlog: starts with 0x${magic.toString("hex")}, expected 0xfe62696e (\\xfebin)`, { offset: 0 });
}

/** Decodes cut events, following FDEs and checking checksums. */
export class EventDecoder {
  format: BinlogFormat;
  private readonly verify: boolean;

  constructor(options: ReadOptions = {}, format: BinlogFormat = defaultFormat()) {
    this.format = format;
    this.verify = options.verifyChecksums ?? true;
  }

  decode(raw: RawEvent): ReadEvent {
    const format = this.format;
    const checksumOk = checkEventChecksum(raw.bytes, format);
    if (checksumOk === false && this.verify) {
      throw new BinlogError("BINLOG_CHECKSUM", `${eventTypeName(raw.bytes[4]!)} event of ${raw.bytes.length} bytes fails its CRC32 check`, { offset: raw.offset });
    }
    let event: BinlogEvent;
    try {
      event = decodeEvent(raw.bytes, format);
    } catch (cause) {
      if (cause instanceof BinlogError) throw new BinlogError(cause.code, cause.message, { offset: raw.offset, cause });
      throw cause;
    }
    if (event.body.kind === "formatDescription") {
      try {
        this.format = formatFromDescription(event.body);
      } catch (cause) {
        if (cause instanceof BinlogError) throw new BinlogError(cause.code, cause.message, { offset: raw.offset, cause });
        throw cause;
      }
    } else if (event.header.type === EventType.MARIADB_START_ENCRYPTION) {
      throw new BinlogError("BINLOG_ENCRYPTED", "encrypted MariaDB binlog (START_ENCRYPTION event): the events after it cannot be read without the key", { offset: raw.offset });
    }
    return { ...raw, event, checksumOk, format };
  }
}

/**
 * Reads a binlog file given as a stream of chunks (a file or a gunzip stream), handing out the
 * events of each chunk as one batch: one await per chunk rather than one per event, which is what
 * a consumer of hundreds of thousands of small events a second wants.
 */
export async function* readBinlogBatches(source: AsyncIterable<Uint8Array>, options: ReadOptions = {}): AsyncGenerator<ReadEvent[]> {
  const splitter = new EventSplitter();
  const decoder = new EventDecoder(options);
  let magicChecked = false;
  for await (const chunk of source) {
    splitter.push(chunk);
    if (!magicChecked) {
      const magic = splitter.take(4);
      if (magic === undefined) continue;
      checkMagic(magic, 4);
      magicChecked = true;
    }
    const batch: ReadEvent[] = [];
    try {
      for (let raw = splitter.nextEvent(); raw !== undefined; raw = splitter.nextEvent()) batch.push(decoder.decode(raw));
    } catch (damage) {
      // The events before the damage still reach the consumer, then the error.
      if (batch.length > 0) yield batch;
      throw damage;
    }
    if (batch.length > 0) yield batch;
  }
  if (!magicChecked) checkMagic(undefined, splitter.pendingBytes);
  splitter.finish();
}

/** Every event of a binlog stream, one at a time. */
export async function* readBinlogStream(source: AsyncIterable<Uint8Array>, options: ReadOptions = {}): AsyncGenerator<ReadEvent> {
  for await (const batch of readBinlogBatches(source, options)) yield* batch;
}

/** The same over bytes already in memory. */
export function* readBinlogBuffer(file: Buffer, options: ReadOptions = {}): Generator<ReadEvent> {
  checkMagic(file.length >= 4 ? file.subarray(0, 4) : undefined, file.length);
  const splitter = new EventSplitter(4);
  splitter.push(file.subarray(4));
  const decoder = new EventDecoder(options);
  for (let raw = splitter.nextEvent(); raw !== undefined; raw = splitter.nextEvent()) yield decoder.decode(raw);
  splitter.finish();
}
