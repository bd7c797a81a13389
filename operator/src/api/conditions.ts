/**
 * Status conditions as Kubernetes keeps them (metav1.Condition): one per type, and a
 * lastTransitionTime that moves only when the status does.
 */
import type { ClusterCondition, ConditionType } from "./kingbus-cluster.ts";

export interface ConditionUpdate {
  readonly type: ConditionType;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
}

/**
 * The conditions with `update` set: a new entry, or the existing one with its reason, message and
 * generation replaced. `lastTransitionTime` becomes `now` only when the status changes (or the
 * type is new). The input is not modified; the order of the other entries is kept.
 */
export function setCondition(conditions: readonly ClusterCondition[] | undefined, update: ConditionUpdate, now: Date): ClusterCondition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === update.type);
  const previous = index < 0 ? undefined : list[index];
  const next: ClusterCondition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    lastTransitionTime: previous !== undefined && previous.status === update.status ? previous.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    ...(update.observedGeneration === undefined ? {} : { observedGeneration: update.observedGeneration }),
  };
  if (index < 0) list.push(next);
  else list[index] = next;
  return list;
}

/** The condition of that type, if any. */
export function findCondition(conditions: readonly ClusterCondition[] | undefined, type: ConditionType): ClusterCondition | undefined {
  return conditions?.find((c) => c.type === type);
}
