/**
 * The append messages a leader has sent a follower and not yet seen acknowledged, as the last index
 * each carried and its payload bytes. A full window pauses optimistic replication to that
 * follower, which bounds both the memory a slow follower costs and the data re-sent after a loss.
 * The window is full at `capacity` messages or, when `maxBytes` is set, once the messages in it
 * carry `maxBytes` of entry data or more (a single message larger than that still goes alone).
 */
import { RaftError } from "./errors.ts";

export class Inflights {
  readonly capacity: number;
  /** Payload bytes that fill the window; 0 for no byte limit. */
  readonly maxBytes: number;
  private readonly buffer: number[];
  private readonly sizes: number[];
  private start = 0;
  private count = 0;
  private totalBytes = 0;

  constructor(capacity: number, maxBytes = 0) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RaftError("RAFT_INVALID_CONFIG", `inflight window must be at least 1, got ${capacity}`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RaftError("RAFT_INVALID_CONFIG", `inflight bytes must be a non-negative integer, got ${maxBytes}`);
    this.capacity = capacity;
    this.maxBytes = maxBytes;
    this.buffer = new Array<number>(capacity).fill(0);
    this.sizes = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  /** Payload bytes of the messages in the window. */
  get bytes(): number {
    return this.totalBytes;
  }

  full(): boolean {
    return this.count === this.capacity || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }

  /** Records a message whose last entry is `lastIndex`, carrying `bytes` of entry data; indexes only grow. */
  add(lastIndex: number, bytes = 0): void {
    if (this.full()) throw new RaftError("RAFT_INVARIANT", "added to a full inflight window");
    if (this.count > 0 && lastIndex < this.buffer[(this.start + this.count - 1) % this.capacity]!) {
      throw new RaftError("RAFT_INVARIANT", `inflight index ${lastIndex} below the previous one`);
    }
    const at = (this.start + this.count) % this.capacity;
    this.buffer[at] = lastIndex;
    this.sizes[at] = bytes;
    this.totalBytes += bytes;
    this.count++;
  }

  /** Forgets every message acknowledged by an append response for `index`. */
  freeLE(index: number): void {
    while (this.count > 0 && this.buffer[this.start]! <= index) this.freeFirstOne();
  }

  freeFirstOne(): void {
    if (this.count === 0) return;
    this.totalBytes -= this.sizes[this.start]!;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.totalBytes = 0;
  }
}
