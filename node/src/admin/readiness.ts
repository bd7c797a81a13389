import type { ReadinessFacts } from "./backend.ts";

export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

/**
 * Ready means: a member of a cluster that has a leader, with the log applied up to the commit
 * index seen at start. Before that the node would serve replicas an older binlog than its peers.
 */
export function evaluateReadiness(facts: ReadinessFacts): Readiness {
  if (!facts.isMember) return { ready: false, reason: "not a member of the cluster" };
  if (facts.leaderId === undefined) return { ready: false, reason: "no leader is known" };
  if (facts.startupCommitIndex === undefined) return { ready: false, reason: "waiting to learn the commit index" };
  if (facts.appliedIndex < facts.startupCommitIndex) {
    return { ready: false, reason: `catching up: applied ${facts.appliedIndex} of ${facts.startupCommitIndex}` };
  }
  return { ready: true };
}
