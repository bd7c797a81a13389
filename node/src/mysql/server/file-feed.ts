/**
 * A BinlogFeed over binlog files on disk: a MariaDB or MySQL data directory's binlog files (or
 * copies of them), or any list of binlog files of one server, oldest first. The set is static:
 * the files are scanned once when the feed opens (headers, GTID state, event offsets) and must not
 * change afterwards; a reader that reaches the end of the last file reports `caughtUp` and then
 * waits (idle, heartbeats are the session's business) until it is aborted.
 *
 * A torn event at the end of the last file (a copy taken while the server wrote) is left out: the
 * feed serves up to the last whole event. Damage anywhere else refuses to open.
 */
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { ChecksumAlgorithm } from "../../binlog/checksum.ts";
import { BinlogError } from "../../binlog/errors.ts";
import { flavorOf } from "../../binlog/format.ts";
import { MariadbGtidState, type MariadbGtid } from "../../binlog/gtid-mariadb.ts";
import { MysqlGtidSet, type MysqlGtid } from "../../binlog/gtid-mysql.ts";
import { EventSplitter, readBinlogStream } from "../../binlog/reader.ts";
import { gtidOfEvent } from "../../binlog/transactions.ts";
import { FeedError, type BinlogChecksumName, type BinlogFeed, type BinlogFlavor, type FeedFile, type FeedGtidState, type FeedItem, type FeedPosition } from "./feed.ts";

interface ScannedFile extends FeedFile {
  readonly path: string;
  /** Offsets of the events in the file (sorted), for position checks. */
  readonly offsets: readonly number[];
  readonly checksum: BinlogChecksumName;
}

export interface FileBinlogFeedOptions {
  /** Refuse files of another flavour (default: the flavour of the first file). */
  flavor?: BinlogFlavor;
}

export class FileBinlogFeed implements BinlogFeed {
  readonly flavor: BinlogFlavor;
  readonly #files: readonly ScannedFile[];
  readonly #state: FeedGtidState;

  private constructor(flavor: BinlogFlavor, files: readonly ScannedFile[], state: FeedGtidState) {
    this.flavor = flavor;
    this.#files = files;
    this.#state = state;
  }

  /** Opens the given binlog files, oldest first. */
  static async open(paths: readonly string[], options: FileBinlogFeedOptions = {}): Promise<FileBinlogFeed> {
    if (paths.length === 0) throw new FeedError("FEED_UNAVAILABLE", "no binlog files given");
    const names = new Set<string>();
    const scanned: ScannedFile[] = [];
    let flavor = options.flavor;
    const mysqlGtids: MysqlGtid[] = [];
    const mariadbState = MariadbGtidState.empty();
    for (const [i, path] of paths.entries()) {
      const name = basename(path);
      if (names.has(name)) throw new FeedError("FEED_UNAVAILABLE", `two binlog files are named ${name}`);
      names.add(name);
      const file = await scanFile(resolve(path), i === paths.length - 1, {
        onGtid: (gtid) => {
          if (gtid.flavor === "mysql") {
            if (!gtid.anonymous) mysqlGtids.push(gtid.tag ? { uuid: gtid.uuid, tag: gtid.tag, gno: gtid.gno } : { uuid: gtid.uuid, gno: gtid.gno });
          } else {
            mariadbState.record(gtid, { strict: false });
          }
        },
        onGtidList: (list) => {
          if (i === 0) for (const gtid of list) mariadbState.record(gtid, { strict: false });
        },
      });
      if (flavor === undefined) flavor = file.flavor;
      else if (file.flavor !== flavor) {
        throw new FeedError("FEED_UNAVAILABLE", `${path} was written by ${file.flavor === "mysql" ? "MySQL" : "MariaDB"}, the others by ${flavor === "mysql" ? "MySQL" : "MariaDB"}`);
      }
      scanned.push(file.scanned);
    }
    let state: FeedGtidState;
    if (flavor === "mysql") {
      const purged = scanned[0]!.previousGtids ?? MysqlGtidSet.empty();
      state = { flavor: "mysql", purged, executed: purged.union(MysqlGtidSet.fromGtids(mysqlGtids)).union(scanned.at(-1)!.previousGtids ?? MysqlGtidSet.empty()) };
    } else {
      state = { flavor: "mariadb", binlogState: mariadbState };
    }
    return new FileBinlogFeed(flavor!, scanned, state);
  }

