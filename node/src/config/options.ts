/**
 * The command-line flags of `kingbus node`, one per configuration field (secrets excepted), named
 * after the field's path. No flag has a commander default: an absent flag must stay absent so that
 * the file and the environment underneath it show through.
 */
import type { Command } from "commander";
import { CONFIG_FILE_ENV, CONFIG_FILE_FLAG, envVarName, flagName, NODE_FIELDS, type FieldSpec } from "./fields.ts";

function placeholder(field: FieldSpec): string {
  if (field.kind === "integer") return "<n>";
  if (field.kind === "json") return "<json>";
  if (field.path.startsWith("listen.")) return "<host:port>";
  if (/Url$|^join$/.test(field.path)) return "<url>";
  if (/Dir$|File$|^peerTls\./.test(field.path)) return "<path>";
  return "<value>";
}

function help(field: FieldSpec): string {
  const env = envVarName(field.path);
  return `${field.description} [env ${env}${field.defaultText === undefined ? "" : `; default ${field.defaultText}`}]`;
}

/** Adds every node flag to `command` and returns it; loadNodeConfig reads what it parsed. */
export function registerNodeOptions(command: Command): Command {
  command.option(`${CONFIG_FILE_FLAG} <path>`, `JSON configuration file [env ${CONFIG_FILE_ENV}]`);
  for (const field of NODE_FIELDS) {
    // A secret on the command line is visible to every local user (ps, /proc/*/cmdline).
    if (field.secret) continue;
    const flag = flagName(field.path);
    if (field.kind === "boolean") {
      command.option(flag, help(field));
      command.option(`--no-${flag.slice(2)}`, `turn ${flag} off (over the file or the environment)`);
    } else {
      command.option(`${flag} ${placeholder(field)}`, help(field));
    }
  }
  command.addHelpText(
    "after",
    `\nPrecedence: flags over KINGBUS_<FIELD> environment variables over the ${CONFIG_FILE_FLAG} file over defaults.\n` +
      "The admin token is read from KINGBUS_ADMIN_TOKEN, the file's adminToken, or --admin-token-file. See docs/configuration.md.",
  );
  return command;
}
