/**
 * Resident memory of processes from /proc: VmRSS (now), VmHWM (the peak since the process
 * started) and the split of RSS into anonymous memory (heap, buffers) and file-backed pages (the
 * node binary and libraries mapped in), plus a sampler that keeps each process's largest RSS over
 * a window, and the V8 breakdown a kingbus node publishes in its /metrics.
 */
import { readFileSync } from "node:fs";

const MIB = 1024 * 1024;

export interface Rss {
  /** VmRSS, MiB. */
  rssMiB: number;
  /** VmHWM: the largest RSS since the process started, MiB. */
  peakMiB: number;
  /** RssAnon: heap, stacks, buffers, MiB. */
  anonMiB: number;
  /** RssFile: mapped files (the executable, shared libraries), MiB. */
  fileMiB: number;
}

/** The process's memory from /proc/<pid>/status, or undefined when it is gone. */
export function readRss(pid: number): Rss | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return { rssMiB: kib("VmRSS"), peakMiB: kib("VmHWM"), anonMiB: kib("RssAnon"), fileMiB: kib("RssFile") };
}

/** Samples the RSS of a few processes every `intervalMs` and keeps each one's largest and last. */
export class RssSampler {
  private readonly timer: NodeJS.Timeout;
  private readonly max = new Map<number, number>();
  private readonly last = new Map<number, Rss>();
  private readonly pids: () => number[];

  constructor(pids: () => number[], intervalMs = 100) {
    this.pids = pids;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    for (const pid of this.pids()) {
      const r = readRss(pid);
      if (r === undefined || !Number.isFinite(r.rssMiB)) continue;
      this.last.set(pid, r);
      this.max.set(pid, Math.max(this.max.get(pid) ?? 0, r.rssMiB));
    }
  }

  /** The largest RSS seen of `pid` since the sampler started (or `reset`), MiB; NaN if never seen. */
  maxOf(pid: number): number {
    return this.max.get(pid) ?? NaN;
  }

  lastOf(pid: number): Rss | undefined {
    return this.last.get(pid);
  }

  /** Forgets the maxima: the next window starts now. */
  reset(): void {
    this.max.clear();
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface V8Memory {
  /** V8 heap: total reserved and used, MiB. */
  heapTotalMiB: number;
  heapUsedMiB: number;
  /** Memory outside the V8 heap held by JS objects (Buffers, ArrayBuffers), MiB. */
  externalMiB: number;
  /** process_resident_memory_bytes as the node reports it, MiB. */
  rssMiB: number;
}

/** The V8 memory figures from a Prometheus text exposition (prom-client's default metrics). */
export function v8MemoryFromMetrics(text: string, prefix = "kingbus_"): V8Memory {
  const value = (name: string): number => {
    const m = new RegExp(`^${prefix}${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)`, "m").exec(text);
    return m ? Number(m[1]) / MIB : NaN;
  };
  return { heapTotalMiB: value("nodejs_heap_size_total_bytes"), heapUsedMiB: value("nodejs_heap_size_used_bytes"), externalMiB: value("nodejs_external_memory_bytes"), rssMiB: value("process_resident_memory_bytes") };
}

/** GET http://127.0.0.1:<port>/metrics and read the V8 figures; undefined when it fails. */
export async function nodeV8Memory(httpPort: number): Promise<V8Memory | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (r.status !== 200) return undefined;
    return v8MemoryFromMetrics(await r.text());
  } catch {
    return undefined;
  }
}