  /**
   * Opens the binlog files of a directory: those its `*.index` file lists (as a server's data
   * directory has), else every file named `<base>.<digits>`, by name.
   */
  static async fromDirectory(dir: string, options: FileBinlogFeedOptions = {}): Promise<FileBinlogFeed> {
    const entries = await readdir(dir);
    const index = entries.filter((e) => e.endsWith(".index"));
    let names: string[];
    if (index.length === 1) {
      const text = await readFile(join(dir, index[0]!), "utf8");
      names = text.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => basename(l));
    } else {
      names = entries.filter((e) => /^.+\.\d{6,}$/.test(e)).sort();
      const bases = new Set(names.map((n) => n.replace(/\.\d+$/, "")));
      if (bases.size > 1) throw new FeedError("FEED_UNAVAILABLE", `${dir} holds binlogs of several names (${[...bases].join(", ")}): give the files`);
    }
    if (names.length === 0) throw new FeedError("FEED_UNAVAILABLE", `${dir} holds no binlog files`);
    return FileBinlogFeed.open(names.map((n) => join(dir, n)), options);
  }

  binlogChecksum(): BinlogChecksumName {
    return this.#files.at(-1)!.checksum;
  }

  async gtidState(): Promise<FeedGtidState> {
    return this.#state;
  }

  async files(): Promise<readonly FeedFile[]> {
    return this.#files.map(({ name, size, previousGtids, gtidList }) => ({
      name,
      size,
      ...(previousGtids ? { previousGtids } : {}),
      ...(gtidList ? { gtidList } : {}),
    }));
  }

  async *read(from: FeedPosition, signal: AbortSignal): AsyncGenerator<FeedItem> {
    const first = this.#files.findIndex((f) => f.name === from.file);
    if (first < 0) throw new FeedError("FEED_UNKNOWN_FILE", `no binlog file named ${from.file}`);
    const start = this.#files[first]!;
    if (from.position !== start.size && !hasOffset(start.offsets, from.position)) {
      throw new FeedError("FEED_BAD_POSITION", `position ${from.position} in ${start.name} is not the start of an event`);
    }
    for (let i = first; i < this.#files.length; i++) {
      const file = this.#files[i]!;
      const begin = i === first ? from.position : 4;
      if (signal.aborted) return;
      // The FDE first, whatever the start position.
      if (begin > 4) {
        for await (const item of readEvents(file, 4, file.offsets[1] ?? file.size, signal)) yield item;
      }
      for await (const item of readEvents(file, begin, file.size, signal)) yield item;
    }
    const last = this.#files.at(-1)!;
    yield { kind: "caughtUp", file: last.name, position: last.size };
    // A static set of files: nothing more will come. Wait until the reader goes away.
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }
}

function hasOffset(offsets: readonly number[], position: number): boolean {
  let lo = 0;
  let hi = offsets.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = offsets[mid]!;
    if (v === position) return true;
    if (v < position) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

async function* readEvents(file: ScannedFile, from: number, to: number, signal: AbortSignal): AsyncGenerator<FeedItem> {
  if (from >= to) return;
  const stream = createReadStream(file.path, { start: from, end: to - 1, highWaterMark: 256 * 1024 });
  const splitter = new EventSplitter(from);
  try {
    for await (const chunk of stream) {
      if (signal.aborted) return;
      splitter.push(chunk as Buffer);
      for (let raw = splitter.nextEvent(); raw !== undefined; raw = splitter.nextEvent()) {
        yield { kind: "event", file: file.name, offset: raw.offset, bytes: raw.bytes };
      }
    }
    splitter.finish();
  } catch (cause) {
    if (cause instanceof BinlogError) throw new FeedError("FEED_DAMAGED", `${file.name}: ${cause.message}`, { cause });
    throw cause;
  } finally {
    stream.destroy();
  }
}

interface ScanHooks {
  onGtid(gtid: NonNullable<ReturnType<typeof gtidOfEvent>>): void;
  onGtidList(list: MariadbGtid[]): void;
}

async function scanFile(path: string, last: boolean, hooks: ScanHooks): Promise<{ scanned: ScannedFile; flavor: BinlogFlavor }> {
  const info = await stat(path).catch((cause: unknown) => {
    throw new FeedError("FEED_UNAVAILABLE", `cannot read ${path}: ${(cause as Error).message}`, { cause });
  });
  const offsets: number[] = [];
  let size = info.size;
  let flavor: BinlogFlavor | undefined;
  let checksum: BinlogChecksumName = "NONE";
  let previousGtids: MysqlGtidSet | undefined;
  let gtidList: MariadbGtid[] | undefined;
  let headerDone = false;
  let end = 4;
  try {
    for await (const e of readBinlogStream(createReadStream(path))) {
      offsets.push(e.offset);
      end = e.offset + e.bytes.length;
      const body = e.event.body;
      if (body.kind === "formatDescription" && e.offset === 4) {
        flavor = flavorOf(body.serverVersion);
        checksum = body.checksumAlgorithm === ChecksumAlgorithm.CRC32 ? "CRC32" : "NONE";
        continue;
      }
      if (!headerDone && body.kind === "previousGtids") {
        previousGtids = MysqlGtidSet.decode(body.encodedSet);
        headerDone = true;
        continue;
      }
      if (!headerDone && body.kind === "mariadbGtidList") {
        gtidList = body.list.map((g) => ({ domain: g.domain, serverId: g.serverId, seq: g.seq }));
        hooks.onGtidList(gtidList);
        headerDone = true;
        continue;
      }
      if (body.kind !== "mariadbBinlogCheckpoint" && body.kind !== "formatDescription") headerDone = true;
      const gtid = gtidOfEvent(e.event);
      if (gtid) hooks.onGtid(gtid);
    }
  } catch (cause) {
    if (last && cause instanceof BinlogError && cause.code === "BINLOG_TRUNCATED" && offsets.length > 0) {
      // A copy of the file being written: serve up to the last whole event.
      size = end;
    } else if (cause instanceof BinlogError) {
      throw new FeedError("FEED_DAMAGED", `${path}: ${cause.message}`, { cause });
    } else {
      throw new FeedError("FEED_UNAVAILABLE", `cannot read ${path}: ${(cause as Error).message}`, { cause });
    }
  }
  if (flavor === undefined || offsets[0] !== 4) throw new FeedError("FEED_DAMAGED", `${path} does not start with a format description event`);
  return {
    flavor,
    scanned: {
      name: basename(path),
      path,
      size,
      offsets,
      checksum,
      ...(previousGtids ? { previousGtids } : {}),
      ...(gtidList ? { gtidList } : {}),
    },
  };
}
