/**
 * Scenario 1: steady replication. The primary runs sysbench and the mix for 60 s (15 s in the
 * short form) while nothing breaks; the replicas, through kingbus, stay within a second of the
 * primary, and the run ends with the common checks.
 */
import { performance } from "node:perf_hooks";
import { summariseLag } from "../../bench/lib/lag-probe.ts";
import { log, sleep } from "../harness/log.ts";
import type { Scenario } from "../harness/scenario.ts";

export const steady: Scenario = {
  id: 1,
  slug: "steady",
  title: "steady replication under load",
  env: () => ({}),
  async run(ctx) {
    const { env } = ctx;
    const seconds = ctx.short ? 15 : 60;
    env.startLoad();
    const from = performance.now();
    for (let t = 0; t < seconds; t += 5) {
      await sleep(Math.min(5, seconds - t) * 1000);
      const lags = env.lag.names().map((n) => `${n} ${((env.lag.current(n)?.lagMs ?? NaN) / 1000).toFixed(2)} s`);
      log(`steady ${Math.min(seconds, t + 5)}/${seconds} s: sysbench ${env.sysbench?.lastTps.toFixed(0)} tps, mix ${env.mix.stats.ops} ops; lag ${lags.join(", ")}`);
    }
    const to = performance.now();
    // Lag settles after the load starts; judge the steady part (after the first 5 s). The short
    // form runs inside make test, beside other test files on the same cores: 2 s there.
    const boundMs = ctx.short ? 2000 : 1000;
    for (const name of env.lagFollowers()) {
      const sum = summariseLag(env.lag.probe.lag(name), from + 5000, to);
      ctx.metrics[`${name}LagP99Ms`] = Math.round(sum.p99Ms);
      ctx.check(`${name} lag under ${boundMs / 1000} s at p99 while steady`, sum.samples > 0 && sum.p99Ms < boundMs, `p50 ${sum.p50Ms.toFixed(0)} ms, p99 ${sum.p99Ms.toFixed(0)} ms, max ${sum.maxMs.toFixed(0)} ms over ${sum.samples} samples`);
    }
    ctx.metrics.mixOps = env.mix.stats.ops;
    ctx.metrics.mixErrors = env.mix.stats.errors;
    ctx.check("the load ran without errors", env.mix.stats.errors === 0 && (env.sysbench?.runs ?? 1) === 1, `mix ${env.mix.stats.ops} ops, ${env.mix.stats.errors} errors${env.mix.stats.lastError ? ` (${env.mix.stats.lastError})` : ""}; sysbench started ${env.sysbench?.runs} time(s), ~${env.sysbench?.transactions.toFixed(0)} transactions`);
  },
};
