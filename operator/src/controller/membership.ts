/**
 * Raft membership follows spec.replicas one safe step per reconcile pass. Pure: the controller
 * gathers the facts (the StatefulSet's size, the members the leader reports) and performs the one
 * step this returns; the next pass sees its effect and decides again. Any pass may be the last
 * before a crash of the operator, so every step is safe on its own and the plan is recomputed from
 * facts, never from a remembered intention.
 *
 * Scale up, per member: grow the StatefulSet by one pod, then add it as a learner (a fresh pod also
 * asks to join by itself through member 0; whichever comes first wins, the other is told it exists),
 * and the leader promotes it once its log caught up. The next pod waits until that one is a voter,
 * so the cluster never has two members catching up. A pod that runs but is not a member (removed
 * by a scale down that was reverted before its pod went) is added back the same way: a node with
 * data never asks to join by itself.
 *
 * Scale down, per member, highest ordinal first: move leadership away from it if it leads; remove
 * it from the Raft membership (a majority agrees on the smaller cluster before its pod goes); then
 * shrink the StatefulSet by one.
 */

export interface MemberFact {
  /** The pod ordinal (id - 1). */
  readonly ordinal: number;
  readonly id: number;
  readonly role: "voter" | "learner";
}

export interface MembershipFacts {
  /** spec.replicas. */
  readonly desired: number;
  /** The StatefulSet's spec.replicas as it stands. */
  readonly statefulSetReplicas: number;
  /** Members in force, as the leader reports them; undefined when no leader answered. */
  readonly members: readonly MemberFact[] | undefined;
  /** Ordinal of the leader, when known. */
  readonly leaderOrdinal: number | undefined;
}

export type MembershipStep =
  | { readonly kind: "done" }
  | { readonly kind: "wait"; readonly reason: string }
  | { readonly kind: "scale-statefulset"; readonly replicas: number }
  | { readonly kind: "transfer-leadership"; readonly fromOrdinal: number; readonly toOrdinal: number }
  | { readonly kind: "remove-member"; readonly ordinal: number; readonly id: number }
  | { readonly kind: "add-learner"; readonly ordinal: number; readonly id: number };

export function planMembership(f: MembershipFacts): MembershipStep {
  // A cluster being created: the StatefulSet starts at the bootstrap size, nothing to step through.
  if (f.statefulSetReplicas === 0) return { kind: "scale-statefulset", replicas: f.desired };
  if (f.members === undefined || f.leaderOrdinal === undefined) return { kind: "wait", reason: "no leader answered: membership changes need one" };
  const members = [...f.members].sort((a, b) => a.ordinal - b.ordinal);
  const learners = members.filter((m) => m.role === "learner");

  // Members without a pod (the StatefulSet shrank before their removal, e.g. an operator crash
  // between the two steps of a scale down, or a manual scale): remove them, highest first.
  const orphan = members.filter((m) => m.ordinal >= f.statefulSetReplicas).at(-1);
  if (orphan) return removeOrLeave(orphan, members, f.leaderOrdinal);

  if (f.desired > f.statefulSetReplicas) {
    const settled = settleJoins(members, learners, f.statefulSetReplicas);
    return settled ?? { kind: "scale-statefulset", replicas: f.statefulSetReplicas + 1 };
  }

  if (f.desired < f.statefulSetReplicas) {
    const last = f.statefulSetReplicas - 1;
    const member = members.find((m) => m.ordinal === last);
    // Not (or no longer) a member: its pod can go.
    if (!member) return { kind: "scale-statefulset", replicas: last };
    return removeOrLeave(member, members, f.leaderOrdinal);
  }

  return settleJoins(members, learners, f.statefulSetReplicas) ?? { kind: "done" };
}

/** Every pod a voter: a learner is waited for; a pod that is not a member is added as one. */
function settleJoins(members: readonly MemberFact[], learners: readonly MemberFact[], podCount: number): MembershipStep | undefined {
  if (learners.length > 0) return { kind: "wait", reason: `member ${learners.map((m) => m.ordinal).join(", ")} is still a learner, catching up` };
  const missing = missingOrdinals(members, podCount).at(0);
  if (missing !== undefined) return { kind: "add-learner", ordinal: missing, id: missing + 1 };
  return undefined;
}

/** Removing the leader itself would leave the cluster without one until an election: move it first. */
function removeOrLeave(m: MemberFact, members: readonly MemberFact[], leaderOrdinal: number): MembershipStep {
  if (m.ordinal !== leaderOrdinal) return { kind: "remove-member", ordinal: m.ordinal, id: m.id };
  const to = members.filter((o) => o.role === "voter" && o.ordinal !== m.ordinal).at(0);
  if (!to) return { kind: "wait", reason: `member ${m.ordinal} leads and no other voter can take over` };
  return { kind: "transfer-leadership", fromOrdinal: m.ordinal, toOrdinal: to.ordinal };
}

function missingOrdinals(members: readonly MemberFact[], podCount: number): number[] {
  const present = new Set(members.map((m) => m.ordinal));
  const out: number[] = [];
  for (let o = 0; o < podCount; o++) if (!present.has(o)) out.push(o);
  return out;
}
