/**
 * What the `kingbus node` action does with its configuration: load it, or produce the line to
 * print and the exit status, so that the command stays three lines and the wording is tested here.
 */
import { ConfigError, EXIT_CONFIG_INVALID } from "./errors.ts";
import { loadNodeConfig, type LoadNodeConfigInput, type NodeConfig } from "./load.ts";

export type NodeConfigOutcome = { readonly ok: true; readonly config: NodeConfig } | { readonly ok: false; readonly exitCode: number; readonly message: string };

/** The configuration, or `kingbus node: invalid configuration: ...` with exit status 2. Other errors propagate. */
export function loadNodeConfigForCommand(input: LoadNodeConfigInput): NodeConfigOutcome {
  try {
    return { ok: true, config: loadNodeConfig(input) };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, exitCode: EXIT_CONFIG_INVALID, message: `kingbus node: ${e.message}` };
    throw e;
  }
}
