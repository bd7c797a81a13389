/**
 * `make bench`: every benchmark of the project, one after another, each timed, then BENCHMARKS.md.
 * The timings go to bench/results/make-bench.json (read by scripts/benchmarks-md.ts), so the page
 * says how long the whole suite took against its 25-minute budget. A benchmark that fails does not
 * stop the others; the run then exits 1 and names it.
 *
 *   $NODE scripts/bench-all.ts                  # all of them
 *   $NODE scripts/bench-all.ts raft fanout      # some of them (the timings file is then left alone)
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BENCHMARKS } from "../bench/lib/benchmarks-md.ts";
import { benchDir, progress, resultsDir } from "../bench/lib/report.ts";
import { RUN_BUDGET_SECONDS, type BenchRunTimes } from "../bench/lib/run-times.ts";

const asked = process.argv.slice(2);
const unknown = asked.filter((n) => !BENCHMARKS.some((b) => b.name === n));
if (unknown.length > 0) {
  console.error(`bench-all: no benchmark named ${unknown.join(", ")} (known: ${BENCHMARKS.map((b) => b.name).join(", ")})`);
  process.exit(2);
}
const chosen = asked.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => asked.includes(b.name));
const started = Date.now();
const times: BenchRunTimes["benchmarks"] = [];
for (const [i, b] of chosen.entries()) {
  const elapsed = (Date.now() - started) / 60_000;
  progress(`make bench: ${b.name} (${i + 1} of ${chosen.length}; ${elapsed.toFixed(1)} min so far of the ${RUN_BUDGET_SECONDS / 60}-minute budget)`);
  const t0 = Date.now();
  const run = spawnSync(process.execPath, [...process.execArgv, join(benchDir, `${b.name}.bench.ts`)], { stdio: "inherit" });
  const seconds = (Date.now() - t0) / 1000;
  const ok = run.status === 0;
  times.push({ name: b.name, seconds: Math.round(seconds), ok });
  progress(`make bench: ${b.name} ${ok ? "done" : `FAILED (${run.signal ?? `exit ${run.status}`})`} in ${(seconds / 60).toFixed(1)} min`);
}
const totalSeconds = Math.round((Date.now() - started) / 1000);
if (asked.length === 0) {
  const record: BenchRunTimes = { date: new Date(started).toISOString(), totalSeconds, budgetSeconds: RUN_BUDGET_SECONDS, benchmarks: times };
  writeFileSync(join(resultsDir, "make-bench.json"), JSON.stringify(record, null, 2) + "\n");
}
const failed = times.filter((t) => !t.ok).map((t) => t.name);
progress(`make bench: ${chosen.length} benchmarks in ${(totalSeconds / 60).toFixed(1)} min (budget ${RUN_BUDGET_SECONDS / 60} min)${failed.length ? `; FAILED: ${failed.join(", ")}` : ""}`);
process.exit(failed.length ? 1 : 0);
