/** How long the last full `make bench` took, per benchmark (bench/results/make-bench.json). */
export const RUN_BUDGET_SECONDS = 25 * 60;
export const RUN_TIMES_FILE = "make-bench.json";

export interface BenchRunTimes {
  /** When the run started (ISO). */
  date: string;
  totalSeconds: number;
  budgetSeconds: number;
  benchmarks: Array<{ name: string; seconds: number; ok: boolean }>;
}

/** The timings file, or undefined when it is not one. */
export function parseRunTimes(value: unknown): BenchRunTimes | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Partial<BenchRunTimes>;
  if (typeof v.date !== "string" || typeof v.totalSeconds !== "number" || typeof v.budgetSeconds !== "number" || !Array.isArray(v.benchmarks)) return undefined;
  const benchmarks = v.benchmarks.filter((b): b is BenchRunTimes["benchmarks"][number] => typeof b === "object" && b !== null && typeof b.name === "string" && typeof b.seconds === "number" && typeof b.ok === "boolean");
  return { date: v.date, totalSeconds: v.totalSeconds, budgetSeconds: v.budgetSeconds, benchmarks };
}

/** The lines BENCHMARKS.md shows for it. */
export function renderRunTimes(t: BenchRunTimes): string[] {
  const within = t.totalSeconds <= t.budgetSeconds;
  const failed = t.benchmarks.filter((b) => !b.ok).map((b) => b.name);
  return [
    `Last full \`make bench\`: ${(t.totalSeconds / 60).toFixed(1)} min on ${t.date.slice(0, 16).replace("T", " ")} UTC, ${within ? "within" : "**over**"} its ${t.budgetSeconds / 60}-minute budget${failed.length ? `; **failed**: ${failed.join(", ")}` : ""}.${t.benchmarks.length ? ` Per benchmark: ${t.benchmarks.map((b) => `${b.name} ${(b.seconds / 60).toFixed(1)} min${b.ok ? "" : " (failed)"}`).join(", ")}.` : ""}`,
    "",
  ];
}
