import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { planMembership, type MemberFact, type MembershipFacts, type MembershipStep } from "./membership.ts";

const voter = (ordinal: number): MemberFact => ({ ordinal, id: ordinal + 1, role: "voter" });
const learner = (ordinal: number): MemberFact => ({ ordinal, id: ordinal + 1, role: "learner" });

test("one step at a time, in the safe order", () => {
  const cases: Array<[string, MembershipFacts, MembershipStep]> = [
    ["steady", { desired: 3, statefulSetReplicas: 3, members: [voter(0), voter(1), voter(2)], leaderOrdinal: 1 }, { kind: "done" }],
    ["creation", { desired: 3, statefulSetReplicas: 0, members: undefined, leaderOrdinal: undefined }, { kind: "scale-statefulset", replicas: 3 }],
    ["no leader", { desired: 5, statefulSetReplicas: 3, members: undefined, leaderOrdinal: undefined }, { kind: "wait", reason: "no leader answered: membership changes need one" }],
    ["grow by one pod", { desired: 5, statefulSetReplicas: 3, members: [voter(0), voter(1), voter(2)], leaderOrdinal: 0 }, { kind: "scale-statefulset", replicas: 4 }],
    ["new pod added as a learner", { desired: 5, statefulSetReplicas: 4, members: [voter(0), voter(1), voter(2)], leaderOrdinal: 0 }, { kind: "add-learner", ordinal: 3, id: 4 }],
    ["learner catching up", { desired: 5, statefulSetReplicas: 4, members: [voter(0), voter(1), voter(2), learner(3)], leaderOrdinal: 0 }, { kind: "wait", reason: "member 3 is still a learner, catching up" }],
    ["remove the highest first", { desired: 3, statefulSetReplicas: 5, members: [0, 1, 2, 3, 4].map(voter), leaderOrdinal: 0 }, { kind: "remove-member", ordinal: 4, id: 5 }],
    ["its pod goes once removed", { desired: 3, statefulSetReplicas: 5, members: [0, 1, 2, 3].map(voter), leaderOrdinal: 0 }, { kind: "scale-statefulset", replicas: 4 }],
    ["leadership moves away first", { desired: 3, statefulSetReplicas: 5, members: [0, 1, 2, 3, 4].map(voter), leaderOrdinal: 4 }, { kind: "transfer-leadership", fromOrdinal: 4, toOrdinal: 0 }],
    ["a member whose pod is gone", { desired: 3, statefulSetReplicas: 3, members: [0, 1, 2, 3].map(voter), leaderOrdinal: 2 }, { kind: "remove-member", ordinal: 3, id: 4 }],
  ];
  for (const [name, facts, want] of cases) assert.deepEqual(planMembership(facts), want, name);
});

/** The world the operator acts on: pods join as learners by themselves, the leader promotes them. */
interface World {
  sts: number;
  members: Map<number, "voter" | "learner">;
  leader: number;
  /** Removed members whose pod still runs: a node with data never joins again by itself. */
  removed: Set<number>;
}

function facts(w: World, desired: number): MembershipFacts {
  return { desired, statefulSetReplicas: w.sts, members: [...w.members].map(([ordinal, role]) => ({ ordinal, id: ordinal + 1, role })), leaderOrdinal: w.leader };
}

function perform(w: World, s: MembershipStep): void {
  if (s.kind === "scale-statefulset") {
    w.sts = s.replicas;
    // The StatefulSet deletes the volumes of the pods it scales away (whenScaled: Delete): a pod
    // that comes back later starts empty and joins again.
    for (const o of w.removed) if (o >= w.sts) w.removed.delete(o);
  }
  else if (s.kind === "transfer-leadership") w.leader = s.toOrdinal;
  else if (s.kind === "add-learner") {
    assert.ok(s.ordinal < w.sts, "only pods that exist are added");
    w.members.set(s.ordinal, "learner");
    w.removed.delete(s.ordinal);
  } else if (s.kind === "remove-member") {
    assert.notEqual(s.ordinal, w.leader, "never removes the leader");
    w.members.delete(s.ordinal);
    w.removed.add(s.ordinal);
  }
}

/** Between passes: a pod without membership joins as a learner; a learner may be promoted. */
function settle(w: World, promote: boolean, join: boolean): void {
  for (const [o, role] of w.members) if (role === "learner" && promote) w.members.set(o, "voter");
  if (join) for (let o = 0; o < w.sts; o++) if (!w.members.has(o) && !w.removed.has(o)) w.members.set(o, "learner");
}

test("from any size to any other, through operator crashes and slow pods: converges, never two learners, never removes the leader", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(1, 3, 5, 7),
      fc.array(fc.record({ desired: fc.constantFrom(1, 3, 5, 7), crash: fc.boolean(), promote: fc.boolean(), join: fc.boolean() }), { minLength: 1, maxLength: 60 }),
      (start, passes) => {
        const w: World = { sts: start, members: new Map(Array.from({ length: start }, (_, o) => [o, "voter"] as const)), leader: start - 1, removed: new Set() };
        let desired = start;
        const check = (): void => {
          assert.ok([...w.members.values()].filter((r) => r === "learner").length <= 1, "at most one member catching up");
          assert.ok(w.members.has(w.leader), "the leader is a member");
        };
        for (const p of passes) {
          desired = p.desired;
          const step = planMembership(facts(w, desired));
          // A crash before the step took effect: the next pass decides again from the same facts.
          if (!p.crash) perform(w, step);
          settle(w, p.promote, p.join);
          check();
        }
        // Then calm: the last desired size is reached.
        for (let i = 0; i < 100 && planMembership(facts(w, desired)).kind !== "done"; i++) {
          perform(w, planMembership(facts(w, desired)));
          settle(w, true, true);
          check();
        }
        assert.equal(planMembership(facts(w, desired)).kind, "done");
        assert.equal(w.sts, desired);
        assert.deepEqual([...w.members.keys()].sort((a, b) => a - b), Array.from({ length: desired }, (_, o) => o));
        assert.ok([...w.members.values()].every((r) => r === "voter"));
      },
    ),
    { numRuns: 300 },
  );
});
