/**
 * Segment log storage:
 *  1. append throughput with group commit against a raw write + fdatasync loop of the same batch
 *     sizes on the same disk, in the same run (goal: at least 0.8 of raw);
 *  2. time to open a store holding BENCH_STORE_GIB GiB (default 10; goal: under 1 s), with a cold
 *     page cache when the kernel lets us drop it;
 *  3. random entry read latency against raw preads of the same sizes at random offsets.
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync, readdirSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { LogStore } from "../node/src/storage/log-store.ts";
import type { Entry } from "../node/src/raft/types.ts";
import { testExtractor, binlogEntry } from "../node/test-support/storage.ts";
import { machine, progress, writeResult, type Row } from "./lib/report.ts";

const WORK = process.env.BENCH_DIR ?? join(process.cwd(), ".tmp", "bench-storage");
const STORE_GIB = Number(process.env.BENCH_STORE_GIB ?? 10);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

function makeBatch(first: number, count: number, size: number): Entry[] {
  const data = Buffer.alloc(size, 0x5a);
  return Array.from({ length: count }, (_, k) => ({ index: first + k, term: 1, type: 0, data }));
}

async function storeAppends(dir: string, count: number, size: number): Promise<{ batches: number; seconds: number }> {
  rmSync(dir, { recursive: true, force: true });
  const store = await LogStore.open(dir);
  let next = 1;
  let batches = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    await store.append(makeBatch(next, count, size));
    next += count;
    batches++;
  }
  const seconds = (performance.now() - start) / 1000;
  await store.close();
  return { batches, seconds };
}

async function rawAppends(dir: string, count: number, size: number): Promise<{ batches: number; seconds: number }> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fh = await open(join(dir, "raw.log"), "w");
  const bytes = Buffer.alloc(count * (size + 25), 0x5a);
  let pos = 0;
  let batches = 0;
  const start = performance.now();
  while (performance.now() - start < SECONDS * 1000) {
    await fh.write(bytes, 0, bytes.length, pos);
    await fh.datasync();
    pos += bytes.length;
    batches++;
  }
  const seconds = (performance.now() - start) / 1000;
  await fh.close();
  return { batches, seconds };
}

async function buildLargeStore(dir: string, gib: number): Promise<number> {
  const entrySize = 64 * 1024;
  const total = Math.floor((gib * 2 ** 30) / (entrySize + 25));
  const marker = join(dir, `built-${total}`);
  try {
    statSync(marker);
    progress(`reusing the ${gib} GiB store in ${dir}`);
    return total;
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
  const store = await LogStore.open(dir, { extractBinlogInfo: testExtractor });
  const perBatch = 64;
  let lastReport = performance.now();
  for (let i = 1; i <= total; i += perBatch) {
    const n = Math.min(perBatch, total - i + 1);
    await store.append(Array.from({ length: n }, (_, k) => binlogEntry(i + k, 1, `0-1-${i + k}`, `bin.${String(Math.floor((i + k) / 16384) + 1).padStart(6, "0")}`, 4 + ((i + k) % 16384) * entrySize, entrySize)));
    if (performance.now() - lastReport > 5000) {
      progress(`building: ${((i * (entrySize + 25)) / 2 ** 30).toFixed(1)} of ${gib} GiB`);
      lastReport = performance.now();
    }
  }
  await store.close();
  writeFileSync(marker, "");
  return total;
}

function dropPageCache(): boolean {
  try {
    const fd = openSync("/proc/sys/vm/drop_caches", "w");
    writeSync(fd, "3\n");
    closeSync(fd);
    return true;
  } catch {
    return false;
  }
}

async function timeOpen(dir: string): Promise<number> {
  const start = performance.now();
  const store = await LogStore.open(dir, { extractBinlogInfo: testExtractor });
  const ms = performance.now() - start;
  await store.close();
  return ms;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const rows: Row[] = [];
  const details: Record<string, unknown> = {};

  for (const [count, size] of [[1, 1024], [16, 1024], [64, 4096], [256, 4096]] as const) {
    const label = `${count} x ${size} B`;
    progress(`appends ${label}: store, then raw write+fdatasync, ${SECONDS} s each`);
    const s = await storeAppends(join(WORK, "append-store"), count, size);
    const r = await rawAppends(join(WORK, "append-raw"), count, size);
    const storeRate = s.batches / s.seconds;
    const rawRate = r.batches / r.seconds;
    progress(`  store ${storeRate.toFixed(0)} batches/s (${((storeRate * count * size) / 1e6).toFixed(1)} MB/s), raw ${rawRate.toFixed(0)} batches/s`);
    rows.push({ measure: `appends of ${label} batches`, kingbus: storeRate, baseline: rawRate, unit: "batches/s", goal: "≥ 0.8 of raw" });
    details[`append ${label}`] = { storeBatches: s.batches, rawBatches: r.batches, storeMBps: (storeRate * count * size) / 1e6 };
  }
  rmSync(join(WORK, "append-store"), { recursive: true, force: true });
  rmSync(join(WORK, "append-raw"), { recursive: true, force: true });

  const bigDir = join(WORK, `store-${STORE_GIB}gib`);
  progress(`building a ${STORE_GIB} GiB store (64 KiB entries, a GTID and a file position each)`);
  const total = await buildLargeStore(bigDir, STORE_GIB);
  const segments = readdirSync(bigDir).filter((n) => n.endsWith(".seg")).length;
  const warm = Math.min(await timeOpen(bigDir), await timeOpen(bigDir));
  const cold = dropPageCache() ? await timeOpen(bigDir) : undefined;
  progress(`open: warm ${warm.toFixed(0)} ms${cold === undefined ? " (cannot drop the page cache here)" : `, cold ${cold.toFixed(0)} ms`} for ${segments} segments`);
  rows.push({ measure: `open a ${STORE_GIB} GiB store (${segments} segments), warm cache`, kingbus: warm, baseline: 1000, unit: "ms", goal: "< 1000 ms (baseline column = goal)" });
  if (cold !== undefined) rows.push({ measure: `open a ${STORE_GIB} GiB store, cold cache`, kingbus: cold, baseline: 1000, unit: "ms", goal: "< 1000 ms (baseline column = goal)" });

  progress("random entry reads against raw preads of the same size");
  const store = await LogStore.open(bigDir, { extractBinlogInfo: testExtractor });
  const samples = 2000;
  const storeLat: number[] = [];
  let seed = 7;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  for (let k = 0; k < samples; k++) {
    const i = 1 + rand(total);
    const t = performance.now();
    store.entries(i, i + 1);
    storeLat.push((performance.now() - t) * 1000);
  }
  const lookups: number[] = [];
  for (let k = 0; k < 500; k++) {
    const seq = BigInt(1 + rand(total));
    const t = performance.now();
    const found = store.lookupGtid({ flavor: "mariadb", domain: 0, serverId: 1, seq });
    lookups.push((performance.now() - t) * 1000);
    if (found !== Number(seq)) throw new Error(`GTID 0-1-${seq} found at ${found}`);
  }
  await store.close();
  const segFiles = readdirSync(bigDir).filter((n) => n.endsWith(".seg")).map((n) => join(bigDir, n));
  const rawLat: number[] = [];
  const buf = Buffer.allocUnsafe(64 * 1024 + 25);
  for (let k = 0; k < samples; k++) {
    const file = segFiles[rand(segFiles.length)]!;
    const size = statSync(file).size;
    const fd = openSync(file, "r");
    const t = performance.now();
    readSync(fd, buf, 0, buf.length, rand(Math.max(1, size - buf.length)));
    rawLat.push((performance.now() - t) * 1000);
    closeSync(fd);
  }
  storeLat.sort((a, b) => a - b);
  rawLat.sort((a, b) => a - b);
  lookups.sort((a, b) => a - b);
  rows.push({ measure: "random 64 KiB entry read, p50", kingbus: percentile(storeLat, 0.5), baseline: percentile(rawLat, 0.5), unit: "µs", goal: "≤ 2x raw pread" });
  rows.push({ measure: "random 64 KiB entry read, p99", kingbus: percentile(storeLat, 0.99), baseline: percentile(rawLat, 0.99), unit: "µs", goal: "≤ 2x raw pread" });
  rows.push({ measure: "GTID lookup anywhere in the store, p50", kingbus: percentile(lookups, 0.5), baseline: percentile(rawLat, 0.5), unit: "µs", goal: "no scan: about one read" });
  details.readLatencyUs = { store: { p50: percentile(storeLat, 0.5), p99: percentile(storeLat, 0.99) }, raw: { p50: percentile(rawLat, 0.5), p99: percentile(rawLat, 0.99) }, gtidLookup: { p50: percentile(lookups, 0.5), p99: percentile(lookups, 0.99) } };
  details.store = { gib: STORE_GIB, entries: total, segments, coldOpenMeasured: cold !== undefined };

  writeResult({
    name: "storage",
    title: "Segment log storage: group-commit appends, open time, random reads",
    baseline: "raw write + fdatasync of the same batch sizes to one file on the same disk; raw pread of the same sizes (same run)",
    machine: machine(),
    date: new Date().toISOString(),
    rows,
    notes: [
      `Appends: ${SECONDS} s per batch size and contender; a batch is one append() call (one fdatasync). Reproduce with \`make bench-storage\` (BENCH_STORE_GIB, BENCH_SECONDS, BENCH_DIR).`,
      `The ${STORE_GIB} GiB store is kept in ${WORK} for later runs; delete it to rebuild.`,
    ],
    details,
  });

}

await main();
