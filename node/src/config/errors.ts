import { KingbusError } from "../errors.ts";

/** One thing wrong with the configuration: where (a field path such as `raft.electionTicks`) and why. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** The exit status of `kingbus node` when its configuration is refused (bad input, like inspect's). */
export const EXIT_CONFIG_INVALID = 2;

/**
 * The configuration cannot be used. The message lists every issue as `path: reason`; callers print
 * it after `kingbus node: ` and exit with EXIT_CONFIG_INVALID. Messages never carry secret values.
 */
export class ConfigError extends KingbusError {
  declare readonly code: "CONFIG_INVALID";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super("CONFIG_INVALID", `invalid configuration: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, options);
    this.issues = Object.freeze(issues.map((i) => Object.freeze({ ...i })));
  }
}
