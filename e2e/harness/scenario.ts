/**
 * What a scenario is, how one runs, and the failover measurement the fault scenarios share.
 *
 * A scenario gets a fresh Environment (env.ts) built from its options, drives load and faults
 * through `run`, may add checks of its own, and ends with Environment.verify(). It passes when
 * `run` finished and every check passed; its result carries the failover figures.
 */
import { performance } from "node:perf_hooks";
import { summariseLag } from "../../bench/lib/lag-probe.ts";
import { Environment, type Check, type EnvOptions } from "./env.ts";
import { log } from "./log.ts";
import { stopAllMariadb } from "../../node/test-support/mariadb.ts";

export interface Failover {
  label: string;
  /** The pod(s) the fault hit. */
  pods: number[];
  /** New leader (or the leader after the fault). */
  leader: number | undefined;
  /** From the fault until a leader was agreed on, s. */
  electedSeconds: number | null;
  /** From the fault until a pod's syncer was dumping from the primary again, s. */
  pullingSeconds: number | null;
  /** From the fault until every replica's (or, without replicas, kingbus's) lag was under 1 s again, s. */
  lagRecoverySeconds: number | null;
  /** Largest lag seen from the fault to recovery, s. */
  peakLagSeconds: number | null;
  /** The pod each replica was reading from just before the fault. */
  replicasOn?: Record<string, number | null>;
}

export interface ScenarioContext {
  env: Environment;
  /** The short form (make test): fewer rounds, less time under load. */
  short: boolean;
  failovers: Failover[];
  /** Figures of the scenario's own, reported as they are. */
  metrics: Record<string, unknown>;
  /** Checks of the scenario's own, beside verify()'s. */
  check(name: string, ok: boolean, detail: string): void;
}

export interface Scenario {
  id: number;
  slug: string;
  title: string;
  env: (short: boolean) => Omit<EnvOptions, "name">;
  /** Why it cannot run here (e.g. needs root), or undefined. */
  skip?: () => string | undefined;
  run(ctx: ScenarioContext): Promise<void>;
  /** verify() tolerates exits the scenario caused on purpose without killing (a full disk). */
  allowExits?: boolean;
}

export interface ScenarioResult {
  id: number;
  slug: string;
  title: string;
  passed: boolean;
  skipped?: string;
  short: boolean;
  replicas: boolean;
  seconds: number;
  setupSeconds: number;
  /** Worst (largest) over the scenario's faults; null when it has none. */
  failoverSeconds: number | null;
  lagRecoverySeconds: number | null;
  failovers: Failover[];
  lag: Record<string, { p50Ms: number; p99Ms: number; maxMs: number; samples: number }>;
  metrics: Record<string, unknown>;
  checks: Check[];
  error?: string;
}

const LAG_THRESHOLD_MS = 1000;

/**
 * After a fault at `faultAt` (performance.now()): waits for an agreed leader and for a pod (not in
 * `exclude`) pulling from the primary, then (unless `waitLag` is false) for every follower's lag
 * to be under 1 s.
 */
export async function measureFailover(
  env: Environment,
  label: string,
  pods: number[],
  faultAt: number,
  o: { exclude?: number[]; timeoutMs?: number; replicasOn?: Record<string, number | null>; waitLag?: boolean } = {},
): Promise<Failover> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const exclude = o.exclude ?? [];
  const [elected, pulling] = await Promise.all([
    env.cluster.waitForLeader(timeoutMs, exclude).then((leader) => ({ leader, at: performance.now() })).catch(() => undefined),
    env.cluster.waitForPulling(timeoutMs, exclude).then((id) => ({ id, at: performance.now() })).catch(() => undefined),
  ]);
  const f: Failover = {
    label,
    pods,
    leader: elected?.leader ?? pulling?.id,
    electedSeconds: elected ? seconds(elected.at - faultAt) : null,
    pullingSeconds: pulling ? seconds(pulling.at - faultAt) : null,
    lagRecoverySeconds: null,
    peakLagSeconds: null,
    ...(o.replicasOn && Object.keys(o.replicasOn).length ? { replicasOn: o.replicasOn } : {}),
  };
  if (o.waitLag !== false && pulling) await measureLagRecovery(env, f, faultAt, pulling.at, timeoutMs);
  log(`${label}: leader ${f.leader ?? "?"} agreed after ${f.electedSeconds ?? "-"} s, pulling after ${f.pullingSeconds ?? "-"} s${o.waitLag === false ? "" : `, ${env.lagFollowers().join(" and ")} lag under 1 s after ${f.lagRecoverySeconds ?? "-"} s (peak ${f.peakLagSeconds ?? "-"} s)`}${o.replicasOn && Object.keys(o.replicasOn).length ? `; replicas were on ${Object.entries(o.replicasOn).map(([n, p]) => `${n}: pod ${p ?? "?"}`).join(", ")}` : ""}`);
  return f;
}

