/**
 * Shared plumbing of the benchmarks: the machine's description, progress lines on stderr, and
 * writing a result as JSON plus a markdown table under bench/results/.
 */
import { cpus, totalmem, platform, release } from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const resultsDir = join(benchDir, "results");

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

export function machine(): Machine {
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()}`,
    node: process.version,
  };
}

/**
 * A numeric knob from the environment (BENCH_*): the fallback when unset or empty; anything that
 * is not a non-negative number (a positive one with `positive`) stops the benchmark, naming it.
 */
export function envNumber(name: string, fallback: number, options: { positive?: boolean } = {}): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (options.positive === true) {
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v} is not a positive number`);
  } else if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative number`);
  return n;
}

export function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export interface Row {
  measure: string;
  kingbus: number;
  baseline: number;
  unit: string;
  goal: string;
}

export interface BenchResult {
  name: string;
  title: string;
  baseline: string;
  machine: Machine;
  date: string;
  rows: Row[];
  notes: string[];
  details?: unknown;
}

export function ratio(row: Row): number {
  return row.kingbus / row.baseline;
}

export function markdown(r: BenchResult): string {
  const lines = [
    `## ${r.title}`,
    "",
    `Baseline: ${r.baseline}. Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, Node ${r.machine.node}. Run ${r.date}.`,
    "",
    "| measure | kingbus | baseline | ratio | goal |",
    "| --- | ---: | ---: | ---: | --- |",
    ...r.rows.map((row) => `| ${row.measure} | ${row.kingbus.toFixed(1)} ${row.unit} | ${row.baseline.toFixed(1)} ${row.unit} | ${ratio(row).toFixed(2)} | ${row.goal} |`),
    "",
    ...r.notes.map((n) => `- ${n}`),
    "",
  ];
  return lines.join("\n");
}

export function writeResult(r: BenchResult): void {
  mkdirSync(resultsDir, { recursive: true });
  const rows = r.rows.map((row) => ({ ...row, ratio: Number(ratio(row).toFixed(3)) }));
  writeFileSync(join(resultsDir, `${r.name}.json`), JSON.stringify({ ...r, rows }, null, 2) + "\n");
  writeFileSync(join(resultsDir, `${r.name}.md`), markdown(r));
  progress(`wrote bench/results/${r.name}.json and .md`);
}
