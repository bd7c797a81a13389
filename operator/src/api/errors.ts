import { KingbusError } from "../../../node/src/errors.ts";

/** One thing wrong with a KingbusCluster: where (`spec.syncer.serverId`) and why. */
export interface ClusterIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A KingbusCluster the operator cannot turn into resources: a spec the CRD's schema admitted but a
 * rule across fields refuses, or an object that did not come through the CRD at all. The message
 * lists every issue as `path: reason` and is meant for the resource's Degraded condition.
 */
export class ClusterSpecError extends KingbusError {
  declare readonly code: "CLUSTER_SPEC_INVALID";
  readonly issues: readonly ClusterIssue[];

  constructor(issues: readonly ClusterIssue[], options?: { cause?: unknown }) {
    super("CLUSTER_SPEC_INVALID", `invalid KingbusCluster: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, options);
    this.issues = Object.freeze(issues.map((i) => Object.freeze({ ...i })));
  }
}
