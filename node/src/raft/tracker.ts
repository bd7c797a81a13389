/**
 * The membership in force on this node and, when it leads, the progress of every other member;
 * plus the votes of the election it is running. Quorums are counted over voters only.
 */
import { emptyConfState, isMember } from "./conf-change.ts";
import { Progress } from "./progress.ts";
import { committedIndex, hasQuorum, voteOutcome, type VoteOutcome } from "./quorum.ts";
import type { ConfState } from "./types.ts";

export class ProgressTracker {
  conf: ConfState = emptyConfState();
  readonly progress = new Map<number, Progress>();
  private readonly votes = new Map<number, boolean>();
  private readonly maxInflight: number;
  private readonly maxInflightBytes: number;

  constructor(maxInflight: number, maxInflightBytes = 0) {
    this.maxInflight = maxInflight;
    this.maxInflightBytes = maxInflightBytes;
  }

  /** Every member, voters first, in id order. */
  members(): number[] {
    return [...this.conf.voters, ...this.conf.learners];
  }

  isVoter(id: number): boolean {
    return this.conf.voters.includes(id);
  }

  /**
   * Adopts a membership. Members that stay keep their progress; new ones start probing at
   * `nextIndex` and count as active, so a leader does not lose its quorum to a member it has had
   * no chance to hear from yet.
   */
  setConf(conf: ConfState, nextIndex: number): void {
    this.conf = conf;
    for (const id of [...this.progress.keys()]) if (!isMember(conf, id)) this.progress.delete(id);
    for (const id of this.members()) {
      const isLearner = conf.learners.includes(id);
      const existing = this.progress.get(id);
      if (existing) existing.isLearner = isLearner;
      else this.progress.set(id, new Progress(nextIndex, this.maxInflight, { isLearner, recentActive: true, maxInflightBytes: this.maxInflightBytes }));
    }
  }

  /** Fresh progress for every member, as a new leader knows nothing of the others' logs. */
  resetProgress(nextIndex: number): void {
    this.progress.clear();
    for (const id of this.members()) {
      this.progress.set(id, new Progress(nextIndex, this.maxInflight, { isLearner: this.conf.learners.includes(id), recentActive: false, maxInflightBytes: this.maxInflightBytes }));
    }
  }

  committedIndex(): number {
    return committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  /** The first answer of a voter counts; duplicates and late changes of mind do not. */
  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  voteOutcome(): VoteOutcome {
    return voteOutcome(this.conf.voters, this.votes);
  }

  /** Whether a majority of voters was heard from since the last reset; the leader counts itself. */
  quorumActive(selfId: number): boolean {
    return hasQuorum(this.conf.voters, (id) => id === selfId || this.progress.get(id)?.recentActive === true);
  }

  resetRecentActive(selfId: number): void {
    for (const [id, pr] of this.progress) pr.recentActive = id === selfId;
  }
}
