/**
 * Which prefix of the log retention may purge: whole sealed segments only, oldest first, never one
 * holding an entry not yet applied, while the log is over its size limit or a segment is older than
 * the age limit. Pure: the store supplies the segments and the clock.
 */
export interface RetentionPolicy {
  /** Keep the log at or under this many bytes (the open segment always stays). */
  maxBytes?: number;
  /** Purge sealed segments sealed longer ago than this. */
  maxAgeMs?: number;
}

export interface SegmentFacts {
  firstIndex: number;
  lastIndex: number;
  bytes: number;
  sealed: boolean;
  sealedMs: number;
}

/** The last index retention may purge through, or undefined when nothing may go. */
export function purgeThrough(segments: readonly SegmentFacts[], policy: RetentionPolicy, appliedIndex: number, nowMs: number): number | undefined {
  let total = segments.reduce((n, s) => n + s.bytes, 0);
  let through: number | undefined;
  for (const s of segments) {
    if (!s.sealed || s.lastIndex > appliedIndex) break;
    const overSize = policy.maxBytes !== undefined && total > policy.maxBytes;
    const tooOld = policy.maxAgeMs !== undefined && nowMs - s.sealedMs > policy.maxAgeMs;
    if (!overSize && !tooOld) break;
    through = s.lastIndex;
    total -= s.bytes;
  }
  return through;
}
