/**
 * Closed-loop load for the cluster benchmarks: N writers each issue one write, wait for it, and
 * issue the next, for a warm-up then a fixed measuring window. Plus a keep-alive HTTP POST client
 * and the CPU time of other processes (from /proc) to see where the cores went.
 */
import { Agent, request } from "node:http";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

export interface LoadOptions {
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  /** One write by writer `w`; resolves once it is committed. */
  op: (w: number) => Promise<void>;
  /** Called when the measuring window starts and when it ends (to sample CPU counters). */
  onWindow?: (phase: "start" | "end") => void;
}

export interface LoadResult {
  /** Writes completed inside the measuring window. */
  writes: number;
  seconds: number;
  perSecond: number;
  /** Latencies in ms of the writes completed inside the window, ascending. */
  latencies: Float64Array;
  errors: number;
  firstError: string | undefined;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function closedLoop(o: LoadOptions): Promise<LoadResult> {
  const start = performance.now();
  const windowStart = start + o.warmupMs;
  const windowEnd = windowStart + o.measureMs;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const fired = new Set<"start" | "end">();
  const fire = (phase: "start" | "end"): void => {
    if (fired.has(phase)) return;
    fired.add(phase);
    o.onWindow?.(phase);
  };
  const timers = [setTimeout(() => fire("start"), o.warmupMs), setTimeout(() => fire("end"), o.warmupMs + o.measureMs)];
  const writer = async (w: number): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= windowEnd) return;
      try {
        await o.op(w);
      } catch (e) {
        const t = performance.now();
        if (t >= windowStart && t <= windowEnd) errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
        await sleep(10);
        continue;
      }
      const t1 = performance.now();
      if (t1 >= windowStart && t1 <= windowEnd) latencies.push(t1 - t0);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => writer(w)));
  // A timer late behind a busy event loop still fires, in order, before the results are read.
  for (const t of timers) clearTimeout(t);
  fire("start");
  fire("end");
  const sorted = Float64Array.from(latencies).sort();
  const seconds = o.measureMs / 1000;
  return { writes: sorted.length, seconds, perSecond: sorted.length / seconds, latencies: sorted, errors, firstError };
}

/** POSTs bodies over keep-alive connections (one per concurrent request, up to maxSockets). */
export class KeepAlivePoster {
  private readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(host: string, port: number, maxSockets: number) {
    this.host = host;
    this.port = port;
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /** Resolves on 200; rejects with the status and body otherwise. */
  post(path: string, body: Buffer, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.host, port: this.port, path, method: "POST", agent: this.agent, timeout: timeoutMs, headers: { "content-type": "application/octet-stream", "content-length": body.length } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** Sockets opened so far (to check that connections were reused). */
  sockets(): number {
    let n = 0;
    for (const list of Object.values(this.agent.sockets)) n += list?.length ?? 0;
    for (const list of Object.values(this.agent.freeSockets)) n += list?.length ?? 0;
    return n;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Kernel clock ticks per second for /proc/<pid>/stat times: 100 on every Linux we run on. */
const CLK_TCK = 100;

/** CPU seconds (user + system) a process used so far, or 0 when /proc does not tell. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine spent busy so far (all cores; /proc/stat), or 0 when unknown. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    return ((v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0) + (v[7] ?? 0)) / CLK_TCK;
  } catch {
    return 0;
  }
}
