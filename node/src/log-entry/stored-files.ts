/**
 * The primary's files as the log holds them: every stored event, file by file, in order. A
 * fragmented transaction joins its file only once its last fragment is there; an abandoned run
 * of fragments never does. Used to compare the store with the primary's own binlog files (and
 * by anything that reads a stored file from its beginning).
 */
import { EntryType, type Entry } from "../raft/types.ts";
import { decodeEntry, isLogEntry } from "./format.ts";

export class StoredFiles {
  /** File name → the chunks of its events, in order. */
  readonly files = new Map<string, Buffer[]>();
  private fragments: Buffer[] = [];

  add(entry: Entry): void {
    if (entry.type !== EntryType.Normal || !isLogEntry(entry.data)) return;
    const p = decodeEntry(entry.data);
    if (p.kind === "control") return;
    if (p.kind === "batch") {
      this.fragments = [];
      for (const it of p.items) this.push(it.file, Buffer.from(it.kind === "transaction" ? it.events : it.event));
      return;
    }
    if (p.first) this.fragments = [];
    else if (p.part !== this.fragments.length) {
      this.fragments = [];
      return;
    }
    this.fragments.push(Buffer.from(p.bytes));
    if (p.last) {
      for (const f of this.fragments) this.push(p.file, f);
      this.fragments = [];
    }
  }

  /** A file's stored events, concatenated (without the 4-byte binlog magic). */
  bytes(file: string): Buffer {
    return Buffer.concat(this.files.get(file) ?? []);
  }

  private push(file: string, bytes: Buffer): void {
    let list = this.files.get(file);
    if (!list) this.files.set(file, (list = []));
    list.push(bytes);
  }
}