function seconds(ms: number): number {
  return Math.round(ms) / 1000;
}

/**
 * Fills in f.lagRecoverySeconds (from the fault until every follower's lag, sampled from `fromMs`
 * on, is under 1 s) and f.peakLagSeconds. Gives up early when a replica's replication broke.
 */
export async function measureLagRecovery(env: Environment, f: Failover, faultAt: number, fromMs: number, timeoutMs = 30_000): Promise<void> {
  const names = env.lagFollowers();
  const recovered = await env.lag.waitBelow(names, LAG_THRESHOLD_MS, fromMs, timeoutMs, () => env.replicasBroken());
  const peak = Math.max(...names.map((n) => env.lag.maxLag(n, faultAt, recovered ?? performance.now())));
  f.lagRecoverySeconds = recovered !== undefined ? seconds(Math.max(recovered, faultAt) - faultAt) : null;
  f.peakLagSeconds = Number.isFinite(peak) ? seconds(peak) : null;
}

function worst(values: Array<number | null>): number | null {
  const known = values.filter((v): v is number => v !== null);
  if (known.length < values.length) return null;
  return known.length ? Math.max(...known) : null;
}

export async function runScenario(s: Scenario, o: { short: boolean; timeoutMs?: number }): Promise<ScenarioResult> {
  const began = performance.now();
  const result: ScenarioResult = {
    id: s.id,
    slug: s.slug,
    title: s.title,
    passed: false,
    short: o.short,
    replicas: false,
    seconds: 0,
    setupSeconds: 0,
    failoverSeconds: null,
    lagRecoverySeconds: null,
    failovers: [],
    lag: {},
    metrics: {},
    checks: [],
  };
  const skip = s.skip?.();
  if (skip) {
    result.skipped = skip;
    log(`scenario ${s.id} (${s.title}): skipped: ${skip}`);
    return result;
  }
  log(`scenario ${s.id}: ${s.title}${o.short ? " (short form)" : ""}`);
  let env: Environment | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    env = await Environment.start({ name: `s${s.id}`, ...s.env(o.short) });
    result.replicas = env.withReplicas;
    result.setupSeconds = Math.round(env.setupSeconds * 10) / 10;
    const ctx: ScenarioContext = {
      env,
      short: o.short,
      failovers: result.failovers,
      metrics: result.metrics,
      check: (name, ok, detail) => {
        result.checks.push({ name, ok, detail });
        log(`  ${ok ? "✔" : "✘"} ${name}: ${detail}`);
      },
    };
    const loadFrom = performance.now();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`scenario did not finish within ${((o.timeoutMs ?? 300_000) / 1000).toFixed(0)} s`)), o.timeoutMs ?? 300_000);
    });
    await Promise.race([s.run(ctx), timeout]);
    clearTimeout(timer);
    const loadTo = performance.now();
    for (const name of env.lag.names()) {
      const sum = summariseLag(env.lag.probe.lag(name), loadFrom, loadTo);
      result.lag[name] = { p50Ms: Math.round(sum.p50Ms), p99Ms: Math.round(sum.p99Ms), maxMs: Math.round(sum.maxMs), samples: sum.samples };
    }
    log(`scenario ${s.id}: verifying`);
    result.checks.push(...(await env.verify({ allowExits: s.allowExits })));
  } catch (e) {
    clearTimeout(timer);
    result.error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    log(`scenario ${s.id} failed: ${result.error}`);
    if (env) {
      const tails = env.cluster.ids.map((id) => `--- pod ${id}, last lines of its log ---\n${env!.cluster.logTail(id).split("\n").slice(-15).join("\n")}`).join("\n");
      result.error += `\n${tails}`;
      log(tails);
    }
  } finally {
    await env?.stop().catch((e: unknown) => log(`cleanup: ${String(e)}`));
    await stopAllMariadb();
  }
  result.failoverSeconds = worst(result.failovers.map((f) => f.pullingSeconds));
  result.lagRecoverySeconds = worst(result.failovers.map((f) => f.lagRecoverySeconds));
  result.passed = result.error === undefined && result.checks.every((c) => c.ok !== false);
  result.seconds = Math.round((performance.now() - began) / 100) / 10;
  log(`scenario ${s.id}: ${result.passed ? "PASSED" : "FAILED"} in ${result.seconds} s`);
  return result;
}
