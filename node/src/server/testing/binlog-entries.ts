/**
 * Test and bench helper: turns real binlog files into the Raft entries the syncer would commit for
 * them (the syncer's own assembler and batcher, fed the files' events as a dump would deliver them:
 * a fake ROTATE naming each file, then its events), so a LogStore can be filled with a real binlog
 * without a primary. Small entries make fragments out of large transactions.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { buildEvent } from "../../binlog/build.ts";
import { ChecksumAlgorithm } from "../../binlog/checksum.ts";
import { EventFlag } from "../../binlog/event-type.ts";
import { defaultFormat } from "../../binlog/format.ts";
import { encodeFragment } from "../../log-entry/format.ts";
import { EntryType, type Entry } from "../../raft/types.ts";
import { TransactionAssembler, type StoredProgress } from "../../syncer/assembler.ts";
import { EntryBatcher } from "../../syncer/batcher.ts";

export interface BinlogEntriesOptions {
  /** Payload bytes per entry (default 1 MiB, the syncer's). */
  maxEntryBytes?: number;
  /** Index of the first entry (default 1). */
  firstIndex?: number;
  term?: number;
  /** Entries per flush (default: a flush after every file, and when an entry is full). */
  flushEvery?: number;
}

/** The fake ROTATE a primary sends before a file's events. */
function fakeRotate(file: string): Buffer {
  return buildEvent({ kind: "rotate", position: 4n, nextFile: file }, { timestamp: 0, serverId: 1, logPos: 0, flags: EventFlag.ARTIFICIAL }, defaultFormat(ChecksumAlgorithm.OFF)).bytes;
}

/** The events of a binlog file, by their headers (the file must be whole). */
export function fileEvents(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 4; at + 19 <= bytes.length; ) {
    const size = bytes.readUInt32LE(at + 9);
    if (size < 19 || at + size > bytes.length) break;
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** The payloads the syncer would propose for these files, in order. */
export function binlogPayloads(files: ReadonlyArray<{ name: string; bytes: Buffer }>, options: BinlogEntriesOptions = {}): Buffer[] {
  const batcher = new EntryBatcher({ maxEntryBytes: options.maxEntryBytes ?? 1024 * 1024 });
  const out: Buffer[] = [];
  let position: StoredProgress["position"];
  let pending = 0;
  for (const file of files) {
    const stored: StoredProgress = { position, writerServerId: undefined, hasGtid: () => false };
    const assembler = new TransactionAssembler(stored, ChecksumAlgorithm.OFF);
    for (const event of [fakeRotate(file.name), ...fileEvents(file.bytes)]) {
      for (const item of assembler.push(event)) {
        for (const p of batcher.add(item)) out.push(p.data);
        pending++;
        if (options.flushEvery !== undefined && pending >= options.flushEvery) {
          const p = batcher.flush();
          if (p) out.push(p.data);
          pending = 0;
        }
        position = { file: item.item.file, pos: item.item.endPos };
      }
    }
    const p = batcher.flush();
    if (p) out.push(p.data);
    pending = 0;
  }
  return out;
}

export function binlogEntries(paths: readonly string[], options: BinlogEntriesOptions = {}): Entry[] {
  const files = paths.map((path) => ({ name: basename(path), bytes: readFileSync(path) }));
  return toEntries(binlogPayloads(files, options), options);
}

export function toEntries(payloads: readonly Buffer[], options: { firstIndex?: number; term?: number } = {}): Entry[] {
  const first = options.firstIndex ?? 1;
  return payloads.map((data, i) => ({ index: first + i, term: options.term ?? 1, type: EntryType.Normal, data }));
}

/** A run of fragments that never ends (a leader change mid-transaction): what the log may hold. */
export function abandonedRun(file: string, parts: number, bytes = 1000): Buffer[] {
  return Array.from({ length: parts }, (_, part) => encodeFragment({ first: part === 0, last: false, part, file, endPos: 0, timestamp: 0, gtid: undefined, bytes: Buffer.alloc(bytes, 0xee) }));
}
