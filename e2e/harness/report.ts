/** e2e/results/summary.json and summary.md: per scenario, passed, failover and lag recovery seconds. */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScenarioResult } from "./scenario.ts";

export const resultsDir = join(resolve(dirname(fileURLToPath(import.meta.url)), ".."), "results");

export interface Summary {
  startedAt: string;
  finishedAt: string;
  seconds: number;
  short: boolean;
  passed: boolean;
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string };
  scenarios: ScenarioResult[];
}

export function machine(): Summary["machine"] {
  return { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), os: `${platform()} ${release()}`, node: process.version };
}

const num = (v: number | null | undefined): string => (v === null || v === undefined ? "–" : v.toFixed(2));

export function markdown(s: Summary): string {
  const lines = [
    "# Kingbus end-to-end suite",
    "",
    `${s.startedAt} · ${s.seconds.toFixed(0)} s · ${s.passed ? "**all passed**" : "**FAILED**"}${s.short ? " · short form" : ""} · ${s.machine.cores} cores (${s.machine.cpu}), ${s.machine.memoryGiB} GiB, Node ${s.machine.node}`,
    "",
    "Failover: from the fault until a pod's syncer pulls from the primary again (worst of the scenario's faults).",
    "Lag recovery: from the fault until every replica's lag is under 1 s again.",
    "",
    "| # | scenario | result | failover s | lag recovery s | replica lag p99 ms (whole run) | duration s |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of s.scenarios) {
    const result = r.skipped ? `skipped: ${r.skipped}` : r.passed ? "passed" : "**failed**";
    const p99 = Object.entries(r.lag).filter(([n]) => n !== "kingbus" || !r.replicas).map(([, v]) => v.p99Ms);
    lines.push(`| ${r.id} | ${r.title} | ${result}${r.replicas || r.skipped ? "" : " (no replicas)"} | ${num(r.failoverSeconds)} | ${num(r.lagRecoverySeconds)} | ${p99.length ? Math.max(...p99) : "–"} | ${r.seconds.toFixed(0)} |`);
  }
  for (const r of s.scenarios) {
    if (r.skipped) continue;
    lines.push("", `## ${r.id}. ${r.title}`, "");
    if (r.failovers.length) {
      lines.push("| fault | new leader | elected s | pulling s | lag < 1 s after s | peak lag s | replicas were on |", "| --- | --- | --- | --- | --- | --- | --- |");
      for (const f of r.failovers) lines.push(`| ${f.label} | ${f.leader ?? "–"} | ${num(f.electedSeconds)} | ${num(f.pullingSeconds)} | ${num(f.lagRecoverySeconds)} | ${num(f.peakLagSeconds)} | ${f.replicasOn ? Object.values(f.replicasOn).map((p) => (p === null ? "?" : `pod ${p}`)).join(", ") : "–"} |`);
      lines.push("");
    }
    if (Object.keys(r.metrics).length) lines.push(`Figures: ${Object.entries(r.metrics).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(", ")}`, "");
    for (const c of r.checks) lines.push(`- ${c.ok === true ? "✔" : c.ok === "skipped" ? "–" : "✘"} ${c.name}: ${c.detail.replace(/\n/g, " ")}`);
    if (r.error) lines.push(`- ✘ error: ${r.error.split("\n")[0]}`);
  }
  return lines.join("\n") + "\n";
}

export function writeSummary(s: Summary, dir = resultsDir): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "summary.json"), JSON.stringify(s, null, 2) + "\n");
  writeFileSync(join(dir, "summary.md"), markdown(s));
}
