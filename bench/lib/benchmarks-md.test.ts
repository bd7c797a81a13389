import assert from "node:assert/strict";
import { test } from "node:test";
import { anchor, figureOwner, formatNumber, formatRatio, goalMet, keyNotes, parseResult, relinkNote, renderPage, type ResultRow, type StoredResult } from "./benchmarks-md.ts";
import { parseRunTimes } from "./run-times.ts";

const row = (goal: string, kingbus: number | null, baseline: number | null, extra: Partial<ResultRow> = {}): ResultRow => ({
  measure: "m",
  kingbus,
  baseline,
  unit: "x",
  goal,
  ratio: kingbus !== null && baseline !== null ? kingbus / baseline : null,
  ...extra,
});

test("goalMet reads the goal shapes the benchmarks use", () => {
  assert.equal(goalMet(row("> etcd (ratio > 1)", 2, 1)), true);
  assert.equal(goalMet(row("> etcd (ratio > 1)", 1, 2)), false);
  assert.equal(goalMet(row("≤ etcd (ratio ≤ 1; lower is better)", 1, 1)), true);
  assert.equal(goalMet(row("≤ etcd (ratio ≤ 1; lower is better)", 3, 1)), false);
  assert.equal(goalMet(row("≥ 0.8 of raw", 76, 100)), false);
  assert.equal(goalMet(row("≥ 0.8 of raw", 86, 100)), true);
  assert.equal(goalMet(row("≤ 2x raw pread", 209, 100)), false);
  assert.equal(goalMet(row("≥ 100 MB/s", 187, 2957)), true);
  assert.equal(goalMet(row("≥ 102,400 entries/s (100 MiB/s)", 100_000, 1)), false);
  assert.equal(goalMet(row("< 1000 ms (baseline column = goal)", 12.9, 1000)), true);
  assert.equal(goalMet(row("bounded, ≤ replica", 405, 19_826)), true);
  assert.equal(goalMet(row("kingbus >= MariaDB", 90, 100)), false);
  assert.equal(goalMet(row("for reference (ratio < 1: kingbus faster)", 1, 2)), null);
  assert.equal(goalMet(row("lower is better", 1, 2)), null);
  assert.equal(goalMet(row("no scan: about one read", 1, 2)), null);
  // Missing figures give no verdict; an explicit verdict wins over the text.
  assert.equal(goalMet(row("> etcd (ratio > 1)", null, 1)), null);
  assert.equal(goalMet(row("> etcd (ratio > 1)", 1, 2, { met: true })), true);
  assert.equal(goalMet(row("anything", 1, 2, { met: null })), null);
});

test("parseResult tolerates extra, missing and mistyped fields and recomputes the ratio", () => {
  const r = parseResult({ name: "raft", extra: 1, rows: [{ measure: "a", kingbus: 1, baseline: 3, unit: "ms", goal: "g", ratio: 0.333, more: true }, { measure: "b", kingbus: null, baseline: 2 }, "junk"], notes: ["n", 3] }, "file");
  assert.equal(r.name, "raft");
  assert.equal(r.title, "file");
  assert.equal(r.machine, undefined);
  assert.equal(r.rows.length, 2);
  assert.equal(r.rows[0]!.ratio, 1 / 3);
  assert.equal(r.rows[1]!.kingbus, null);
  assert.equal(r.rows[1]!.ratio, null);
  assert.deepEqual(r.notes, ["n"]);
  assert.throws(() => parseResult([1, 2], "x"), /not a JSON object/);
});

