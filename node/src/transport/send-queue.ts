/**
 * The bounded queue of messages waiting for one peer. Raft tolerates lost messages but not a
 * sender that blocks or grows without bound while a peer is down, so a push never waits: past the
 * bounds the oldest message that is not essential is dropped (election and leadership-transfer
 * messages are essential: rare, small, and costly to lose). Dropping never reorders what is kept.
 */

export interface QueueLimits {
  maxMessages: number;
  maxBytes: number;
}

interface Slot<T> {
  item: T;
  bytes: number;
  essential: boolean;
}

// A slot taken or dropped from the front: the array keeps its place until compaction, never the
// message (which may pin megabytes of entries).
const GONE = undefined as unknown as Slot<never>;

export class SendQueue<T> {
  readonly #limits: QueueLimits;
  #slots: Slot<T>[] = [];
  // Taking from the front advances `#head` and clears the slot (a queue that never empties under
  // load would otherwise keep every message it sent until the next compaction: up to a thousand
  // append messages, hundreds of megabytes); the array is compacted once the dead prefix dominates.
  #head = 0;
  #bytes = 0;
  #dropped = 0;

  constructor(limits: QueueLimits) {
    this.#limits = limits;
  }

  get length(): number {
    return this.#slots.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Messages dropped to keep the bounds since the queue was made. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Appends; returns how many queued messages were dropped to make room (possibly this one). */
  push(item: T, bytes: number, essential: boolean): number {
    this.#slots.push({ item, bytes, essential });
    this.#bytes += bytes;
    let dropped = 0;
    while (this.length > this.#limits.maxMessages || this.#bytes > this.#limits.maxBytes) {
      this.#dropOldest();
      dropped++;
    }
    this.#dropped += dropped;
    return dropped;
  }

  /** The oldest messages whose sizes add up to at most `maxBytes`, and always at least one. */
  take(maxBytes: number): T[] {
    const taken: T[] = [];
    let size = 0;
    while (this.#head < this.#slots.length) {
      const slot = this.#slots[this.#head]!;
      if (taken.length > 0 && size + slot.bytes > maxBytes) break;
      taken.push(slot.item);
      size += slot.bytes;
      this.#slots[this.#head++] = GONE;
    }
    this.#bytes -= size;
    this.#compact();
    return taken;
  }

  /** Empties the queue; the messages are not counted as dropped (the peer is going away). */
  clear(): void {
    this.#slots = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #dropOldest(): void {
    let at = this.#head;
    while (at < this.#slots.length && this.#slots[at]!.essential) at++;
    if (at === this.#slots.length) at = this.#head;
    this.#bytes -= this.#slots[at]!.bytes;
    if (at === this.#head) this.#slots[this.#head++] = GONE;
    else this.#slots.splice(at, 1);
    this.#compact();
  }

  #compact(): void {
    if (this.#head === this.#slots.length) {
      this.#slots = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#slots.length) {
      this.#slots = this.#slots.slice(this.#head);
      this.#head = 0;
    }
  }
}
