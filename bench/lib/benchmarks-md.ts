/**
 * The pure part of the BENCHMARKS.md generator (scripts/benchmarks-md.ts): reading a result file's
 * JSON tolerantly, deciding from a row's goal whether it is met, and rendering the whole page.
 * No file system here: the script reads bench/results/ and hands the contents over.
 *
 * Whether a goal is met: a row may say so itself (`met: true | false`, or `null` for a row that
 * is there for reference); otherwise the goal's text is read for the few shapes the benchmarks
 * use: "(ratio > 1)", "≥ 0.8 of raw", "≤ 2x raw pread", "≥ 100 MB/s", "< 1000 ms", "> etcd",
 * "kingbus >= MariaDB". A goal in none of these shapes ("lower is better", "for reference") gets
 * no verdict rather than a guessed one.
 */

import { renderRunTimes, type BenchRunTimes } from "./run-times.ts";

/** The benchmarks in the order the page shows them, with what reproduces each. */
export const BENCHMARKS: ReadonlyArray<{ name: string; title: string; make: string }> = [
  { name: "codec", title: "Binlog codec", make: "make bench-codec" },
  { name: "storage", title: "Segment log storage", make: "make bench-storage" },
  { name: "raft-core", title: "Raft core (in process)", make: "make bench-raft-core" },
  { name: "transport", title: "Peer transport", make: "make bench-transport" },
  { name: "raft", title: "Replicated writes against etcd", make: "make bench-raft" },
  { name: "ingest", title: "Ingest against a direct MariaDB replica", make: "make bench-ingest" },
  { name: "fanout", title: "Fan-out against MariaDB", make: "make bench-fanout" },
  { name: "failover", title: "Failover time against etcd", make: "make bench-failover" },
  { name: "memory", title: "Resident memory", make: "make bench-memory" },
];

export interface ResultRow {
  measure: string;
  kingbus: number | null;
  baseline: number | null;
  unit: string;
  goal: string;
  ratio: number | null;
  /** Set by the benchmark itself when it knows; undefined: read from the goal's text. */
  met?: boolean | null;
}

export interface ResultMachine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

