/**
 * The `kingbus` command line. Each subcommand lives in its own module and registers itself here.
 */
import { Command } from "commander";
import { registerInspect } from "./inspect.ts";
import { registerNode } from "./node.ts";
import { registerCtl } from "./ctl.ts";
import { registerOperator } from "./operator.ts";

const program = new Command("kingbus")
  .description("Raft-replicated MySQL/MariaDB binlog server")
  .version("0.1.0")
  .showHelpAfterError();

registerInspect(program);
registerNode(program);
registerCtl(program);
registerOperator(program);

await program.parseAsync(process.argv);
