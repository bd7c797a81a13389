/**
 * A generic replication lag probe. The primary's progress (its @@gtid_binlog_pos) and each
 * follower's progress (any function returning a MariaDB GTID position, e.g. a replica's
 * @@gtid_slave_pos or kingbus's committed position) are sampled at the same fixed cadence, each
 * sample stamped with this process's monotonic clock (performance.now(), ms) when the question was
 * sent and when the answer came back.
 *
 * Lag of a follower sample holding position F = the sample's time minus the time the primary
 * first went past F: the age of the oldest transaction the primary had and the follower did not.
 * That is "its time minus the time the primary first reached its position" less the gap between
 * two commits (under load a millisecond or less, below the resolution), and unlike that figure it
 * is 0, not the time since the previous commit, when the follower holds everything the primary
 * has (when the load starts after an idle spell, say).
 *
 * The primary went past F between two of its samples: after the send time of the last sample
 * still at or behind F, and no later than the receive time of the first sample past it. Within
 * that gap the time is interpolated linearly on the sequence number (commits come at a
 * near-steady rate under load); the gap itself gives hard bounds on each figure:
 *
 *   lower = follower.send - primary[first past F].recv            (clamped at 0)
 *   upper = follower.recv - primary[last at or behind F].send     (clamped at 0)
 *   estimate = follower.mid - interpolated time of seq F + 1       (mid = (send + recv) / 2)
 *
 * So one lag figure is good to about one primary sampling interval plus the two round trips; the
 * bounds are reported beside the estimates. A follower sample is caught up (lag exactly 0) when a
 * primary sample sent after the follower's answer still was not past F. Positions compare per GTID
 * domain by sequence number; with several domains the primary went past F as soon as one domain
 * went past it.
 */
import { performance } from "node:perf_hooks";
import { parseMariadbGtidList } from "../../node/src/binlog/gtid-mariadb.ts";

/** Domain id -> sequence number (sequence numbers fit a double exactly up to 2^53). */
export type Position = ReadonlyMap<number, number>;

export function parsePosition(text: string): Position {
  const m = new Map<number, number>();
  for (const g of parseMariadbGtidList(text)) m.set(g.domain, Number(g.seq));
  return m;
}

/** Whether `a` holds everything `b` names: a[d] >= b[d] for every domain d of b. */
export function reached(a: Position, b: Position): boolean {
  for (const [d, seq] of b) if ((a.get(d) ?? 0) < seq) return false;
  return true;
}

export interface PositionSample {
  /** performance.now() when the question was sent and when the answer arrived, ms. */
  sendMs: number;
  recvMs: number;
  text: string;
  pos: Position;
}

export const midMs = (s: PositionSample): number => (s.sendMs + s.recvMs) / 2;

/**
 * Reads a position every `intervalMs` on a fixed schedule (start + k * interval) until stopped;
 * a read slower than the interval makes it skip the ticks it missed rather than pile up.
 */
export class PositionSampler {
  readonly name: string;
  readonly intervalMs: number;
  readonly samples: PositionSample[] = [];
  errors = 0;
  firstError: string | undefined;
  readonly #read: () => Promise<string>;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(name: string, read: () => Promise<string>, intervalMs: number) {
    this.name = name;
    this.#read = read;
    this.intervalMs = intervalMs;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    const origin = performance.now();
    let tick = 0;
    while (!this.#stopped) {
      const sendMs = performance.now();
      try {
        const text = await this.#read();
        const recvMs = performance.now();
        this.samples.push({ sendMs, recvMs, text, pos: parsePosition(text) });
      } catch (e) {
        this.errors++;
        this.firstError ??= e instanceof Error ? e.message : String(e);
      }
      const now = performance.now();
      tick = Math.max(tick + 1, Math.ceil((now - origin) / this.intervalMs));
      const wait = origin + tick * this.intervalMs - now;
      if (wait > 0 && !this.#stopped) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          this.#wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
  }

  latest(): PositionSample | undefined {
    return this.samples.at(-1);
  }

  /** Resolves with the first sample (taken from now on) that reached `target`; undefined on timeout. */
  async waitFor(target: Position, timeoutMs: number): Promise<PositionSample | undefined> {
    const from = this.samples.length;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.samples.length; i++) if (reached(this.samples[i]!.pos, target)) return this.samples[i];
      if (performance.now() > deadline || this.#stopped) return undefined;
      await new Promise((r) => setTimeout(r, Math.max(5, this.intervalMs / 4)));
    }
  }
}

