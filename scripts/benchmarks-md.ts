/**
 * Regenerates BENCHMARKS.md at the repository root from every bench/results/*.json (the
 * BenchResult files the benchmarks write): one table per benchmark with kingbus, the baseline of
 * the same run, their ratio, the goal and whether it is met, its SVG figures and its key notes.
 *
 *   $NODE scripts/benchmarks-md.ts                 # write BENCHMARKS.md
 *   $NODE scripts/benchmarks-md.ts --check         # exit 1 when BENCHMARKS.md is out of date
 *   $NODE scripts/benchmarks-md.ts --results DIR --out FILE
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseResult, renderPage, type StoredResult } from "../bench/lib/benchmarks-md.ts";
import { benchDir } from "../bench/lib/report.ts";
import { parseRunTimes, RUN_TIMES_FILE, type BenchRunTimes } from "../bench/lib/run-times.ts";

const root = resolve(benchDir, "..");
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const resultsDir = resolve(arg("--results") ?? join(root, "bench", "results"));
const out = resolve(arg("--out") ?? join(root, "BENCHMARKS.md"));
const check = process.argv.includes("--check");

const files = existsSync(resultsDir) ? readdirSync(resultsDir).sort() : [];
const results = new Map<string, StoredResult>();
const unreadable: Array<{ file: string; reason: string }> = [];
let runTimes: BenchRunTimes | undefined;
for (const file of files.filter((f) => f.endsWith(".json"))) {
  if (file === RUN_TIMES_FILE) {
    runTimes = parseRunTimes(JSON.parse(readFileSync(join(resultsDir, file), "utf8")) as unknown);
    if (runTimes === undefined) unreadable.push({ file, reason: "not the timings of a make bench run" });
    continue;
  }
  const fallback = file.replace(/\.json$/, "");
  try {
    const r = parseResult(JSON.parse(readFileSync(join(resultsDir, file), "utf8")) as unknown, fallback);
    results.set(r.name, r);
  } catch (e) {
    unreadable.push({ file, reason: e instanceof Error ? e.message : String(e) });
  }
}
const page = renderPage({ results, files, unreadable, resultsPath: relative(resolve(out, ".."), resultsDir) || ".", ...(runTimes ? { runTimes } : {}) });
if (check) {
  const current = existsSync(out) ? readFileSync(out, "utf8") : "";
  if (current !== page) {
    console.error(`${relative(root, out)} is out of date: run scripts/benchmarks-md.ts`);
    process.exit(1);
  }
} else {
  writeFileSync(out, page);
  console.error(`wrote ${relative(process.cwd(), out) || out} from ${results.size} results in ${relative(process.cwd(), resultsDir) || "."}${unreadable.length ? ` (${unreadable.length} unreadable)` : ""}`);
}
