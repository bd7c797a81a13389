/**
 * The end-to-end suite (make e2e): every scenario in turn, each in a fresh environment (a real
 * MariaDB primary, 3 kingbus processes, 2 real MariaDB replicas, sysbench and the mix), progress
 * on stderr, results in e2e/results/summary.json and summary.md. Exit status 0 only when every
 * scenario that ran passed.
 *
 *   node e2e/run.ts                 # all scenarios
 *   node e2e/run.ts --only 2,4      # some of them
 *   node e2e/run.ts --short         # the short forms (what make test runs for 1 and 2)
 *   E2E_REPLICAS=0 node e2e/run.ts  # without replicas (kingbus-side checks only)
 *
 * The whole suite is bounded: each scenario has its own time limit, and the run stops starting
 * new scenarios once the 15-minute budget would be exceeded (those are reported as skipped).
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { log } from "./harness/log.ts";
import { machine, resultsDir, writeSummary, type Summary } from "./harness/report.ts";
import { runScenario, type ScenarioResult } from "./harness/scenario.ts";
import { mariadbSkip } from "../node/test-support/mariadb.ts";
import { scenarios } from "./scenarios/index.ts";

const BUDGET_MS = 15 * 60_000;
const OUT_OF_BUDGET = "the suite's 15-minute budget ran out";
/** A scenario is not started with less than this left of the budget. */
const SCENARIO_RESERVE_MS = 100_000;

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { only: { type: "string" }, short: { type: "boolean", default: false }, out: { type: "string" } } });
  const only = values.only?.split(",").map(Number);
  const chosen = scenarios.filter((s) => !only || only.includes(s.id));
  const skip = mariadbSkip();
  if (skip) {
    process.stderr.write(`e2e: ${skip}\n`);
    return 1;
  }
  const began = performance.now();
  const startedAt = new Date().toISOString();
  const results: ScenarioResult[] = [];
  const write = (): void => {
    const summary: Summary = {
      startedAt,
      finishedAt: new Date().toISOString(),
      seconds: Math.round((performance.now() - began) / 1000),
      short: values.short,
      passed: results.every((r) => r.passed || (r.skipped !== undefined && r.skipped !== OUT_OF_BUDGET)),
      machine: machine(),
      scenarios: results,
    };
    writeSummary(summary, values.out ?? resultsDir);
  };
  // The hard limit: whatever hangs, the run ends (and the exit handlers kill every child).
  const watchdog = setTimeout(() => {
    log(`e2e: stopped after ${(BUDGET_MS / 60_000).toFixed(0)} minutes`);
    write();
    process.exit(1);
  }, BUDGET_MS);
  watchdog.unref();
  for (const s of chosen) {
    const left = BUDGET_MS - (performance.now() - began);
    if (left < SCENARIO_RESERVE_MS) {
      results.push({ id: s.id, slug: s.slug, title: s.title, passed: false, skipped: OUT_OF_BUDGET, short: values.short, replicas: false, seconds: 0, setupSeconds: 0, failoverSeconds: null, lagRecoverySeconds: null, failovers: [], lag: {}, metrics: {}, checks: [] });
    } else {
      results.push(await runScenario(s, { short: values.short, timeoutMs: Math.min(240_000, left - 60_000) }));
    }
    write();
  }
  clearTimeout(watchdog);
  const failed = results.filter((r) => !r.passed && (r.skipped === undefined || r.skipped === OUT_OF_BUDGET));
  log(`e2e: ${results.filter((r) => r.passed).length} passed, ${failed.length} failed, ${results.filter((r) => r.skipped).length} skipped in ${((performance.now() - began) / 1000).toFixed(0)} s; ${values.out ?? resultsDir}/summary.md`);
  for (const r of results) {
    process.stderr.write(`  ${r.skipped ? "-" : r.passed ? "✔" : "✘"} ${r.id}. ${r.title}${r.failoverSeconds !== null ? `: failover ${r.failoverSeconds} s` : ""}${r.lagRecoverySeconds !== null ? `, lag recovery ${r.lagRecoverySeconds} s` : ""}${r.skipped ? ` (${r.skipped})` : ""}\n`);
  }
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
