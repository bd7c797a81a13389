/**
 * Binlog codec throughput: cutting, CRC32-verifying and decoding a binlog file, against reading
 * the same bytes from the same (page-cached) file without parsing. Two corpora built from real
 * events: the small events of a MySQL 8.0 binlog as the server wrote them, and the same
 * transactions with 8 KiB row events (bulk loads, BLOBs).
 */
import { createReadStream, mkdirSync, readFileSync, rmSync, statSync, openSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { readBinlogBuffer, readBinlogBatches, EventSplitter, checkMagic } from "../node/src/binlog/reader.ts";
import { computeEventChecksum, CHECKSUM_LENGTH, ChecksumAlgorithm } from "../node/src/binlog/checksum.ts";
import { defaultFormat } from "../node/src/binlog/format.ts";
import { EventType } from "../node/src/binlog/event-type.ts";
import { BINLOG_MAGIC } from "../node/src/binlog/header.ts";
import { checkEventChecksum } from "../node/src/binlog/codec.ts";
import { sharedDir } from "../node/test-support/requirements.ts";
import { machine, progress, writeResult, type Row } from "./lib/report.ts";

const TARGET_BYTES = Number(process.env.BENCH_CODEC_MB ?? 256) * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHUNK = 256 * 1024;

/** Rewrites an event's log_pos and CRC so the copy is valid at its new offset. */
function placed(event: Buffer, endPos: number, padBodyTo?: number): Buffer {
  let e = event;
  if (padBodyTo !== undefined) {
    const body = e.subarray(19, e.length - CHECKSUM_LENGTH);
    const padded = Buffer.alloc(padBodyTo);
    for (let i = 0; i < padBodyTo; i += body.length) body.copy(padded, i);
    e = Buffer.concat([e.subarray(0, 19), padded, Buffer.alloc(CHECKSUM_LENGTH)]);
    e.writeUInt32LE(e.length, 9);
  } else {
    e = Buffer.from(e);
  }
  e.writeUInt32LE((endPos + e.length) >>> 0, 13);
  e.writeUInt32LE(computeEventChecksum(e.subarray(0, e.length - CHECKSUM_LENGTH)), e.length - CHECKSUM_LENGTH);
  return e;
}

/** A binlog of about TARGET_BYTES: the source's FDE, then its transactions repeated. */
function buildCorpus(source: Buffer, path: string, rowBodyBytes?: number): { bytes: number; events: number } {
  const events = [...readBinlogBuffer(source)].map((e) => e.bytes);
  const fde = events[0]!;
  const repeated = events.filter((e) => ![EventType.FORMAT_DESCRIPTION, EventType.PREVIOUS_GTIDS, EventType.ROTATE, EventType.STOP].includes(e[4]! as 15));
  const fd = openSync(path, "w");
  let pos = 4;
  let count = 1;
  writeSync(fd, BINLOG_MAGIC);
  const first = placed(fde, pos);
  writeSync(fd, first);
  pos += first.length;
  const batch: Buffer[] = [];
  let batchBytes = 0;
  while (pos < TARGET_BYTES) {
    for (const e of repeated) {
      const isRows = e[4]! >= EventType.WRITE_ROWS && e[4]! <= EventType.DELETE_ROWS;
      const copy = placed(e, pos, isRows ? rowBodyBytes : undefined);
      batch.push(copy);
      batchBytes += copy.length;
      pos += copy.length;
      count++;
    }
    if (batchBytes > 4 * 1024 * 1024) {
      writeSync(fd, Buffer.concat(batch));
      batch.length = 0;
      batchBytes = 0;
    }
  }
  writeSync(fd, Buffer.concat(batch));
  closeSync(fd);
  return { bytes: pos, events: count };
}

async function timeIt(fn: () => Promise<number>): Promise<{ seconds: number; value: number }> {
  let best = Infinity;
  let value = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const start = process.hrtime.bigint();
    value = await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return { seconds: best, value };
}

async function rawRead(path: string): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) n += (chunk as Buffer).length;
  return n;
}

