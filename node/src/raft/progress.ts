/**
 * What a leader knows of one follower's log, and how it sends to it:
 *
 * - probe: the leader does not know where the logs diverge; it sends one append at a time and
 *   waits for the answer (or a heartbeat response) before the next.
 * - replicate: the logs match up to `match`; the leader streams appends optimistically, `next`
 *   running ahead of `match`, as long as the inflight window has room.
 * - snapshot: the follower needs entries the leader no longer has; the leader sent its snapshot and
 *   sends nothing else until the transport reports how the snapshot went.
 */
import { Inflights } from "./inflights.ts";

export const ProgressState = {
  Probe: "probe",
  Replicate: "replicate",
  Snapshot: "snapshot",
} as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

export class Progress {
  /** Highest index known to be in the follower's log, identical to the leader's. */
  match = 0;
  /** Next index to send. Invariant: match < next. */
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** Index of the snapshot sent while in the snapshot state. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive: boolean;
  /**
   * In probe: an append is outstanding. In replicate: the window was full after the last send.
   * A heartbeat response clears it, so one message can go out to find out what happened.
   */
  paused = false;
  /** Highest commit index sent to the follower, so commit-only appends are not sent twice. */
  sentCommit = 0;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, options: { isLearner: boolean; recentActive: boolean; maxInflightBytes?: number }) {
    this.next = Math.max(next, 1);
    this.inflights = new Inflights(maxInflight, options.maxInflightBytes ?? 0);
    this.isLearner = options.isLearner;
    this.recentActive = options.recentActive;
  }

  private resetState(state: ProgressState): void {
    this.paused = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot the follower holds everything up to it, whether or not it said so yet.
    const floor = this.state === ProgressState.Snapshot ? this.pendingSnapshot : 0;
    this.resetState(ProgressState.Probe);
    this.next = Math.max(this.match + 1, floor + 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
    this.next = snapshotIndex + 1;
    this.sentCommit = snapshotIndex;
  }

  /** Bookkeeping after an append of `count` entries (`bytes` of entry data) went out. */
  sentEntries(count: number, bytes = 0): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next += count;
        this.inflights.add(this.next - 1, bytes);
      }
      this.paused = this.inflights.full();
    } else if (count > 0) {
      this.paused = true;
    }
  }

  /** An acknowledgement up to `index`; false when it tells nothing new. */
  maybeUpdate(index: number): boolean {
    if (index <= this.match) return false;
    this.match = index;
    this.next = Math.max(this.next, index + 1);
    this.paused = false;
    return true;
  }

  /**
   * A rejection of the append at `rejected`; `matchHint` is where the leader now guesses the logs
   * match. False when the rejection is stale (an answer to an earlier, superseded probe).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (rejected <= this.match && matchHint < this.match) {
      // The follower refuses what it once acknowledged and says its log ends below it: it lost
      // its log (a wiped data directory). Start over from where it says it is. Lowering match only
      // slows commits; a stale rejection arriving late costs one more probe, nothing else.
      this.match = matchHint;
      this.next = matchHint + 1;
      this.sentCommit = Math.min(this.sentCommit, matchHint);
      this.paused = false;
      return true;
    }
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      this.sentCommit = Math.min(this.sentCommit, this.next - 1);
      return true;
    }
    // Outside replicate one append is outstanding at a time: any other rejection is an old one.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.sentCommit = Math.min(this.sentCommit, this.next - 1);
    this.paused = false;
    return true;
  }

  isPaused(): boolean {
    return this.state === ProgressState.Snapshot || this.paused;
  }

  /** Whether an append carrying only the commit index would teach the follower something. */
  canBumpCommit(commit: number): boolean {
    return commit > this.sentCommit && this.sentCommit < this.next - 1;
  }

  describe(): string {
    const flags = [this.isLearner ? "learner" : "", this.isPaused() ? "paused" : "", this.recentActive ? "" : "inactive"].filter(Boolean);
    const snap = this.state === ProgressState.Snapshot ? ` snap=${this.pendingSnapshot}` : "";
    return `${this.state} match=${this.match} next=${this.next}${snap} inflight=${this.inflights.size}${flags.length ? " " + flags.join(" ") : ""}`;
  }
}
