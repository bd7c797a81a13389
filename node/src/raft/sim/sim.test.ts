// The simulator itself: determinism, and proof that its checker catches broken rules.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TestCluster, PAPER, checkCluster } from "../testing/harness.ts";
import type { UnsafeFaults } from "../raft.ts";
import { InvariantChecker, InvariantViolation } from "./invariants.ts";
import { runSimulation, SimulationFailure } from "./simulation.ts";

function traceOf(seed: number): string[] {
  const lines: string[] = [];
  runSimulation({ seed, trace: (line) => lines.push(line) });
  return lines;
}

describe("simulator", () => {
  test("simulator: the same seed gives the identical step trace twice", () => {
    for (const seed of [3, 4]) {
      const first = traceOf(seed);
      const second = traceOf(seed);
      assert.ok(first.length > 1000, `a real run (${first.length} lines)`);
      assert.deepEqual(second, first, `seed ${seed}`);
    }
    assert.notDeepEqual(traceOf(5).slice(0, 200), traceOf(7).slice(0, 200), "and different seeds differ");
  });

  test("simulator: a vote granted without the up-to-date check is caught within 10 seeds, with its seed and replay command", () => {
    const faults: UnsafeFaults = { grantVotesWithoutLogCheck: true };
    let caught: SimulationFailure | undefined;
    for (let seed = 1; seed <= 10 && caught === undefined; seed++) {
      try {
        runSimulation({ seed, faults });
      } catch (err) {
        assert.ok(err instanceof SimulationFailure, String(err));
        caught = err;
      }
    }
    assert.ok(caught !== undefined, "no seed in 1..10 exposed the broken rule");
    assert.match(caught.message, new RegExp(`^seed ${caught.seed}, step ${caught.step}: `));
    assert.match(caught.message, new RegExp(`replay: make sim SEED=${caught.seed} STEPS=1$`));
    assert.match(caught.description, /leader completeness|committed entry lost|state machine safety|log matching|RAFT_INVARIANT/);
    assert.doesNotThrow(() => runSimulation({ seed: caught.seed }), "the same seed passes with the rule intact");
    // Replaying gives the same failure at the same step.
    assert.throws(() => runSimulation({ seed: caught.seed, faults }), (err: unknown) => err instanceof SimulationFailure && err.step === caught.step && err.description === caught.description);
  });

  for (const broken of [false, true]) {
    test(`simulator: the checker ${broken ? "catches" : "accepts"} Figure 8 when a leader ${broken ? "commits" : "does not commit"} an earlier term's entry by counting`, () => {
      const cluster = new TestCluster([1, 2, 3], { ...PAPER, maxMessageBytes: 1000, unsafeFaults: { commitEntriesOfEarlierTerms: broken } });
      const checker = new InvariantChecker();
      const seen = new Map<number, number>();
      const observe = (): void => checkCluster(cluster, checker, seen);
      const step = (act: () => void): void => {
        act();
        cluster.stabilize();
        observe();
      };
      step(() => cluster.elect(1));
      step(() => cluster.propose(1, "a"));
      // S1, cut off, appends two large entries of term 1 that nobody else gets.
      step(() => cluster.isolate(1));
      step(() => {
        cluster.node(1).propose(new Uint8Array(900), { term: 1 });
        cluster.node(1).propose(new Uint8Array(900).fill(1), { term: 1 });
      });
      // S2 wins term 2, but its entry of term 2 reaches no one.
      cluster.drop((m) => m.from === 2 && m.type === "MsgApp");
      step(() => cluster.elect(2));
      assert.equal(cluster.node(2).status().role, "leader");
      // S1 comes back while S2 is away and wins term 3 with S3; only its first old entry gets through.
      cluster.heal();
      cluster.isolate(2);
      cluster.drop((m) => m.from === 1 && m.type === "MsgApp" && m.entries.some((e) => e.index === 4));
      step(() => cluster.tick(1)); // a heartbeat answered with term 2 makes S1 step down
      step(() => cluster.elect(1));
      assert.deepEqual([cluster.node(1).status().role, cluster.node(1).status().term], ["leader", 3]);
      assert.equal(cluster.node(1).status().commit, broken ? 3 : 2, "entry 3 (term 1) is on S1 and S3");
      // S2 returns and wins term 4 with S3's vote: S3's last entry is of term 1, S2's of term 2.
      cluster.heal();
      cluster.isolate(1);
      step(() => cluster.tick(2));
      const electS2 = (): void => step(() => cluster.elect(2));
      if (broken) assert.throws(electS2, (err: unknown) => err instanceof InvariantViolation && /leader completeness: leader 2 of term 4/.test(err.message));
      else {
        electS2();
        assert.equal(cluster.node(2).status().role, "leader", "entry 3 was never committed: overwriting it is fine");
      }
    });
  }
});
