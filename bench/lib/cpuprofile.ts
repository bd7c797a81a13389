/**
 * Summarises a V8 .cpuprofile (what `node --cpu-prof` writes): self and inclusive time per
 * function, and self time per source file, as percentages of the busy (non-idle) time.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface HotEntry {
  what: string;
  percent: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers, ms. */
  totalMs: number;
  /** Time not idle, ms (everything but the "(idle)" node). */
  busyMs: number;
  /** Self time, % of busy time. */
  self: HotEntry[];
  /** Inclusive time (the function and what it called), % of busy time. */
  inclusive: HotEntry[];
  /** Self time per source file (node internals and packages grouped), % of busy time. */
  files: HotEntry[];
  /** Main-thread GC pauses: runs of consecutive "(garbage collector)" samples. */
  gc: { pauses: number; over5ms: number; longestMs: number; totalMs: number };
}

function place(url: string, root: string): string {
  if (url === "") return "";
  let p = url;
  if (url.startsWith("file://")) {
    try {
      p = relative(root, fileURLToPath(url));
    } catch {
      p = url;
    }
  }
  const nm = p.lastIndexOf("node_modules/");
  if (nm >= 0) p = p.slice(nm + "node_modules/".length);
  return p;
}

function label(frame: ProfileNode["callFrame"], root: string): string {
  const fn = frame.functionName || "(anonymous)";
  const where = place(frame.url, root);
  return where === "" ? fn : `${where}:${frame.lineNumber + 1} ${fn}`;
}

function fileOf(frame: ProfileNode["callFrame"], root: string): string {
  const where = place(frame.url, root);
  if (where === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native bindings)";
  if (where.startsWith("node:")) return "node: internals";
  if (!where.includes("/") || where.startsWith("..")) return where;
  // A package: its name is enough.
  if (!where.startsWith("node/") && !where.startsWith("bench/") && !where.startsWith("operator/")) {
    const parts = where.split("/");
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]} (package)` : `${parts[0]} (package)`;
  }
  return where;
}

function top(map: Map<string, number>, busy: number, n: number): HotEntry[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([what, us]) => ({ what, percent: Math.round((1000 * us) / busy) / 10 }));
}

/**
 * `window`: only the samples taken in [startUs, endUs] of the monotonic clock, in µs. V8 stamps
 * samples with that clock (CLOCK_MONOTONIC on Linux, shared by every process), the same one as
 * `process.hrtime.bigint() / 1000n` in any process on the machine.
 */
export function summariseProfile(file: string, root: string, n = 15, window?: { startUs: number; endUs: number }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of p.nodes) {
    byId.set(node.id, node);
    for (const c of node.children ?? []) parent.set(c, node.id);
  }
  const selfUs = new Map<number, number>();
  const gc = { pauses: 0, over5ms: 0, longestMs: 0, totalMs: 0 };
  let pauseUs = 0;
  const endPause = (): void => {
    if (pauseUs === 0) return;
    gc.pauses++;
    if (pauseUs > 5000) gc.over5ms++;
    gc.longestMs = Math.max(gc.longestMs, pauseUs / 1000);
    gc.totalMs += pauseUs / 1000;
    pauseUs = 0;
  };
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const delta = p.timeDeltas[i] ?? 0;
    at += delta;
    if (window !== undefined && (at < window.startUs || at > window.endUs)) continue;
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + delta);
    if (byId.get(p.samples[i]!)?.callFrame.functionName === "(garbage collector)") pauseUs += delta;
    else endPause();
  }
  endPause();
  gc.longestMs = Math.round(gc.longestMs * 10) / 10;
  gc.totalMs = Math.round(gc.totalMs);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const files = new Map<string, number>();
  let busy = 0;
  let total = 0;
  for (const [id, us] of selfUs) {
    total += us;
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") continue;
    busy += us;
    const key = label(node.callFrame, root);
    self.set(key, (self.get(key) ?? 0) + us);
    const f = fileOf(node.callFrame, root);
    files.set(f, (files.get(f) ?? 0) + us);
    // Every distinct function on the stack gets this time once (recursion counted once).
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = label(byId.get(at)!.callFrame, root);
      if (k === "(root)" || seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  return { totalMs: total / 1000, busyMs: busy / 1000, self: top(self, busy, n), inclusive: top(inclusive, busy, n), files: top(files, busy, n), gc };
}
