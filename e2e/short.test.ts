/**
 * The end-to-end path on every change (make test): scenarios 1 and 2 of the suite in their short
 * form, each in a fresh environment — a real MariaDB primary under sysbench and the project's mix,
 * 3 real kingbus processes, and two real MariaDB replicas attached to kingbus (one by GTID, one by
 * file and position):
 *
 *  1. 15 s of steady replication;
 *  2. the leader SIGKILLed twice in a row under load.
 *
 * Each ends with the suite's checks (replica data equal to the primary's by CHECKSUM TABLE, GTID
 * positions equal, the stored files byte-identical with no duplicate or missing GTID, no kingbus
 * process dying on its own). The full suite is `make e2e` (e2e/run.ts, e2e/README.md).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mariadbSkip } from "../node/test-support/mariadb.ts";
import { inCI } from "../node/test-support/requirements.ts";
import { ensureSysbench } from "../bench/lib/sysbench.ts";
import { setQuiet } from "./harness/log.ts";
import { runScenario, type ScenarioResult } from "./harness/scenario.ts";
import { steady } from "./scenarios/s1-steady.ts";
import { leaderKill } from "./scenarios/s2-leader-kill.ts";

function sysbenchSkip(): string | undefined {
  try {
    ensureSysbench();
    return undefined;
  } catch (e) {
    if (inCI) throw e;
    return `skipped: ${e instanceof Error ? e.message : String(e)}`;
  }
}

const skip = mariadbSkip() ?? sysbenchSkip();
// Progress lines only on request (E2E_VERBOSE=1): make test prints a failure's checks anyway.
setQuiet(process.env.E2E_VERBOSE !== "1");

function explain(r: ScenarioResult): string {
  const failed = r.checks.filter((c) => c.ok === false).map((c) => `${c.name}: ${c.detail}`);
  return [r.error ? `error: ${r.error}` : "", ...failed].filter(Boolean).join("\n");
}

describe("end to end (short form): real MariaDB primary, 3 kingbus processes, real MariaDB replicas", { skip }, () => {
  it("scenario 1: steady replication under load for 15 s", { timeout: 120_000 }, async () => {
    const r = await runScenario(steady, { short: true, timeoutMs: 90_000 });
    assert.ok(r.passed, explain(r));
    assert.ok(r.checks.length >= 8, `the common checks ran (${r.checks.length})`);
  });

  it("scenario 2: the leader SIGKILLed twice under load", { timeout: 150_000 }, async () => {
    const r = await runScenario(leaderKill, { short: true, timeoutMs: 120_000 });
    assert.ok(r.passed, explain(r));
    assert.equal(r.failovers.length, 2);
    for (const f of r.failovers) {
      assert.ok(f.pullingSeconds !== null && f.pullingSeconds < 10, `${f.label}: pulling after ${f.pullingSeconds} s`);
      assert.ok(f.lagRecoverySeconds !== null && f.lagRecoverySeconds < 30, `${f.label}: lag recovered after ${f.lagRecoverySeconds} s`);
    }
    process.stderr.write(`# leader kills: failover ${r.failovers.map((f) => f.pullingSeconds).join(", ")} s; lag under 1 s after ${r.failovers.map((f) => f.lagRecoverySeconds).join(", ")} s\n`);
  });
});
