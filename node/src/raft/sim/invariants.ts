/**
 * The safety properties of Raft (§5.2-§5.4 and Figure 3 of the paper), checked incrementally as the
 * simulation runs: each check looks only at what the last step changed, so checking after every step
 * stays cheap.
 *
 * - Election safety: at most one leader per term.
 * - Log matching: two entries with the same index and term hold the same data and follow entries of
 *   the same term (by induction, identical prefixes).
 * - Leader completeness: an entry committed before term T is in the log of every leader of term T.
 * - State machine safety: every node applies entries in index order without gaps, and the entry
 *   applied at an index is the same on every node (so applied sequences are prefixes of one another).
 * - Durability of commitment: once any node reports an index committed, no node ever reports a
 *   different entry committed there, and snapshots agree with it.
 */
import { KingbusError } from "../../errors.ts";
import type { RawNode } from "../raw-node.ts";
import type { Entry, SnapshotMetadata } from "../types.ts";

export class InvariantViolation extends KingbusError {
  constructor(message: string) {
    super("SIM_INVARIANT", message);
  }
}

interface Committed {
  key: string;
  term: number;
  /** A term at or after the one in which the entry was committed (the observer's term). */
  seenInTerm: number;
}

interface Seen {
  key: string;
  prevTerm: number | undefined;
}

/** Identity of an entry's content: term, type and a hash of the payload. */
export function entryKey(e: Entry): string {
  let h = 0x811c9dc5;
  const data = e.data;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193);
  return `${e.term}/${e.type}/${data.length}/${(h >>> 0).toString(16)}`;
}

export class InvariantChecker {
  private readonly leaderOfTerm = new Map<number, number>();
  private readonly committed = new Map<number, Committed>();
  private readonly seen = new Map<string, Seen>();
  checks = 0;

  get committedCount(): number {
    return this.committed.size;
  }

  get termsWithLeader(): number {
    return this.leaderOfTerm.size;
  }

  committedKey(index: number): string | undefined {
    return this.committed.get(index)?.key;
  }

  /** Election safety; returns true when `id` is a leader not seen before in `term`. */
  observeLeader(id: number, term: number): boolean {
    this.checks++;
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) {
      this.leaderOfTerm.set(term, id);
      return true;
    }
    if (known !== id) throw new InvariantViolation(`election safety: nodes ${known} and ${id} both lead term ${term}`);
    return false;
  }

  /** Leader completeness for a leader of `term` just observed. */
  checkLeaderLog(id: number, term: number, node: RawNode): void {
    this.checks++;
    const { firstIndex, lastIndex } = node.status();
    for (const [index, c] of this.committed) {
      if (c.seenInTerm >= term || index < firstIndex) continue;
      if (index > lastIndex) {
        throw new InvariantViolation(`leader completeness: leader ${id} of term ${term} ends at ${lastIndex}, missing entry ${index} committed by term ${c.seenInTerm}`);
      }
      const [e] = node.logEntries(index, index + 1);
      if (entryKey(e!) !== c.key) {
        throw new InvariantViolation(`leader completeness: leader ${id} of term ${term} holds ${entryKey(e!)} at ${index}, committed was ${c.key}`);
      }
    }
  }

  /** Log matching, for entries a node just handed out to persist, `prevTerm` preceding the first. */
  observeAppended(id: number, entries: readonly Entry[], prevTerm: number | undefined): void {
    this.checks++;
    let before = prevTerm;
    for (const e of entries) {
      const at = `${e.index}:${e.term}`;
      const key = entryKey(e);
      const known = this.seen.get(at);
      if (known === undefined) {
        this.seen.set(at, { key, prevTerm: before });
      } else {
        if (known.key !== key) throw new InvariantViolation(`log matching: node ${id} holds ${key} at index ${e.index} term ${e.term}, another node held ${known.key}`);
        if (known.prevTerm !== undefined && before !== undefined && known.prevTerm !== before) {
          throw new InvariantViolation(`log matching: node ${id} has term ${before} before index ${e.index} term ${e.term}, another node had term ${known.prevTerm}`);
        }
        if (known.prevTerm === undefined && before !== undefined) known.prevTerm = before;
      }
      before = e.term;
    }
  }

  /** An entry some node knows to be committed (by its commit index or by applying it). */
  observeCommitted(id: number, e: Entry, observerTerm: number): void {
    this.checks++;
    const key = entryKey(e);
    const known = this.committed.get(e.index);
    if (known === undefined) {
      this.committed.set(e.index, { key, term: e.term, seenInTerm: observerTerm });
      return;
    }
    if (known.key !== key) {
      throw new InvariantViolation(`committed entry lost: node ${id} has ${key} committed at index ${e.index}, where ${known.key} was committed`);
    }
    known.seenInTerm = Math.min(known.seenInTerm, observerTerm);
  }

  /** State machine safety: node `id` applies `e` right after `applied`. */
  observeApplied(id: number, e: Entry, applied: number, observerTerm: number): void {
    if (e.index !== applied + 1) throw new InvariantViolation(`state machine safety: node ${id} applied index ${e.index} right after ${applied}`);
    this.observeCommitted(id, e, observerTerm);
  }

  /** A snapshot a node installs must cover committed entries only, ending at the committed term. */
  observeSnapshot(id: number, snapshot: SnapshotMetadata, applied: number): void {
    this.checks++;
    if (snapshot.index <= applied) throw new InvariantViolation(`node ${id} installed snapshot ${snapshot.index} at or below its applied index ${applied}`);
    const known = this.committed.get(snapshot.index);
    if (known === undefined) throw new InvariantViolation(`node ${id} installed snapshot ${snapshot.index} of uncommitted entries`);
    if (known.term !== snapshot.term) {
      throw new InvariantViolation(`committed entry lost: snapshot ${snapshot.index} has term ${snapshot.term}, committed entry there has term ${known.term}`);
    }
  }
}
