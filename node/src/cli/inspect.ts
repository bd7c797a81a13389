/**
 * `kingbus inspect FILE`: one JSON object per event per line, or with --summary one object for
 * the file. Damage stops the listing after the last good event with exit status 2 and a message
 * naming the byte offset.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import type { Command } from "commander";
import { KingbusError } from "../errors.ts";
import { BinlogError } from "../binlog/errors.ts";
import { eventTypeName } from "../binlog/event-type.ts";
import { readBinlogBatches, type ReadEvent } from "../binlog/reader.ts";
import { describeEvent } from "../binlog/describe.ts";
import { BinlogSummary } from "../binlog/summary.ts";
import { LineWriter } from "./line-writer.ts";

export const EXIT_BAD_INPUT = 2;

const GZIP_MAGIC = [0x1f, 0x8b];

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await fh.close();
  }
}

/** The file's bytes as a stream, gunzipped when it is gzip. */
export async function openBinlogFile(path: string): Promise<AsyncIterable<Uint8Array>> {
  // Probe first: a missing or unreadable file then fails here, not later inside the stream.
  const gzip = await isGzip(path);
  const raw = createReadStream(path, { highWaterMark: 256 * 1024 });
  if (!gzip) return raw;
  const gunzip = createGunzip();
  raw.on("error", (e) => gunzip.destroy(e));
  return raw.pipe(gunzip);
}

export interface InspectOptions {
  summary?: boolean;
}

/** Runs inspect and returns the exit status. */
export async function inspect(path: string, options: InspectOptions, out: LineWriter, err: (line: string) => void): Promise<number> {
  const summary = new BinlogSummary();
  let status = 0;
  let current: ReadEvent | undefined;
  try {
    for await (const batch of readBinlogBatches(await openBinlogFile(path))) {
      for (const e of batch) {
        current = e;
        if (options.summary) summary.add(e);
        else await out.line(JSON.stringify(describeEvent(e)));
      }
    }
  } catch (e) {
    status = EXIT_BAD_INPUT;
    // Typed errors are bad input, not a crash. The reader's carry their offset; a body that
    // reads as an event but not as its content (a malformed GTID set) gets its event's offset.
    if (e instanceof BinlogError) err(`kingbus inspect: ${path}: ${e.message}`);
    else if (e instanceof KingbusError && current) err(`kingbus inspect: ${path}: at byte ${current.offset}: ${eventTypeName(current.event.header.type)} event: ${e.message}`);
    else if (e instanceof Error && "code" in e && (e.code === "ENOENT" || e.code === "EACCES" || e.code === "EISDIR")) err(`kingbus inspect: ${path}: ${e.message}`);
    else if (e instanceof Error && "code" in e && String(e.code).startsWith("Z_")) err(`kingbus inspect: ${path}: not a valid gzip file: ${e.message}`);
    else throw e;
  }
  if (options.summary) {
    summary.finish();
    await out.line(JSON.stringify(summary.toJSON()));
  }
  await out.flush();
  return status;
}

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("print a binlog file's events as JSON lines (gzip accepted); exit 2 on damage")
    .argument("<file>", "binlog or relay log file, optionally gzipped")
    .option("--summary", "print the file's GTID set, event counts per type and transactions instead of the events")
    .action(async (file: string, opts: InspectOptions) => {
      const out = new LineWriter(process.stdout);
      process.exitCode = await inspect(file, opts, out, (line) => process.stderr.write(`${line}\n`));
    });
}
