/**
 * Replication lag as the suite measures it, with bench/lib/lag-probe.ts: the primary's
 * @@gtid_binlog_pos and each follower's position (each replica's @@gtid_slave_pos, and kingbus's
 * committed position: the furthest any running pod applied) sampled every 100 ms on this process's
 * clock. The lag of a follower sample is its time minus the time the primary first went past its
 * position: the age of the oldest transaction the primary had and the follower did not.
 */
import { performance } from "node:perf_hooks";
import { LagProbe, lagSeries, type LagPoint } from "../../bench/lib/lag-probe.ts";
import { formatMariadbGtidList, parseMariadbGtidList, type MariadbGtid } from "../../node/src/binlog/gtid-mariadb.ts";

export const KINGBUS = "kingbus";

export class Lag {
  readonly probe: LagProbe;

  constructor(primary: () => Promise<string>, followers: Record<string, () => Promise<string>>, intervalMs = 100) {
    this.probe = new LagProbe(primary, followers, intervalMs);
  }

  start(): void {
    this.probe.start();
  }

  stop(): Promise<void> {
    return this.probe.stop();
  }

  names(): string[] {
    return [...this.probe.followers.keys()];
  }

  /** The lag of a follower's newest sample, ms (undefined before its first bracketed sample). */
  current(name: string): LagPoint | undefined {
    return lagSeries(this.probe.primary.samples, this.probe.followers.get(name)!.samples).at(-1);
  }

  /**
   * Waits for the first moment, at or after `fromMs` (performance.now()), at which every named
   * follower's newest sample taken since `fromMs` shows a lag under `thresholdMs`; resolves with
   * that time, or undefined after `timeoutMs`.
   */
  async waitBelow(names: string[], thresholdMs: number, fromMs: number, timeoutMs: number, broken?: () => Promise<string | undefined>): Promise<number | undefined> {
    const deadline = performance.now() + timeoutMs;
    let nextHealthCheck = performance.now() + 1000;
    for (;;) {
      if (broken && performance.now() > nextHealthCheck) {
        nextHealthCheck = performance.now() + 1000;
        if (await broken()) return undefined;
      }
      let when = 0;
      let ok = true;
      for (const name of names) {
        const sampler = this.probe.followers.get(name)!;
        const points = lagSeries(this.probe.primary.samples, sampler.samples.filter((s) => s.sendMs >= fromMs));
        const last = points.at(-1);
        if (!last || last.lagMs >= thresholdMs) {
          ok = false;
          break;
        }
        when = Math.max(when, last.atMs);
      }
      if (ok) return when;
      if (performance.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Largest lag (ms) a follower showed in [fromMs, toMs]. */
  maxLag(name: string, fromMs: number, toMs = Infinity): number {
    const points = this.probe.lag(name).filter((p) => p.atMs >= fromMs && p.atMs <= toMs);
    return points.reduce((m, p) => Math.max(m, p.lagMs), 0);
  }
}

/** Per-domain furthest of several MariaDB GTID positions, as a position text. */
export function furthest(positions: string[]): string {
  const byDomain = new Map<number, MariadbGtid>();
  for (const text of positions) {
    for (const g of parseMariadbGtidList(text)) {
      const have = byDomain.get(g.domain);
      if (!have || g.seq > have.seq) byDomain.set(g.domain, g);
    }
  }
  return formatMariadbGtidList([...byDomain.values()].sort((a, b) => a.domain - b.domain));
}