export interface StoredResult {
  name: string;
  title: string;
  baseline: string;
  machine: ResultMachine | undefined;
  date: string;
  rows: ResultRow[];
  notes: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
const numOrNull = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * A result file's content as the page needs it. Extra fields are ignored; a missing or mistyped
 * field becomes empty (or null for numbers) rather than failing the whole page. Throws only when
 * the content is not a JSON object at all.
 */
export function parseResult(json: unknown, fallbackName: string): StoredResult {
  if (!isRecord(json)) throw new Error(`${fallbackName}: not a JSON object`);
  const m = json.machine;
  const machine: ResultMachine | undefined = isRecord(m)
    ? { cpu: str(m.cpu, "unknown"), cores: numOrNull(m.cores) ?? 0, memoryGiB: numOrNull(m.memoryGiB) ?? 0, os: str(m.os), node: str(m.node) }
    : undefined;
  const rows: ResultRow[] = (Array.isArray(json.rows) ? json.rows : []).filter(isRecord).map((r) => {
    const kingbus = numOrNull(r.kingbus);
    const baseline = numOrNull(r.baseline);
    const stored = numOrNull(r.ratio);
    // Computed again when both figures are there: the stored one is rounded to 3 decimals.
    const ratio = kingbus !== null && baseline !== null && baseline !== 0 ? kingbus / baseline : stored;
    const row: ResultRow = { measure: str(r.measure), kingbus, baseline, unit: str(r.unit), goal: str(r.goal), ratio };
    if (typeof r.met === "boolean" || r.met === null) row.met = r.met;
    return row;
  });
  const notes = (Array.isArray(json.notes) ? json.notes : []).filter((n): n is string => typeof n === "string");
  return { name: str(json.name, fallbackName), title: str(json.title, fallbackName), baseline: str(json.baseline), machine, date: str(json.date), rows, notes };
}

type Cmp = "<" | "<=" | ">" | ">=";

function comparator(s: string): Cmp | undefined {
  switch (s) {
    case "<":
      return "<";
    case "≤":
    case "<=":
      return "<=";
    case ">":
      return ">";
    case "≥":
    case ">=":
      return ">=";
    default:
      return undefined;
  }
}

function holds(value: number, cmp: Cmp, target: number): boolean {
  switch (cmp) {
    case "<":
      return value < target;
    case "<=":
      return value <= target;
    case ">":
      return value > target;
    case ">=":
      return value >= target;
  }
}

/** "102,400" -> 102400, "1.5k" -> 1500. */
function number(text: string): number {
  const k = /k$/i.test(text);
  const n = Number(text.replace(/k$/i, "").replace(/,/g, ""));
  return k ? n * 1000 : n;
}

const CMP = "(≤|≥|<=|>=|<|>)";
const NUM = "(\\d[\\d,]*(?:\\.\\d+)?k?)";

/**
 * Whether the row meets its goal: true, false, or null when the goal states no checkable target
 * (or a figure it needs is missing).
 */
export function goalMet(row: ResultRow): boolean | null {
  if (row.met !== undefined) return row.met;
  const goal = row.goal;
  if (/for reference/i.test(goal)) return null;
  const ratio = row.ratio;
  // "(ratio > 1)", "ratio ≤ 1; lower is better"
  let m = new RegExp(`ratio\\s*${CMP}\\s*${NUM}`).exec(goal);
  if (m) return ratio === null ? null : holds(ratio, comparator(m[1]!)!, number(m[2]!));
  // "≥ 0.8 of raw", "≤ 2x raw pread"
  m = new RegExp(`${CMP}\\s*${NUM}\\s*(?:x\\b|of\\b)`).exec(goal);
  if (m) return ratio === null ? null : holds(ratio, comparator(m[1]!)!, number(m[2]!));
  // "≥ 100 MB/s", "< 1000 ms (baseline column = goal)", "≥ 102,400 entries/s (100 MiB/s)"
  m = new RegExp(`${CMP}\\s*${NUM}`).exec(goal);
  if (m) return row.kingbus === null ? null : holds(row.kingbus, comparator(m[1]!)!, number(m[2]!));
  // "> etcd", "≤ replica", "bounded, ≤ replica", "kingbus >= MariaDB"
  m = new RegExp(`${CMP}\\s*[A-Za-z]`).exec(goal);
  if (m) return ratio === null ? null : holds(ratio, comparator(m[1]!)!, 1);
  return null;
}

/** A figure for a table cell: about 3-4 significant digits, thousands separated, "n/a" when missing. */
export function formatNumber(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "n/a";
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : a === 0 ? 0 : 3;
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A ratio: two decimals, or two significant digits below 0.01 (0.0033 rather than 0.00). */
export function formatRatio(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return "n/a";
  if (v !== 0 && Math.abs(v) < 0.01) return v.toPrecision(2);
  return v >= 100 ? v.toFixed(0) : v.toFixed(2);
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** Image and link targets of a result's notes are relative to bench/results/; the page is at the root. */
export function relinkNote(note: string, resultsPath: string): string {
  return note.replace(/(!?\[[^\]]*\]\()([^)\s]+)(\))/g, (all, open: string, target: string, close: string) =>
    /^(?:[a-z]+:|\/|#)/i.test(target) || target.startsWith(`${resultsPath}/`) ? all : `${open}${resultsPath}/${target}${close}`,
  );
}

/** At most `max` characters, cut at the end of a sentence when there is one late enough. */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const end = Math.max(cut.lastIndexOf(". "), cut.lastIndexOf("; "));
  return `${end > max * 0.5 ? cut.slice(0, end + 1) : cut.trimEnd()} …`;
}

/**
 * The notes worth a glance: the first `first` notes, plus any later one that states a goal, a
 * warning (the machine was not quiet), a diagnosis or what changed a figure; each shortened to
 * `maxChars`. Notes that are CPU profiles stay
 * in the benchmark's own .md (they are long and read only when digging).
 */
export function keyNotes(notes: readonly string[], first = 6, maxChars = 700): { kept: string[]; left: number } {
  const important = /^(Goal|Warning|Not met|Met|What changed|What the profiles|Changed|Fixed|Machine|Diagnosis|Summary)/i;
  const kept: string[] = [];
  notes.forEach((n, i) => {
    if (/^Profile\b/.test(n)) return;
    if (i < first || important.test(n) || /\bWarning:/.test(n)) kept.push(shorten(n, maxChars));
  });
  return { kept, left: notes.length - kept.length };
}

export function machineLine(m: ResultMachine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}`;
}

export interface PageInput {
  /** Results by benchmark name. */
  results: ReadonlyMap<string, StoredResult>;
  /** File names in the results folder (to find each benchmark's SVG figures). */
  files: readonly string[];
  /** Results that could not be read: file name and why. */
  unreadable?: ReadonlyArray<{ file: string; reason: string }>;
  /** The results folder relative to the page (default bench/results). */
  resultsPath?: string;
  /** How long the last full `make bench` took. */
  runTimes?: BenchRunTimes;
}

/** Which benchmark a figure belongs to: the longest name it is `<name>.svg` or `<name>-….svg` of. */
export function figureOwner(file: string, names: readonly string[]): string | undefined {
  return names
    .filter((n) => file === `${n}.svg` || (file.startsWith(`${n}-`) && file.endsWith(".svg")))
    .sort((a, b) => b.length - a.length)[0];
}

function verdict(met: boolean | null): string {
  return met === null ? "—" : met ? "yes" : "**no**";
}

/** The id GitHub gives a heading: lower case, punctuation but "-" and "_" dropped, spaces to "-". */
export function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
    .replace(/ /g, "-");
}

/** BENCHMARKS.md: header, a summary line per benchmark, then each benchmark's table, figures and notes. */
export function renderPage(input: PageInput): string {
  const dir = input.resultsPath ?? "bench/results";
  const known = new Set(BENCHMARKS.map((b) => b.name));
  const extra = [...input.results.keys()].filter((n) => !known.has(n)).sort();
  const order = [...BENCHMARKS, ...extra.map((name) => ({ name, title: name, make: "" }))];
  const present = order.filter((b) => input.results.has(b.name)).map((b) => input.results.get(b.name)!);
  const machines = [...new Set(present.filter((r) => r.machine !== undefined).map((r) => machineLine(r.machine!)))];
  const dates = present.map((r) => r.date).filter((d) => d !== "").sort();

  const out: string[] = [];
  out.push("# Benchmarks");
  out.push("");
  out.push("<!-- Generated by scripts/benchmarks-md.ts from bench/results/*.json: edit the benchmarks, not this file. -->");
  out.push("");
  out.push(
    "What kingbus achieves against the system a user would otherwise pick (etcd for replicated writes, a MariaDB replica for ingest, MariaDB itself for serving binlogs) and against the machine's own limits (raw disk writes, raw reads, raw sockets), each measured in the same run on the same machine. Every table shows kingbus, that baseline, their ratio (kingbus / baseline), the goal and whether it is met.",
  );
  out.push("");
  out.push("Reproduce: `make bench` runs every benchmark (each bounded, progress on stderr; results in `bench/results/<name>.json` and `.md`) and regenerates this page; `make benchmarks-md` regenerates only the page from the stored results; `make bench-<name>` runs one benchmark (its knobs are in its notes).");
  out.push("");
  if (machines.length === 1) out.push(`Machine: ${machines[0]}. Results from ${dates[0]?.slice(0, 10) ?? "?"} to ${dates.at(-1)?.slice(0, 10) ?? "?"}.`);
  else if (machines.length > 1) out.push(`Machines (the results come from more than one; each section names its own): ${machines.map((m) => `${m}`).join("; ")}.`);
  out.push("The machine is shared: each benchmark records the CPU other processes used while it ran, and its notes say when the machine was not quiet.");
  out.push("");
  if (input.runTimes) out.push(...renderRunTimes(input.runTimes));

  out.push("| benchmark | goals met | run |");
  out.push("| --- | --- | --- |");
  for (const b of order) {
    const r = input.results.get(b.name);
    if (r === undefined) {
      out.push(`| ${cell(b.title)} | not run | — |`);
      continue;
    }
    const verdicts = r.rows.map(goalMet).filter((v): v is boolean => v !== null);
    const met = verdicts.filter((v) => v).length;
    out.push(`| [${cell(b.title)}](#${anchor(r.title)}) | ${verdicts.length === 0 ? "—" : `${met} of ${verdicts.length}${met === verdicts.length ? "" : " (**not all**)"}`} | ${r.date.slice(0, 16).replace("T", " ")} |`);
  }
  out.push("");

