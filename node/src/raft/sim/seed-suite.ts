/**
 * The simulator run `make test` carries, split by cluster size into two test files so that
 * `node --test` can use both cores: every invariant after every step, then the healed cluster must
 * commit, and the runs must exercise what they claim to.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { runSeeds } from "./seeds.ts";

export function seedSuite(voters: 3 | 5, count = 250): void {
  test(`simulator: ${count} seeds of ${voters}-voter clusters keep every invariant and heal`, () => {
    const { reports, failures } = runSeeds(count, voters);
    assert.deepEqual(failures, []);
    assert.equal(reports.length, count);
    assert.ok(reports.every((r) => r.voters === voters));
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
    for (const [name, n] of Object.entries(exercised)) assert.ok(n > reports.length / 5, `too few ${name}: ${n}`);
  });
}
