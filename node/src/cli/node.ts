/**
 * `kingbus node`: runs one kingbus pod process until SIGTERM or SIGINT, then stops cleanly (the
 * hard state saved, the files closed). An invalid configuration exits with status 2 and names the
 * field.
 */
import type { Command } from "commander";
import { loadNodeConfigForCommand, registerNodeOptions } from "../config/index.ts";
import { KingbusNode } from "../node/kingbus-node.ts";

export function registerNode(program: Command): void {
  const command = registerNodeOptions(program.command("node").description("run a kingbus node (Raft member, peer transport, admin HTTP API)"));
  command.action(async (_options: unknown, cmd: Command) => {
    const outcome = loadNodeConfigForCommand({ flags: cmd.opts(), env: process.env });
    if (!outcome.ok) {
      process.stderr.write(`${outcome.message}\n`);
      process.exitCode = outcome.exitCode;
      return;
    }
    const node = await KingbusNode.start(outcome.config);
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      node.stop().then(
        () => process.exit(process.exitCode ?? 0),
        (e: unknown) => {
          process.stderr.write(`kingbus node: stopping failed: ${e instanceof Error ? e.message : String(e)}\n`);
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
}
