/**
 * The resource's status from what the operator observed in one pass: the pods' answers (admin
 * status of each member, /readyz), the syncer and server statuses, and the membership step it
 * took. Pure; the controller writes the result through the status subresource.
 */
import { setCondition } from "../api/conditions.ts";
import type { KingbusCluster, KingbusClusterStatus, MemberStatus } from "../api/kingbus-cluster.ts";
import type { MembershipStep } from "./membership.ts";

/** One member as observed: its own admin status when it answered. */
export interface ObservedMember {
  readonly name: string;
  readonly id: number;
  /** What the member says about itself; undefined when it did not answer. */
  readonly role?: "leader" | "follower" | "candidate" | "learner" | "pre-candidate";
  readonly ready: boolean;
  readonly appliedIndex?: number;
}

export interface ObservedSyncer {
  /** The admin status's phase: connecting, running, error, stopped. */
  readonly phase: string;
  readonly executedGtidSet: string;
  /** null: not connected. */
  readonly secondsBehind: number | null;
  readonly lastError: string;
}

export interface Observation {
  readonly members: readonly ObservedMember[];
  readonly leaderName: string | undefined;
  /** The leader's syncer status; undefined when no leader answered. */
  readonly syncer: ObservedSyncer | undefined;
  /** Replicas connected to each pod's binlog server (pods that answered). */
  readonly connectedReplicas: readonly number[];
  /** Server running on every pod that answered. */
  readonly serverRunning: boolean | undefined;
  readonly step: MembershipStep;
  /** The StatefulSet's spec.replicas. */
  readonly statefulSetReplicas: number;
}

const ROLE: Record<NonNullable<ObservedMember["role"]>, MemberStatus["role"]> = {
  leader: "Leader",
  follower: "Follower",
  candidate: "Candidate",
  "pre-candidate": "Candidate",
  learner: "Learner",
};

export function computeStatus(cluster: KingbusCluster, o: Observation, now: Date): KingbusClusterStatus {
  const generation = cluster.metadata.generation;
  const desired = cluster.spec.replicas;
  const members: MemberStatus[] = o.members.map((m) => ({
    name: m.name,
    id: m.id,
    role: m.role ? ROLE[m.role] : "Unknown",
    healthy: m.ready,
    ...(m.appliedIndex === undefined ? {} : { appliedIndex: m.appliedIndex }),
  }));
  const ready = o.members.filter((m) => m.ready).length;
  const majority = Math.floor(desired / 2) + 1;
  let conditions = cluster.status?.conditions;
  const set = (type: Parameters<typeof setCondition>[1]["type"], status: "True" | "False" | "Unknown", reason: string, message: string): void => {
    conditions = setCondition(conditions, { type, status, reason, message, ...(generation === undefined ? {} : { observedGeneration: generation }) }, now);
  };

  const available = o.leaderName !== undefined && ready >= majority;
  set("Available", available ? "True" : "False", available ? "LeaderElected" : o.leaderName === undefined ? "NoLeader" : "NoQuorum", available ? `${o.leaderName} leads; ${ready} of ${desired} members ready` : o.leaderName === undefined ? "no member reports a leader" : `${ready} of ${desired} members ready, ${majority} needed`);

  const progressing = o.step.kind !== "done";
  set("Progressing", progressing ? "True" : "False", progressing ? stepReason(o.step) : "Reconciled", progressing ? stepMessage(o.step, desired, o.statefulSetReplicas) : `${desired} members, all voters`);

  const degraded = ready < o.members.length || ready < desired;
  set("Degraded", degraded ? "True" : "False", degraded ? "MembersNotReady" : "AllMembersReady", degraded ? `${ready} of ${desired} members ready: ${o.members.filter((m) => !m.ready).map((m) => m.name).join(", ") || "pods missing"}` : "every member ready");

  let syncerState: NonNullable<KingbusClusterStatus["syncer"]>["state"];
  if (!cluster.spec.syncer.enabled) syncerState = "Disabled";
  else if (o.syncer === undefined) syncerState = "Unknown";
  else syncerState = ({ running: "Running", connecting: "Connecting", error: "Error", stopped: "Stopped" } as const)[o.syncer.phase as "running"] ?? "Unknown";
  set("SyncerRunning", syncerState === "Running" ? "True" : syncerState === "Unknown" ? "Unknown" : "False", `Syncer${syncerState}`, cluster.spec.syncer.enabled ? (o.syncer?.lastError ? `last error: ${o.syncer.lastError}` : `syncer ${syncerState.toLowerCase()}`) : "spec.syncer.enabled is false");

  const serverOn = cluster.spec.server.enabled;
  set("ServerRunning", !serverOn ? "False" : o.serverRunning === undefined ? "Unknown" : o.serverRunning ? "True" : "False", !serverOn ? "ServerDisabled" : o.serverRunning ? "ServerRunning" : "ServerNotRunning", !serverOn ? "spec.server.enabled is false" : `${o.connectedReplicas.reduce((a, b) => a + b, 0)} replicas connected`);

  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    readyMembers: ready,
    leader: o.leaderName ?? "",
    conditions,
    members,
    syncer: {
      state: syncerState,
      ...(o.syncer ? { executedGtidSet: o.syncer.executedGtidSet, secondsBehind: o.syncer.secondsBehind, ...(o.syncer.lastError ? { lastError: o.syncer.lastError } : {}) } : {}),
    },
    server: { connectedReplicas: o.connectedReplicas.reduce((a, b) => a + b, 0) },
  };
}

function stepReason(s: MembershipStep): string {
  switch (s.kind) {
    case "scale-statefulset":
      return "ScalingPods";
    case "add-learner":
      return "AddingMember";
    case "remove-member":
      return "RemovingMember";
    case "transfer-leadership":
      return "MovingLeadership";
    case "wait":
      return "Waiting";
    case "done":
      return "Reconciled";
  }
}

function stepMessage(s: MembershipStep, desired: number, pods: number): string {
  switch (s.kind) {
    case "scale-statefulset":
      return `${pods} pods, going to ${s.replicas} (spec.replicas ${desired})`;
    case "add-learner":
      return `adding member ${s.ordinal} (id ${s.id}) as a learner`;
    case "remove-member":
      return `removing member ${s.ordinal} (id ${s.id})`;
    case "transfer-leadership":
      return `moving leadership from member ${s.fromOrdinal} to ${s.toOrdinal} before removing it`;
    case "wait":
      return s.reason;
    case "done":
      return "reconciled";
  }
}
