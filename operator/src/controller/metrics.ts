/** The operator's Prometheus metrics (its own registry), prefixed `kingbus_operator_`. */
import { collectDefaultMetrics, Counter, exponentialBuckets, Gauge, Histogram, Registry } from "prom-client";
import type { ReconcileAction } from "./reconcile.ts";

export const OPERATOR_METRIC_PREFIX = "kingbus_operator_";

export interface OperatorMetrics {
  readonly registry: Registry;
  /** kingbus_operator_reconcile_total{result}: passes, by outcome (success, error, crash). */
  readonly reconciles: Counter<"result">;
  /** kingbus_operator_reconcile_duration_seconds: one pass. */
  readonly reconcileSeconds: Histogram;
  /** kingbus_operator_actions_total{action}: what passes changed (apply, scale-statefulset, add-learner...). */
  readonly actions: Counter<"action">;
  /** kingbus_operator_is_leader: 1 while this replica leads (or runs without election). */
  readonly isLeader: Gauge;
  /** kingbus_operator_work_queue_depth: clusters waiting for a pass. */
  readonly queueDepth: Gauge;
  /** kingbus_operator_clusters: KingbusClusters in the cache. */
  readonly clusters: Gauge;
  /** kingbus_operator_informer_errors_total{kind}: list or watch failures recovered from. */
  readonly informerErrors: Counter<"kind">;
  /** What the gauges read when scraped (the controller sets them while it leads). */
  readonly sources: { queueDepth: () => number; clusters: () => number };
}

export function createOperatorMetrics(options: { processMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  const registers = [registry];
  const p = OPERATOR_METRIC_PREFIX;
  const sources = { queueDepth: () => 0, clusters: () => 0 };
  const m: OperatorMetrics = {
    registry,
    sources,
    reconciles: new Counter({ name: `${p}reconcile_total`, help: "Reconcile passes, by result (success, error, crash at a failpoint).", labelNames: ["result"] as const, registers }),
    reconcileSeconds: new Histogram({ name: `${p}reconcile_duration_seconds`, help: "Duration of one reconcile pass, in seconds.", buckets: exponentialBuckets(0.005, 2, 14), registers }),
    actions: new Counter({ name: `${p}actions_total`, help: "Changes made by reconcile passes, by action.", labelNames: ["action"] as const, registers }),
    isLeader: new Gauge({ name: `${p}is_leader`, help: "1 while this operator replica leads (or runs without leader election), else 0.", registers }),
    queueDepth: new Gauge({ name: `${p}work_queue_depth`, help: "Clusters waiting for a reconcile pass.", registers, collect() { this.set(sources.queueDepth()); } }),
    clusters: new Gauge({ name: `${p}clusters`, help: "KingbusClusters the operator watches.", registers, collect() { this.set(sources.clusters()); } }),
    informerErrors: new Counter({ name: `${p}informer_errors_total`, help: "List or watch failures the informers recovered from, by kind.", labelNames: ["kind"] as const, registers }),
  };
  for (const result of ["success", "error", "crash"]) m.reconciles.inc({ result }, 0);
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: p });
  return m;
}

export function countAction(m: OperatorMetrics, action: ReconcileAction): void {
  m.actions.inc({ action });
}
