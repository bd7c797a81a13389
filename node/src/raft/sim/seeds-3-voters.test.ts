// 250 simulated runs of 3-voter clusters (the odd seeds from 1): every invariant after every
// step, then the healed cluster must commit. The other half runs in seeds-5-voters.test.ts, so
// `node --test` can use both cores.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSeeds } from "./seeds.ts";

test("simulator: 250 seeds of 3-voter clusters keep every invariant and heal", () => {
  const { reports, failures } = runSeeds(250, 3);
  assert.deepEqual(failures, []);
  assert.equal(reports.length, 250);
  assert.ok(reports.every((r) => r.voters === 3));
  // The runs must exercise what they claim to, or passing means little.
  const total = (pick: (r: (typeof reports)[number]) => number): number => reports.reduce((sum, r) => sum + pick(r), 0);
  assert.ok(total((r) => r.termsWithLeader) > 2 * reports.length, "leaders change");
  assert.ok(total((r) => r.committed) > 50 * reports.length, "entries commit");
  const exercised = {
    crashes: total((r) => r.stats.crashes),
    "membership changes": total((r) => r.stats.confChanges),
    transfers: total((r) => r.stats.transfers),
    snapshots: total((r) => r.stats.snapshotsSent),
    "partition drops": total((r) => r.stats.partitionDrops),
    duplicates: total((r) => r.stats.duplicated),
  };
  for (const [name, count] of Object.entries(exercised)) assert.ok(count > reports.length / 5, `too few ${name}: ${count}`);
});