  for (const b of order) {
    const r = input.results.get(b.name);
    if (r === undefined) {
      out.push(`## ${b.title}`);
      out.push("");
      out.push(`Not run: no \`${dir}/${b.name}.json\`${b.make === "" ? "" : ` (\`${b.make}\` produces it)`}.`);
      out.push("");
      continue;
    }
    out.push(`## ${r.title}`);
    out.push("");
    out.push(`Baseline: ${r.baseline}. Run ${r.date}${r.machine !== undefined && machines.length > 1 ? ` on ${machineLine(r.machine)}` : ""}.${b.make === "" ? "" : ` Reproduce: \`${b.make}\`.`}`);
    out.push("");
    out.push("| measure | kingbus | baseline | ratio | goal | met |");
    out.push("| --- | ---: | ---: | ---: | --- | --- |");
    for (const row of r.rows) {
      const unit = row.unit === "" ? "" : ` ${row.unit}`;
      out.push(`| ${cell(row.measure)} | ${formatNumber(row.kingbus)}${row.kingbus === null ? "" : unit} | ${formatNumber(row.baseline)}${row.baseline === null ? "" : unit} | ${formatRatio(row.ratio)} | ${cell(row.goal)} | ${verdict(goalMet(row))} |`);
    }
    out.push("");
    const linked = r.notes.join("\n");
    const figures = input.files
      .filter((f) => f.endsWith(".svg") && figureOwner(f, order.map((o) => o.name)) === b.name)
      .sort()
      .filter((f) => !new RegExp(`\\]\\((?:${dir}/)?${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\)`).test(linked));
    for (const f of figures) out.push(`![${b.name}: ${f.replace(/\.svg$/, "")}](${dir}/${f})`, "");
    const { kept, left } = keyNotes(r.notes);
    for (const n of kept) out.push(`- ${relinkNote(n, dir)}`);
    if (left > 0 || kept.length < r.notes.length) out.push(`- Every note (${r.notes.length}, profiles included): [${dir}/${b.name}.md](${dir}/${b.name}.md).`);
    out.push("");
  }
  for (const u of input.unreadable ?? []) out.push(`Unreadable result file \`${dir}/${u.file}\`: ${u.reason}.`, "");
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}
