/**
 * The consumer's side of a binlog dump: an async iterable of whole events with bounded buffering,
 * the semi-sync ack, and the heartbeat watchdog.
 *
 * Flow control: packets arrive as fast as the primary sends them; events wait in a queue until the
 * consumer takes them. When the queue holds `highWaterBytes` or more, the socket is paused (TCP then
 * pushes back on the primary's dump thread); when the consumer has taken it down to half, the
 * socket resumes. Memory is bounded by the high-water mark plus one event plus one socket read.
 *
 * Watchdog: the protocol has no read timeout of its own. The primary sends a heartbeat after
 * every heartbeat period without events, so silence for 2 periods means the primary or the link is
 * stuck: the stream fails with HeartbeatTimeoutError and the connection is destroyed. Time the
 * socket spends paused for our own consumer does not count. Until the primary has found the start
 * (see endsStartup) the allowance is `startTimeoutMs`, because a primary scanning a large binlog for
 * the replica's GTID position sends nothing, heartbeats included.
 *
 * Endings: an error (error packet, disconnect, watchdog) is thrown by the iterator after the events
 * received before it, so nothing that arrived is lost; close() (or leaving a for-await loop) ends
 * the iteration at once and drops what is queued.
 */
import { performance } from "node:perf_hooks";
import { HeartbeatTimeoutError, PrimaryStateError } from "./errors.ts";
import { decodeEventPacket, encodeSemiSyncAck, framePayload } from "./packets.ts";
import { endsStartup, isArtificialEvent, isHeartbeatEvent } from "./events.ts";

export interface DumpedEvent {
  /** Exactly the event: header through checksum, without the packet's 0x00 or semi-sync prefix. */
  bytes: Buffer;
  /** Semi-sync: the primary waits for ack(file, this event's log_pos) before its commit returns. */
  ackRequested: boolean;
  /**
   * A HEARTBEAT (or HEARTBEAT_V2) event: the link is alive, its body names the primary's current
   * file and its log_pos is the primary's current position. Yielded so the consumer can follow
   * the primary's position while idle; never part of a transaction, never stored.
   */
  heartbeat: boolean;
  /** Made up by the primary for this session (fake ROTATE, fake GTID_LIST, heartbeats). */
  artificial: boolean;
}

/** What the stream needs from the connection underneath. */
export interface DumpTransport {
  pause(): void;
  resume(): void;
  /** Writes bytes as they are (already framed). */
  write(bytes: Buffer): void;
  /** Closes the connection hard; resolves once the socket is closed. */
  destroy(): Promise<void>;
}

export interface DumpStreamOptions {
  semiSync: boolean;
  /** 0: no heartbeats were asked for, no watchdog. */
  heartbeatPeriodMs: number;
  /** Allowance for silence until the primary has found the start; at least 2 heartbeat periods. */
  startTimeoutMs: number;
  /** Queue size (bytes of events) at which the socket is paused. */
  highWaterBytes: number;
}

export const DEFAULT_HIGH_WATER_BYTES = 16 * 1024 * 1024;

/** A socket read buffer this much larger than the event it holds is not kept alive by a view. */
const COPY_SLACK = 4096;

export class BinlogDumpStream implements AsyncIterable<DumpedEvent> {
  /** Whether events carry the semi-sync header and ack() may be called. */
  readonly semiSync: boolean;
  readonly #transport: DumpTransport;
  readonly #periodMs: number;
  readonly #startTimeoutMs: number;
  readonly #highWater: number;
  readonly #lowWater: number;
  #queue: DumpedEvent[] = [];
  #head = 0;
  #bufferedBytes = 0;
  #paused = false;
  #started = false;
  /** Set once: the error the iterator throws after the queue is drained. */
  #failure: Error | undefined;
  #failureThrown = false;
  #closed = false;
  #finished = false;
  #destroyed: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #lastPacketAt = performance.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(transport: DumpTransport, options: DumpStreamOptions) {
    this.#transport = transport;
    this.semiSync = options.semiSync;
    this.#periodMs = options.heartbeatPeriodMs;
    this.#startTimeoutMs = Math.max(options.startTimeoutMs, 2 * options.heartbeatPeriodMs);
    this.#highWater = Math.max(1, options.highWaterBytes);
    this.#lowWater = Math.floor(this.#highWater / 2);
    if (this.#periodMs > 0) this.#arm(this.#startTimeoutMs);
  }

  /** Bytes of events received and not yet taken by the consumer. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** True once the stream has ended (closed, finished, or failed and the error is known). */
  get ended(): boolean {
    return this.#closed || this.#failure !== undefined || this.#finished;
  }