test("formatting, links, notes and figure owners", () => {
  assert.equal(formatNumber(12_345.6), "12,346");
  assert.equal(formatNumber(12.34), "12.3");
  assert.equal(formatNumber(1.234), "1.23");
  assert.equal(formatNumber(0.01234), "0.012");
  assert.equal(formatNumber(null), "n/a");
  assert.equal(formatRatio(0.00334), "0.0033");
  assert.equal(formatRatio(1.5), "1.50");
  assert.equal(relinkNote("- ![chart](ingest.svg) and [x](https://e.org/a)", "bench/results"), "- ![chart](bench/results/ingest.svg) and [x](https://e.org/a)");
  const { kept, left } = keyNotes(["a", "Profile, x", "b", "c", "d", "e", "f", "g", "Warning: busy", "CPU: 2 cores. Warning: the machine was not quiet."], 6, 100);
  assert.deepEqual(kept, ["a", "b", "c", "d", "e", "Warning: busy", "CPU: 2 cores. Warning: the machine was not quiet."]);
  assert.equal(left, 3);
  assert.equal(figureOwner("raft-core-x.svg", ["raft", "raft-core"]), "raft-core");
  assert.equal(figureOwner("raft.svg", ["raft", "raft-core"]), "raft");
  assert.equal(figureOwner("other.svg", ["raft"]), undefined);
  assert.equal(anchor("Ingest: a real MariaDB primary (sysbench oltp_write_only), kingbus"), "ingest-a-real-mariadb-primary-sysbench-oltp_write_only-kingbus");
});

test("renderPage keeps the fixed order, says what is missing and links figures", () => {
  const result = (name: string, goal: string): StoredResult => ({
    name,
    title: `${name} title`,
    baseline: "b",
    machine: { cpu: "cpu", cores: 2, memoryGiB: 24, os: "linux", node: "v24" },
    date: "2026-01-01T00:00:00.000Z",
    rows: [row(goal, 2, 1)],
    notes: ["first ![c](raft.svg)"],
  });
  const page = renderPage({ results: new Map([["raft", result("raft", "> etcd (ratio > 1)")], ["codec", result("codec", "≥ 5 x")], ["zzz", result("zzz", "g")]]), files: ["raft.svg", "raft-extra.svg", "codec.json"] });
  const at = (s: string): number => page.indexOf(s);
  assert.ok(at("## codec title") < at("## raft title") && at("## raft title") < at("## zzz title"));
  assert.match(page, /## Failover time against etcd\n\nNot run: no `bench\/results\/failover.json` \(`make bench-failover` produces it\)/);
  assert.match(page, /!\[raft: raft-extra\]\(bench\/results\/raft-extra.svg\)/);
  assert.doesNotMatch(page, /!\[raft: raft\]\(/, "a figure the notes already show is not repeated");
  assert.match(page, /first !\[c\]\(bench\/results\/raft.svg\)/);
  assert.match(page, /\| m \| 2.00 x \| 1.00 x \| 2.00 \| > etcd \(ratio > 1\) \| yes \|/);
  assert.match(page, /Machine: cpu, 2 cores, 24 GiB, linux, Node v24/);
});

test("the last make bench's timings: read back, shown against the budget, failures named; anything else is not timings", () => {
  const stored = { date: "2026-11-22T06:00:00.000Z", totalSeconds: 1380, budgetSeconds: 1500, benchmarks: [{ name: "raft", seconds: 400, ok: true }, { name: "memory", seconds: 540, ok: false }] };
  const times = parseRunTimes(JSON.parse(JSON.stringify(stored)) as unknown);
  assert.deepEqual(times, stored);
  const page = renderPage({ results: new Map(), files: [], runTimes: times! });
  assert.match(page, /Last full `make bench`: 23\.0 min on 2026-11-22 06:00 UTC, within its 25-minute budget; \*\*failed\*\*: memory\. Per benchmark: raft 6\.7 min, memory 9\.0 min \(failed\)\./);
  assert.match(renderPage({ results: new Map(), files: [], runTimes: { ...stored, totalSeconds: 1600, benchmarks: [] } }), /26\.7 min .* \*\*over\*\* its 25-minute budget\.\n/);
  assert.equal(parseRunTimes({ name: "raft", rows: [] }), undefined);
  assert.equal(parseRunTimes(null), undefined);
});
