/**
 * Staging buffers shared by every connection of a process (PacketSocket.writeParts copies packets
 * into them). A buffer comes back once its socket has written it, to whichever connection needs
 * one next. Kept per connection instead, a replica whose socket stays full (a hundred of them
 * catching up at once) had more staging buffers in flight than it kept, and each drain allocated
 * fresh ones: 128 KiB the allocator maps and V8 counts as external memory, and the full
 * collections that follow took 14% of a pod serving 100 replicas. At most `maxKept` bytes wait
 * here unused; buffers in flight are the sockets' own buffers, which backpressure bounds.
 */
export class StagePool {
  readonly bufferBytes: number;
  readonly #maxKept: number;
  readonly #free: Buffer[] = [];
  /** Buffers allocated because none was free (a test counts them). */
  allocated = 0;

  constructor(bufferBytes: number, maxKeptBytes: number) {
    this.bufferBytes = bufferBytes;
    this.#maxKept = Math.max(0, Math.floor(maxKeptBytes / bufferBytes));
  }

  take(): Buffer {
    const reused = this.#free.pop();
    if (reused) return reused;
    this.allocated++;
    return Buffer.allocUnsafe(this.bufferBytes);
  }

  /** Back in the pool: nothing may still read or write `buffer`. */
  give(buffer: Buffer): void {
    if (buffer.length === this.bufferBytes && this.#free.length < this.#maxKept) this.#free.push(buffer);
  }
}

/** Staging buffers: packets are copied into one and leave in large writes. */
const STAGE_BYTES = 128 * 1024;
/** The process's pool: 8 MiB waits at most, 64 buffers, what 64 full sockets hand back at once. */
export const sharedStages = new StagePool(STAGE_BYTES, 8 * 1024 * 1024);