  /**
   * The primary said the dump is complete (EOF of a non-blocking dump): the events queued are still
   * handed out, then the iteration ends without an error.
   */
  finish(): void {
    if (this.ended) return;
    this.#finished = true;
    this.#stopTimer();
    this.#destroyed = this.#transport.destroy();
    this.#wakeConsumer();
  }

  /**
   * Called by the dump command for every 0x00 packet. The payload is a view into a socket read
   * (up to 64 KiB holding many packets) or, for a payload that spanned reads or packets, into a
   * buffer of its own. Small events are copied out, so a queued event never pins a whole read
   * buffer and bufferedBytes measures what is really held.
   */
  receivePacket(payload: Buffer): void {
    this.#lastPacketAt = performance.now();
    if (this.ended) return;
    let decoded;
    try {
      decoded = decodeEventPacket(payload, this.semiSync);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    const view = decoded.event;
    const bytes = view.buffer.byteLength > view.length + COPY_SLACK ? Buffer.from(view) : view;
    const heartbeat = isHeartbeatEvent(bytes);
    if (!this.#started && endsStartup(bytes)) {
      this.#started = true;
      // From now on the allowance is 2 periods: re-arm rather than wait out the start-up allowance.
      if (this.#periodMs > 0) {
        this.#stopTimer();
        this.#arm(2 * this.#periodMs);
      }
    }
    this.#queue.push({ bytes, ackRequested: decoded.ackRequested, heartbeat, artificial: isArtificialEvent(bytes) });
    this.#bufferedBytes += bytes.length;
    if (this.#bufferedBytes >= this.#highWater && !this.#paused) {
      this.#paused = true;
      this.#transport.pause();
    }
    this.#wakeConsumer();
  }

  /** Ends the stream with an error (kept for the iterator) and destroys the connection. */
  fail(error: Error): void {
    if (this.ended) return;
    this.#failure = error;
    this.#stopTimer();
    this.#destroyed = this.#transport.destroy();
    this.#wakeConsumer();
  }

  /**
   * Semi-sync ack for the event that asked for it: `fileName` is the primary's binlog file the event
   * is in (from the last ROTATE), `position` that event's log_pos. Sent as its own packet with
   * sequence id 0, interleaved with the primary's stream.
   */
  ack(fileName: string, position: bigint | number): void {
    if (!this.semiSync) throw new PrimaryStateError("ack() on a dump without semi-sync");
    if (this.ended) throw new PrimaryStateError("ack() on a dump that has ended");
    this.#transport.write(framePayload(encodeSemiSyncAck(fileName, position), 0).bytes);
  }

  /** Ends the stream now, drops queued events and closes the connection. Safe to call twice. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#stopTimer();
      this.#queue = [];
      this.#head = 0;
      this.#bufferedBytes = 0;
      this.#destroyed ??= this.#transport.destroy();
      this.#wakeConsumer();
    }
    return this.#destroyed ?? Promise.resolve();
  }

  async next(): Promise<IteratorResult<DumpedEvent, undefined>> {
    while (true) {
      if (this.#closed) return { done: true, value: undefined };
      if (this.#head < this.#queue.length) return { done: false, value: this.#take() };
      if (this.#finished) return { done: true, value: undefined };
      if (this.#failure !== undefined) {
        if (this.#failureThrown) return { done: true, value: undefined };
        this.#failureThrown = true;
        throw this.#failure;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<DumpedEvent, undefined> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #take(): DumpedEvent {
    const event = this.#queue[this.#head]!;
    this.#queue[this.#head++] = undefined as unknown as DumpedEvent;
    // Compact now and then rather than shift() per event.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#bufferedBytes -= event.bytes.length;
    if (this.#paused && this.#bufferedBytes <= this.#lowWater && !this.ended) {
      this.#paused = false;
      // Our own pause is not the primary's silence.
      this.#lastPacketAt = performance.now();
      // May hand queued packets to receivePacket (and pause again) before returning.
      this.#transport.resume();
    }
    return event;
  }

  #wakeConsumer(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #arm(delayMs: number): void {
    this.#timer = setTimeout(() => this.#check(), Math.max(1, delayMs));
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Runs when the allowance may have run out; re-arms for the rest when a packet came meanwhile. */
  #check(): void {
    this.#timer = undefined;
    if (this.ended) return;
    const allowed = this.#started ? 2 * this.#periodMs : this.#startTimeoutMs;
    if (this.#paused) {
      this.#arm(allowed);
      return;
    }
    const silent = performance.now() - this.#lastPacketAt;
    if (silent >= allowed) {
      this.fail(new HeartbeatTimeoutError(silent, allowed));
      return;
    }
    this.#arm(allowed - silent);
  }
}