export interface LagPoint {
  /** The follower sample's time (its send/receive midpoint), performance.now() ms. */
  atMs: number;
  /** Best estimate, ms (interpolated); 0 when caught up. */
  lagMs: number;
  /** Hard bounds on the lag at that sample, ms (see the file comment). */
  lowerMs: number;
  upperMs: number;
  caughtUp: boolean;
}

/** First index i with primary[i] past f (not reached(f, primary[i])), or primary.length. Primary positions only grow. */
function firstPast(primary: readonly PositionSample[], f: Position): number {
  let lo = 0;
  let hi = primary.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (!reached(f, primary[mid]!.pos)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * When the primary went past `f`, interpolated between sample a (at or behind f) and sample b
 * (past it), per domain on the sequence number (the time seq f[d] + 1 arrived); the earliest
 * domain decides.
 */
function interpolatePast(a: PositionSample, b: PositionSample, f: Position): number {
  const t0 = midMs(a);
  const t1 = midMs(b);
  let at = t1;
  for (const [d, s1] of b.pos) {
    const seq = f.get(d) ?? 0;
    if (s1 <= seq) continue;
    const s0 = a.pos.get(d) ?? 0;
    const frac = (seq + 1 - s0) / (s1 - s0);
    at = Math.min(at, t0 + Math.min(1, Math.max(0, frac)) * (t1 - t0));
  }
  return at;
}

/**
 * Lag of every follower sample against the primary's samples (both in time order). A follower
 * sample behind the primary's first sample is left out: the primary went past it before the probe
 * started, so its lag has no upper bound.
 */
export function lagSeries(primary: readonly PositionSample[], follower: readonly PositionSample[]): LagPoint[] {
  const out: LagPoint[] = [];
  for (const s of follower) {
    const at = midMs(s);
    const j = firstPast(primary, s.pos);
    if (j === 0) continue;
    const before = primary[j - 1]!;
    if (before.sendMs >= s.recvMs) {
      out.push({ atMs: at, lagMs: 0, lowerMs: 0, upperMs: 0, caughtUp: true });
      continue;
    }
    const upperMs = Math.max(0, s.recvMs - before.sendMs);
    if (j === primary.length) {
      // Never past F while sampled (the primary's sampler stopped before this follower sample).
      out.push({ atMs: at, lagMs: 0, lowerMs: 0, upperMs, caughtUp: false });
      continue;
    }
    const after = primary[j]!;
    const lagMs = Math.max(0, at - interpolatePast(before, after, s.pos));
    out.push({ atMs: at, lagMs, lowerMs: Math.max(0, s.sendMs - after.recvMs), upperMs, caughtUp: false });
  }
  return out;
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentileOf(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

export interface LagSummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** The same percentiles of the lower and upper bounds. */
  lower: { p50Ms: number; p99Ms: number; maxMs: number };
  upper: { p50Ms: number; p99Ms: number; maxMs: number };
  /** Share of samples that were caught up (nothing waiting). */
  caughtUpShare: number;
}

/** Percentiles of the lag over the samples taken in [fromMs, toMs]. */
export function summariseLag(points: readonly LagPoint[], fromMs: number, toMs: number): LagSummary {
  const inside = points.filter((p) => p.atMs >= fromMs && p.atMs <= toMs);
  const sorted = (f: (p: LagPoint) => number): number[] => inside.map(f).sort((a, b) => a - b);
  const est = sorted((p) => p.lagMs);
  const lo = sorted((p) => p.lowerMs);
  const hi = sorted((p) => p.upperMs);
  const stats = (v: number[]): { p50Ms: number; p99Ms: number; maxMs: number } => ({ p50Ms: percentileOf(v, 0.5), p99Ms: percentileOf(v, 0.99), maxMs: v.at(-1) ?? NaN });
  return {
    samples: inside.length,
    ...stats(est),
    meanMs: est.length ? est.reduce((a, v) => a + v, 0) / est.length : NaN,
    lower: stats(lo),
    upper: stats(hi),
    caughtUpShare: inside.length ? inside.filter((p) => p.caughtUp).length / inside.length : NaN,
  };
}

export interface CatchUp {
  /**
   * From `fromMs` (the load stopped) until the follower held the final position, ms: the middle of
   * the gap between the last sample without it and the first with it (0 if it already had it).
   */
  ms: number;
  /** That sample's receive time minus fromMs, ms: the catch-up happened no later than this. */
  upperMs: number;
  /** The previous sample's send time minus fromMs (clamped at 0): it happened after this. */
  lowerMs: number;
}

/** How long after `fromMs` the follower first held `final`; undefined when it never did. */
export function catchUpTime(follower: readonly PositionSample[], final: Position, fromMs: number): CatchUp | undefined {
  const i = follower.findIndex((s) => reached(s.pos, final));
  if (i < 0) return undefined;
  const s = follower[i]!;
  const prev = follower[i - 1];
  // It happened between the two samples: the middle of that gap is the unbiased estimate.
  const after = Math.max(fromMs, prev === undefined ? midMs(s) : midMs(prev));
  return {
    ms: Math.max(0, (after + midMs(s)) / 2 - fromMs),
    upperMs: Math.max(0, s.recvMs - fromMs),
    lowerMs: prev === undefined ? 0 : Math.max(0, prev.sendMs - fromMs),
  };
}

export interface RoundTrips {
  /** Median and largest time between consecutive samples, ms. */
  gapP50Ms: number;
  gapMaxMs: number;
  /** Send-to-receive time of the reads, ms. */
  rttP50Ms: number;
  rttP99Ms: number;
  rttMaxMs: number;
}

/** Cadence and round trips of a sampler's samples in [fromMs, toMs]: the resolution actually had. */
export function roundTrips(samples: readonly PositionSample[], fromMs: number, toMs: number): RoundTrips {
  const inside = samples.filter((s) => s.sendMs >= fromMs && s.sendMs <= toMs);
  const gaps = inside.slice(1).map((s, i) => s.sendMs - inside[i]!.sendMs).sort((a, b) => a - b);
  const rtts = inside.map((s) => s.recvMs - s.sendMs).sort((a, b) => a - b);
  return { gapP50Ms: percentileOf(gaps, 0.5), gapMaxMs: gaps.at(-1) ?? NaN, rttP50Ms: percentileOf(rtts, 0.5), rttP99Ms: percentileOf(rtts, 0.99), rttMaxMs: rtts.at(-1) ?? NaN };
}

/**
 * Transactions per second a sampler's position advanced by between the first sample taken at or
 * after `fromMs` and the last taken at or before `toMs` (sequence numbers summed over domains:
 * one per transaction, as a primary numbers them); NaN with fewer than two such samples.
 */
export function positionRate(samples: readonly PositionSample[], fromMs: number, toMs: number): number {
  const inside = samples.filter((s) => midMs(s) >= fromMs && midMs(s) <= toMs);
  const a = inside[0];
  const b = inside.at(-1);
  if (a === undefined || b === undefined || b === a) return NaN;
  const total = (p: Position): number => [...p.values()].reduce((x, v) => x + v, 0);
  return ((total(b.pos) - total(a.pos)) * 1000) / (midMs(b) - midMs(a));
}

/** The primary and any number of followers, sampled at one cadence. */
export class LagProbe {
  readonly primary: PositionSampler;
  readonly followers: Map<string, PositionSampler>;

  constructor(primary: () => Promise<string>, followers: Record<string, () => Promise<string>>, intervalMs = 50) {
    this.primary = new PositionSampler("primary", primary, intervalMs);
    this.followers = new Map(Object.entries(followers).map(([name, read]) => [name, new PositionSampler(name, read, intervalMs)]));
  }

  start(): void {
    this.primary.start();
    for (const f of this.followers.values()) f.start();
  }

  /** Stops every sampler; the primary's last, so follower samples near the end stay bracketed. */
  async stop(): Promise<void> {
    await Promise.all([...this.followers.values()].map((f) => f.stop()));
    await this.primary.stop();
  }

  lag(name: string): LagPoint[] {
    const f = this.followers.get(name);
    if (f === undefined) throw new Error(`no follower named ${name}`);
    return lagSeries(this.primary.samples, f.samples);
  }
}
