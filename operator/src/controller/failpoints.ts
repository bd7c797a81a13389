/**
 * Failpoints: named places between two steps of a reconcile pass where the operator can be made
 * to crash, so that tests show every step is safe on its own and the next pass (of this operator
 * or of its successor) finishes the job from the facts alone.
 *
 * `KINGBUS_OPERATOR_FAILPOINT=<name>` makes `kingbus operator` exit with status 1 right after the
 * step of that name; several names may be given, separated by commas. In-process tests inject a
 * hook instead (one that throws FailpointCrash to abandon the pass).
 */
import { KingbusError } from "../../../node/src/errors.ts";

export const FAILPOINTS = [
  /** The owned objects applied (StatefulSet replicas held where they were). */
  "after-apply",
  /** The StatefulSet's replicas changed by one membership step. */
  "after-scale",
  /** A learner added to the Raft membership. */
  "after-add-learner",
  /** A caught-up learner promoted to voter. */
  "after-promote",
  /** Leadership moved away from a member about to be removed. */
  "after-transfer",
  /** A member removed from the Raft membership. */
  "after-remove",
  /** The syncer started, stopped or re-pointed. */
  "after-syncer",
  /** The binlog server started or stopped on the pods. */
  "after-server",
] as const;

export type FailpointName = (typeof FAILPOINTS)[number];

/** Called right after each named step; returns to carry on. */
export type FailpointHook = (name: FailpointName) => void;

/** What an in-process test's hook throws: the pass stops there, as a crashed process would. */
export class FailpointCrash extends KingbusError {
  declare readonly code: "OPERATOR_FAILPOINT";
  readonly failpoint: FailpointName;

  constructor(failpoint: FailpointName) {
    super("OPERATOR_FAILPOINT", `failpoint ${failpoint} reached`);
    this.failpoint = failpoint;
  }
}

/** A configuration error: the variable names a failpoint that does not exist. */
export class FailpointConfigError extends KingbusError {
  declare readonly code: "OPERATOR_FAILPOINT_UNKNOWN";

  constructor(name: string) {
    super("OPERATOR_FAILPOINT_UNKNOWN", `unknown failpoint ${JSON.stringify(name)}: one of ${FAILPOINTS.join(", ")}`);
  }
}

/** The failpoints a `KINGBUS_OPERATOR_FAILPOINT` value names (empty for unset). */
export function parseFailpoints(value: string | undefined): Set<FailpointName> {
  const out = new Set<FailpointName>();
  for (const part of (value ?? "").split(",")) {
    const name = part.trim();
    if (name === "") continue;
    if (!(FAILPOINTS as readonly string[]).includes(name)) throw new FailpointConfigError(name);
    out.add(name as FailpointName);
  }
  return out;
}

/**
 * The hook of a process: exits with status 1 at an armed failpoint, after `beforeExit` (a log
 * line). Nothing else runs: no lease release, no graceful stop, as in a crash.
 */
export function exitingFailpoints(armed: ReadonlySet<FailpointName>, beforeExit: (name: FailpointName) => void = () => undefined, exit: (code: number) => never = (code) => process.exit(code)): FailpointHook {
  return (name) => {
    if (!armed.has(name)) return;
    beforeExit(name);
    exit(1);
  };
}

/** No failpoints. */
export const noFailpoints: FailpointHook = () => undefined;
