/**
 * The simulator's command line (`make sim`):
 *   --seeds N        run seeds 1..N, with a progress line now and then and a summary at the end
 *   --seed N         run only seed N (takes precedence over --seeds)
 *   --steps          with --seed: print every step (deliveries, drops, ticks, faults, state changes, checks)
 * Exits 1 when a seed fails; each failure names the command that replays it.
 */
import { parseArgs } from "node:util";
import { runSimulation, SimulationFailure, type SimulationReport } from "./simulation.ts";

function positive(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} takes a positive integer, got ${value}`);
  return n;
}

function describeReport(r: SimulationReport): string {
  const s = r.stats;
  return (
    `seed ${r.seed} passed: ${r.voters} voters, ${r.steps} steps, ${r.ticks} ticks, ${r.committed} entries committed, ` +
    `${r.termsWithLeader} terms with a leader, healed in ${r.healTicks} ticks; ${s.delivered} messages delivered, ` +
    `${s.lost + s.partitionDrops + s.downDrops} dropped, ${s.duplicated} duplicated; ${s.crashes} crashes, ${s.confChanges} membership changes, ` +
    `${s.transfers} transfers, ${s.snapshotsSent} snapshots, ${s.compactions} compactions; ${r.checks} invariant checks`
  );
}

function runOne(seed: number, steps: boolean): boolean {
  try {
    const report = runSimulation(steps ? { seed, trace: (line) => process.stdout.write(line + "\n") } : { seed });
    process.stdout.write(describeReport(report) + "\n");
    return true;
  } catch (err) {
    if (!(err instanceof SimulationFailure)) throw err;
    process.stdout.write(`FAILED ${err.message}\n`);
    return false;
  }
}

function runMany(count: number): boolean {
  const started = performance.now();
  let passed = 0;
  let failed = 0;
  let lastReport = started;
  const totals = { steps: 0, committed: 0, terms: 0, crashes: 0, confChanges: 0, transfers: 0, snapshots: 0, slowestHeal: 0 };
  for (let seed = 1; seed <= count; seed++) {
    try {
      const r = runSimulation({ seed });
      passed++;
      totals.steps += r.steps;
      totals.committed += r.committed;
      totals.terms += r.termsWithLeader;
      totals.crashes += r.stats.crashes;
      totals.confChanges += r.stats.confChanges;
      totals.transfers += r.stats.transfers;
      totals.snapshots += r.stats.snapshotsSent;
      totals.slowestHeal = Math.max(totals.slowestHeal, r.healTicks);
    } catch (err) {
      if (!(err instanceof SimulationFailure)) throw err;
      failed++;
      process.stdout.write(`FAILED ${err.message}\n`);
    }
    const now = performance.now();
    if (now - lastReport >= 5000 || seed === count) {
      lastReport = now;
      process.stdout.write(`[${seed}/${count}] ${passed} passed, ${failed} failed, ${((now - started) / 1000).toFixed(1)} s\n`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${totals.steps} steps, ${totals.committed} entries committed, ${totals.terms} terms with a leader, ${totals.crashes} crashes, ` +
      `${totals.confChanges} membership changes, ${totals.transfers} transfers, ${totals.snapshots} snapshots; ` +
      `slowest healing ${totals.slowestHeal} ticks; ${seconds.toFixed(1)} s\n`,
  );
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string" },
      seed: { type: "string" },
      steps: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const seed = positive(values.seed, "--seed");
  const seeds = positive(values.seeds, "--seeds");
  if (values.steps && seed === undefined) throw new Error("--steps prints one run: give it --seed N");
  let ok: boolean;
  if (seed !== undefined) ok = runOne(seed, values.steps);
  else if (seeds !== undefined) ok = runMany(seeds);
  else throw new Error("usage: cli.ts --seeds N | --seed N [--steps]");
  if (!ok) process.exitCode = 1;
}

// A reader such as `head` may stop listening: that is not a failure of the run.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

try {
  main();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
