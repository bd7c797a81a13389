/**
 * Packet framing: `u24 payload length, u8 sequence id, payload`. A payload of 0xFFFFFF bytes or
 * more is split into packets of 0xFFFFFF bytes plus a shorter last one; when the payload ends
 * exactly on a multiple of 0xFFFFFF, an empty packet follows so the reader knows it is over. Every
 * packet of a split payload takes the next sequence id.
 *
 * Pure functions and an incremental parser: no socket here (packet-socket.ts owns the socket).
 */
import { MAX_PACKET_PAYLOAD } from "./constants.ts";
import { WireError } from "./errors.ts";

export const PACKET_HEADER_LENGTH = 4;

export interface FramedPayload {
  /** Headers and payload slices, in order; write them as they are (no copy of the payload). */
  chunks: Buffer[];
  /** How many packets the payload took. */
  packets: number;
  /** The sequence id after the last packet (mod 256). */
  nextSequenceId: number;
  /** Total bytes of the chunks. */
  length: number;
}

/** Cuts a payload into packets numbered from `firstSequenceId` (mod 256). */
export function framePayload(payload: Uint8Array, firstSequenceId: number, maxPacketPayload = MAX_PACKET_PAYLOAD): FramedPayload {
  const source = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const chunks: Buffer[] = [];
  let sequenceId = firstSequenceId & 0xff;
  let offset = 0;
  let packets = 0;
  while (true) {
    const length = Math.min(maxPacketPayload, source.length - offset);
    const header = Buffer.allocUnsafe(PACKET_HEADER_LENGTH);
    header.writeUIntLE(length, 0, 3);
    header[3] = sequenceId;
    chunks.push(header);
    if (length > 0) chunks.push(source.subarray(offset, offset + length));
    packets++;
    sequenceId = (sequenceId + 1) & 0xff;
    offset += length;
    if (length < maxPacketPayload) break;
  }
  return { chunks, packets, nextSequenceId: sequenceId, length: source.length + packets * PACKET_HEADER_LENGTH };
}

/** One payload as received: its first packet's sequence id and how many packets carried it. */
export interface ReceivedPayload {
  payload: Buffer;
  sequenceId: number;
  packets: number;
}

/**
 * Incremental reader of packets: feed socket chunks, take whole payloads (a split payload is joined
 * once it is complete). A continuation packet whose sequence id does not follow is refused, as is a
 * payload larger than `maxPayload`.
 */
export class PacketParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private headPos = 0;
  /** Parts of a payload split over packets, until its last packet arrives. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private firstSequenceId = 0;
  private lastSequenceId = 0;
  private readonly maxPayload: number;
  private readonly maxPacketPayload: number;

  constructor(options: { maxPayload?: number; maxPacketPayload?: number } = {}) {
    this.maxPayload = options.maxPayload ?? 64 * 1024 * 1024;
    this.maxPacketPayload = options.maxPacketPayload ?? MAX_PACKET_PAYLOAD;
  }

  get pendingBytes(): number {
    return this.buffered + this.partsLength;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

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

  /** The next whole payload, or undefined until more bytes arrive. */
  next(): ReceivedPayload | undefined {
    while (true) {
      const header = this.peek(PACKET_HEADER_LENGTH);
      if (header === undefined) return undefined;
      const length = header.readUIntLE(0, 3);
      const sequenceId = header[3]!;
      const continuing = this.parts.length > 0;
      if (continuing && sequenceId !== ((this.lastSequenceId + 1) & 0xff)) {
        throw new WireError("WIRE_OUT_OF_ORDER", `packet ${sequenceId} continues a payload whose last packet was ${this.lastSequenceId}`);
      }
      if (this.partsLength + length > this.maxPayload) {
        throw new WireError("WIRE_TOO_LARGE", `payload of more than ${this.maxPayload} bytes (max_allowed_packet)`);
      }
      const whole = this.peek(PACKET_HEADER_LENGTH + length);
      if (whole === undefined) return undefined;
      const body = whole.subarray(PACKET_HEADER_LENGTH);
      this.consume(PACKET_HEADER_LENGTH + length);
      if (!continuing) this.firstSequenceId = sequenceId;
      this.lastSequenceId = sequenceId;
      if (length === this.maxPacketPayload) {
        this.parts.push(body);
        this.partsLength += length;
        continue;
      }
      if (!continuing) return { payload: body, sequenceId, packets: 1 };
      this.parts.push(body);
      const payload = Buffer.concat(this.parts, this.partsLength + length);
      const packets = this.parts.length;
      this.parts = [];
      this.partsLength = 0;
      return { payload, sequenceId: this.firstSequenceId, packets };
    }
  }
}
