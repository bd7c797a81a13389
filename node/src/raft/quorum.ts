/**
 * Majority arithmetic over a set of voters. Learners never reach these functions: callers pass
 * voters only.
 */

export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters have matched: sort the matches in descending order
 * and take the one at the majority's position. No voters, no commitment.
 */
export function committedIndex(voters: readonly number[], matchOf: (id: number) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[majority(voters.length) - 1]!;
}

export type VoteOutcome = "won" | "lost" | "pending";

/** Votes from non-voters are ignored: only the voters of the candidate's own membership decide. */
export function voteOutcome(voters: readonly number[], votes: ReadonlyMap<number, boolean>): VoteOutcome {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (voters.length > 0 && granted >= needed) return "won";
  if (voters.length === 0 || voters.length - rejected < needed) return "lost";
  return "pending";
}

export function hasQuorum(voters: readonly number[], isActive: (id: number) => boolean): boolean {
  if (voters.length === 0) return false;
  return voters.filter(isActive).length >= majority(voters.length);
}
