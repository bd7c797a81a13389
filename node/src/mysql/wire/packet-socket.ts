/**
 * A TCP socket spoken in packets: reads whole payloads (split payloads joined), writes payloads
 * framed with the connection's sequence id, and respects backpressure: a write resolves once the
 * socket has taken the bytes into its buffer, and waits for 'drain' when socket.write() said the
 * buffer is full. A dump session that awaits each write therefore never holds more than one
 * socket buffer of events in memory, however slow the replica.
 *
 * Sequence ids: every payload read must carry the id this side expects (the one after the last
 * packet written or read); `resetSequence()` starts a new command at 0.
 */
import type { Socket } from "node:net";
import { WireError } from "./errors.ts";
import { MAX_PACKET_PAYLOAD } from "./constants.ts";
import { framePayload, PACKET_HEADER_LENGTH, PacketParser } from "./packet.ts";
import { sharedStages, type StagePool } from "./stage-pool.ts";

export interface PacketSocketOptions {
  /** Largest payload accepted from the peer (max_allowed_packet). Default 64 MiB. */
  maxPayload?: number;
  /** Largest packet payload before a split; only tests change it. Default 0xFFFFFF. */
  maxPacketPayload?: number;
  /** Where staging buffers come from and go back to (default: the process's shared pool). */
  stages?: StagePool;
}

/** Payloads written by reference (writePartsNow's `byReference`) when larger than this; smaller ones are staged. */
const BY_REFERENCE_MIN = 2 * 1024;

type Waiter = { resolve: (payload: Buffer) => void; reject: (error: Error) => void; unsequenced?: boolean };

export class PacketSocket {
  readonly socket: Socket;
  /** The id of the next packet, in either direction. */
  sequenceId = 0;
  private readonly parser: PacketParser;
  private readonly maxPacketPayload: number | undefined;
  private readonly queue: Buffer[] = [];
  /** The sequence ids of the queued payloads: checked when they are read, in order. */
  private readonly sequenceIds: Array<{ first: number; packets: number }> = [];
  private readonly waiters: Waiter[] = [];
  private failure: Error | undefined;
  private closedFlag = false;
  /** Resolves when the socket has closed (for any reason). */
  readonly closed: Promise<void>;