/** Cut into events and verify every CRC, without decoding bodies. */
async function cutAndVerify(path: string): Promise<number> {
  const splitter = new EventSplitter();
  let events = 0;
  let checked = false;
  const format = defaultFormat(ChecksumAlgorithm.CRC32);
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
    splitter.push(chunk as Buffer);
    if (!checked) {
      checkMagic(splitter.take(4), 4);
      checked = true;
    }
    for (let raw = splitter.nextEvent(); raw; raw = splitter.nextEvent()) {
      if (checkEventChecksum(raw.bytes, format) === false) throw new Error(`bad CRC at ${raw.offset}`);
      events++;
    }
  }
  return events;
}

async function fullDecode(path: string): Promise<number> {
  let events = 0;
  for await (const batch of readBinlogBatches(createReadStream(path, { highWaterMark: CHUNK }))) {
    for (const e of batch) if (e.checksumOk !== true) throw new Error(`checksum not verified at ${e.offset}`);
    events += batch.length;
  }
  return events;
}

async function main(): Promise<void> {
  const { dir, skip } = sharedDir();
  if (skip) throw new Error(`bench-codec needs the real binlogs: ${skip}`);
  const source = readFileSync(join(dir, "fixtures", "binlog", "mysql", "json.binlog.000001"));
  const work = join(tmpdir(), `kingbus-bench-codec-${process.pid}`);
  mkdirSync(work, { recursive: true });
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};
  try {
    for (const [label, rowBytes] of [["small events (MySQL 8.0 as written)", undefined], ["8 KiB row events", 8192]] as const) {
      const path = join(work, `corpus-${rowBytes ?? "small"}.000001`);
      progress(`building ${label} corpus of ${(TARGET_BYTES / 2 ** 20).toFixed(0)} MiB`);
      const corpus = buildCorpus(source, path, rowBytes);
      const mb = statSync(path).size / 1e6;
      await rawRead(path); // warm the page cache for every contender alike
      progress(`${label}: raw read x${ROUNDS}`);
      const raw = await timeIt(() => rawRead(path));
      progress(`${label}: cut + CRC32 x${ROUNDS}`);
      const cut = await timeIt(() => cutAndVerify(path));
      progress(`${label}: cut + CRC32 + decode x${ROUNDS}`);
      const full = await timeIt(() => fullDecode(path));
      if (cut.value !== corpus.events || full.value !== corpus.events) throw new Error(`event count mismatch: ${cut.value} / ${full.value} / ${corpus.events}`);
      const rawMBs = mb / raw.seconds;
      rows.push({ measure: `${label}: cut + CRC32`, kingbus: mb / cut.seconds, baseline: rawMBs, unit: "MB/s", goal: "≥ 100 MB/s" });
      rows.push({ measure: `${label}: cut + CRC32 + decode`, kingbus: mb / full.seconds, baseline: rawMBs, unit: "MB/s", goal: "≥ 100 MB/s" });
      details[label] = { megabytes: Number(mb.toFixed(1)), events: corpus.events, eventsPerSecondDecoded: Math.round(corpus.events / full.seconds), seconds: { raw: raw.seconds, cut: cut.seconds, decode: full.seconds } };
      progress(`${label}: raw ${rawMBs.toFixed(0)} MB/s, cut+CRC ${(mb / cut.seconds).toFixed(0)} MB/s, decode ${(mb / full.seconds).toFixed(0)} MB/s, ${Math.round(corpus.events / full.seconds)} events/s`);
      rmSync(path);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  writeResult({
    name: "codec",
    title: "Binlog codec: parse throughput with CRC32 verification",
    baseline: "reading the same page-cached file in 256 KiB chunks without parsing (same process, same run)",
    machine: machine(),
    date: new Date().toISOString(),
    rows,
    notes: [
      `Best of ${ROUNDS} rounds over a ${(TARGET_BYTES / 2 ** 20).toFixed(0)} MiB file per corpus; reproduce with \`make bench-codec\` (BENCH_CODEC_MB, BENCH_ROUNDS to change).`,
      "Goal: a primary under sysbench writes well under 100 MB/s of binlog, so 100 MB/s leaves the syncer headroom on one core.",
    ],
    details,
  });
}

await main();
