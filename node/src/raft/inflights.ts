/**
 * The append messages a leader has sent a follower and not yet seen acknowledged, as the last index
 * each carried. A full window pauses optimistic replication to that follower, which bounds both the
 * memory a slow follower costs and the data re-sent after a loss.
 */
import { RaftError } from "./errors.ts";

export class Inflights {
  readonly capacity: number;
  private readonly buffer: number[];
  private start = 0;
  private count = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RaftError("RAFT_INVALID_CONFIG", `inflight window must be at least 1, got ${capacity}`);
    this.capacity = capacity;
    this.buffer = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  full(): boolean {
    return this.count === this.capacity;
  }

  /** Records a message whose last entry is `lastIndex`; indexes only grow. */
  add(lastIndex: number): void {
    if (this.full()) throw new RaftError("RAFT_INVARIANT", "added to a full inflight window");
    if (this.count > 0 && lastIndex < this.buffer[(this.start + this.count - 1) % this.capacity]!) {
      throw new RaftError("RAFT_INVARIANT", `inflight index ${lastIndex} below the previous one`);
    }
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Forgets every message acknowledged by an append response for `index`. */
  freeLE(index: number): void {
    while (this.count > 0 && this.buffer[this.start]! <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  freeFirstOne(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}