  constructor(socket: Socket, options: PacketSocketOptions = {}) {
    this.socket = socket;
    this.maxPacketPayload = options.maxPacketPayload;
    this.stages = options.stages ?? sharedStages;
    this.parser = new PacketParser({ maxPayload: options.maxPayload, maxPacketPayload: options.maxPacketPayload });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => this.fail(new WireError("WIRE_CLOSED", `connection failed: ${error.message}`, { cause: error })));
    socket.on("close", () => {
      this.closedFlag = true;
      this.fail(new WireError("WIRE_CLOSED", "connection closed by the peer"));
    });
  }

  get isClosed(): boolean {
    return this.closedFlag || this.socket.destroyed;
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    this.parser.push(chunk);
    try {
      for (let received = this.parser.next(); received !== undefined; received = this.parser.next()) {
        this.deliver(received.payload, received.sequenceId, received.packets);
      }
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private deliver(payload: Buffer, first: number, packets: number): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      this.accept(payload, first, packets, waiter);
      return;
    }
    this.queue.push(payload);
    this.sequenceIds.push({ first, packets });
  }

  private accept(payload: Buffer, first: number, packets: number, waiter: Waiter): void {
    if (waiter.unsequenced) {
      waiter.resolve(payload);
      return;
    }
    if (first !== this.sequenceId) {
      const error = new WireError("WIRE_OUT_OF_ORDER", `got packet ${first}, expected ${this.sequenceId}`);
      waiter.reject(error);
      return;
    }
    this.sequenceId = (first + packets) & 0xff;
    waiter.resolve(payload);
  }

  private fail(error: Error): void {
    if (!this.failure) this.failure = error;
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
  }

  /** The next payload; rejects with WireError when the connection closes or misbehaves. */
  read(): Promise<Buffer> {
    const payload = this.queue.shift();
    if (payload !== undefined) {
      const { first, packets } = this.sequenceIds.shift()!;
      return new Promise((resolve, reject) => this.accept(payload, first, packets, { resolve, reject }));
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /**
   * The next payload whatever its sequence id, which is neither checked nor counted: what a
   * semi-sync replica sends during a dump (its acks start at 0 while the dump's packets go on).
   */
  readUnsequenced(): Promise<Buffer> {
    const payload = this.queue.shift();
    if (payload !== undefined) {
      this.sequenceIds.shift();
      return Promise.resolve(payload);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject, unsequenced: true }));
  }

  /** Like read(), but rejects with WIRE_TIMEOUT when nothing arrives within `ms` (and the packet is not lost if it comes later). */
  readWithin(ms: number): Promise<Buffer> {
    if (this.queue.length > 0 || this.failure) return this.read();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (payload) => {
          clearTimeout(timer);
          resolve(payload);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new WireError("WIRE_TIMEOUT", `no packet within ${ms} ms`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  /** Starts a new command: the next packet in either direction has id 0. */
  resetSequence(): void {
    this.sequenceId = 0;
  }

  /** Writes one payload (split when large) and waits while the socket's buffer is full. */
  write(payload: Uint8Array): Promise<void> {
    return this.writeAll([payload]);
  }

  /** Writes several payloads in one go (a result set): one syscall, one wait for drain at most. */
  writeAll(payloads: readonly Uint8Array[]): Promise<void> {
    if (this.isClosed) return Promise.reject(this.failure ?? new WireError("WIRE_CLOSED", "connection is closed"));
    this.flush();
    let ok = true;
    this.socket.cork();
    for (const payload of payloads) {
      const framed = framePayload(payload, this.sequenceId, this.maxPacketPayload);
      this.sequenceId = framed.nextSequenceId;
      for (const chunk of framed.chunks) ok = this.socket.write(chunk);
    }
    this.socket.uncork();
    return ok ? Promise.resolve() : this.drained();
  }

  /**
   * Writes one payload given in parts (a dump's `0x00` + event). The bytes are copied, with their
   * packet header, into a staging buffer (a payload larger than one gets a buffer of its own), so
   * the caller may reuse its buffers as soon as this returns: a dump hands out views of a read
   * buffer it fills again for the next read. What one turn of the event loop writes leaves in a
   * few large writes, not a write of three pieces per event. The staged bytes are sent when the
   * turn ends, when the staging buffer is full, or before anything else is written; when the
   * socket's own buffer is then over its high-water mark, the caller waits for 'drain'.
   */
  writeParts(parts: readonly Uint8Array[]): Promise<void> {
    return this.writePartsNow(parts) ?? Promise.resolve();
  }

  /**
   * writeParts() that answers undefined when the bytes were taken at once (no promise made: the
   * hot path of a dump). With `byReference`, a payload over BY_REFERENCE_MIN bytes is not copied
   * but queued as it is behind a header of its own: for bytes that never change (a cache many
   * dumps share), where a copy per replica would be garbage once a slow replica's socket is full.
   */
  writePartsNow(parts: readonly Uint8Array[], byReference = false): Promise<void> | undefined {
    let total = 0;
    for (const part of parts) total += part.length;
    const max = this.maxPacketPayload ?? MAX_PACKET_PAYLOAD;
    if (total >= max) {
      this.flush();
      return this.write(Buffer.concat(parts, total));
    }
    if (this.isClosed) return Promise.reject(this.failure ?? new WireError("WIRE_CLOSED", "connection is closed"));
    const sequenceId = this.sequenceId;
    this.sequenceId = (sequenceId + 1) & 0xff;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
    let ok = true;
    const length = PACKET_HEADER_LENGTH + total;
    if (byReference && total > BY_REFERENCE_MIN) {
      ok = this.sendStage();
      // The header with the payload's first part when that is small (the dump's 0x00): one piece less.
      const first = parts[0];
      const joinFirst = first !== undefined && first.length <= 16;
      const header = Buffer.allocUnsafe(PACKET_HEADER_LENGTH + (joinFirst ? first.length : 0));
      header.writeUIntLE(total, 0, 3);
      header[3] = sequenceId;
      if (joinFirst) header.set(first, PACKET_HEADER_LENGTH);
      this.socket.cork();
      ok = this.socket.write(header) && ok;
      for (let i = joinFirst ? 1 : 0; i < parts.length; i++) if (parts[i]!.length > 0) ok = this.socket.write(parts[i]!);
      this.socket.uncork();
      if (ok && !this.socket.writableNeedDrain) return undefined;
      this.flush();
      return this.drained();
    }
    let packet: Buffer;
    if (length <= this.stages.bufferBytes) {
      if (this.stage === undefined || this.staged + length > this.stage.length) {
        ok = this.sendStage();
        this.stage = this.stages.take();
      }
      packet = this.stage.subarray(this.staged, this.staged + length);
      this.staged += length;
    } else {
      ok = this.sendStage();
      packet = Buffer.allocUnsafe(length);
    }
    packet.writeUIntLE(total, 0, 3);
    packet[3] = sequenceId;
    let at = PACKET_HEADER_LENGTH;
    for (const part of parts) {
      packet.set(part, at);
      at += part.length;
    }
    if (length > this.stages.bufferBytes) ok = this.socket.write(packet) && ok;
    if (ok && !this.socket.writableNeedDrain) return undefined;
    this.flush();
    return this.drained();
  }

  /** Sends what writeParts() staged. */
  flush(): void {
    this.sendStage();
  }

  /** The staged bytes to the socket; false when its buffer is then over the high-water mark. */
  private sendStage(): boolean {
    const stage = this.stage;
    if (this.staged === 0 || stage === undefined) return true;
    const bytes = stage.subarray(0, this.staged);
    this.stage = undefined;
    this.staged = 0;
    // Once written (the kernel has the bytes) the buffer serves again: a dump at full speed
    // allocates no new staging buffers. Usually the kernel takes the bytes at once, which an empty
    // write queue tells right away; the write's callback would only come after the dump's loop
    // yields, which it may not do for many buffers.
    let reused = false;
    const ok = this.socket.write(bytes, () => {
      if (!reused) this.stages.give(stage);
    });
    if (this.socket.writableLength === 0 && !this.socket.writableCorked) {
      reused = true;
      this.stages.give(stage);
    }
    return ok;
  }

  private stage: Buffer | undefined;
  private staged = 0;
  private readonly stages: StagePool;
  private flushScheduled = false;
  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private drained(): Promise<void> {
    // 'drain' comes only after a write found the buffer over its high-water mark.
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.socket.off("close", onClose);
        resolve();
      };
      const onClose = (): void => {
        this.socket.off("drain", onDrain);
        reject(this.failure ?? new WireError("WIRE_CLOSED", "connection closed while writing"));
      };
      this.socket.once("drain", onDrain);
      this.socket.once("close", onClose);
    });
  }

  /** Ends the connection after what was written is flushed; destroys it if the peer lingers. */
  async end(graceMs = 2000): Promise<void> {
    if (this.socket.destroyed) return;
    this.flush();
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    timer.unref();
    await this.closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
