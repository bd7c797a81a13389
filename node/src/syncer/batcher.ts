/**
 * Packs assembled items into Raft proposals: as many whole items as fit one entry (one Raft round
 * and one fsync for the lot), and a transaction larger than an entry as a run of fragments. Pure;
 * the syncer decides when to flush (at once when the primary has nothing more queued, so a lone
 * transaction is not held back waiting for company).
 */
import { batchBaseSize, batchItemSize, encodeBatch, encodeFragment, type BatchItem } from "../log-entry/format.ts";
import type { AssembledItem } from "./assembler.ts";

export interface Proposal {
  readonly data: Buffer;
  /** Semi-sync acks owed once this proposal is committed: the primary file and end position. */
  readonly acks: ReadonlyArray<{ file: string; pos: number }>;
  /** Whole transactions this proposal completes. */
  readonly transactions: number;
  /** Header timestamp of its first item (for seconds behind the primary). */
  readonly timestamp: number;
  /** Where the stored stream stands once it is committed. */
  readonly end: { file: string; pos: number } | undefined;
}

export interface BatcherOptions {
  /** Payload bytes per entry; a transaction larger than this is fragmented. */
  maxEntryBytes: number;
}

export class EntryBatcher {
  private readonly maxEntryBytes: number;
  private items: AssembledItem[] = [];
  private files = new Set<string>();
  private size = 0;

  constructor(options: BatcherOptions) {
    this.maxEntryBytes = options.maxEntryBytes;
  }

  get pendingItems(): number {
    return this.items.length;
  }

  /** Adds an item; returns the proposals that became full (in order). */
  add(a: AssembledItem): Proposal[] {
    const itemBytes = batchItemSize(a.item);
    const fileBytes = this.files.has(a.item.file) ? 0 : batchBaseSize([a.item.file]) - batchBaseSize([]);
    const alone = batchBaseSize([a.item.file]) + itemBytes;
    if (alone > this.maxEntryBytes && a.item.kind === "transaction") {
      const pending = this.flush();
      return [...(pending ? [pending] : []), ...this.fragments(a)];
    }
    const out: Proposal[] = [];
    if (this.items.length > 0 && this.size + itemBytes + fileBytes > this.maxEntryBytes) {
      out.push(this.flush()!);
      return out.concat(this.add(a));
    }
    if (this.items.length === 0) this.size = batchBaseSize([]);
    this.items.push(a);
    this.files.add(a.item.file);
    this.size += itemBytes + fileBytes;
    return out;
  }

  /** The items gathered so far as one proposal (undefined when there are none). */
  flush(): Proposal | undefined {
    if (this.items.length === 0) return undefined;
    const items = this.items;
    this.items = [];
    this.files = new Set();
    this.size = 0;
    const last = items.at(-1)!.item;
    return {
      data: encodeBatch(items.map((a): BatchItem => a.item)),
      acks: items.filter((a) => a.ackRequested).map((a) => ({ file: a.item.file, pos: a.item.endPos })),
      transactions: items.filter((a) => a.item.kind === "transaction").length,
      timestamp: items[0]!.item.timestamp,
      end: { file: last.file, pos: last.endPos },
    };
  }

  private fragments(a: AssembledItem): Proposal[] {
    const item = a.item;
    if (item.kind !== "transaction") return [];
    // Room for the fragment's own fields next to its bytes.
    const chunk = Math.max(1, this.maxEntryBytes - 256 - Buffer.byteLength(item.file));
    const out: Proposal[] = [];
    const parts = Math.ceil(item.events.length / chunk);
    for (let part = 0; part < parts; part++) {
      const last = part === parts - 1;
      const bytes = item.events.subarray(part * chunk, Math.min(item.events.length, (part + 1) * chunk));
      out.push({
        data: encodeFragment({ first: part === 0, last, part, file: item.file, endPos: last ? item.endPos : 0, timestamp: item.timestamp, gtid: last ? item.gtid : undefined, bytes }),
        acks: last && a.ackRequested ? [{ file: item.file, pos: item.endPos }] : [],
        transactions: last ? 1 : 0,
        timestamp: item.timestamp,
        end: last ? { file: item.file, pos: item.endPos } : undefined,
      });
    }
    return out;
  }
}
