/**
 * Writes lines to a stream in batches, waiting for 'drain' when the stream is full, so that a
 * large listing piped into `head` or a slow pager neither floods memory nor loses lines.
 */
import type { Writable } from "node:stream";
import { once } from "node:events";

const BATCH_BYTES = 64 * 1024;

export class LineWriter {
  private pending: string[] = [];
  private pendingLength = 0;
  private readonly stream: Writable;

  constructor(stream: Writable) {
    this.stream = stream;
  }

  async line(text: string): Promise<void> {
    this.pending.push(text);
    this.pendingLength += text.length + 1;
    if (this.pendingLength >= BATCH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join("\n") + "\n";
    this.pending = [];
    this.pendingLength = 0;
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }
}
