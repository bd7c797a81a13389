/**
 * Logging for the admin surface: pino, with redaction as a second line of defence. The first is
 * that passwords are never handed to the logger at all; these paths catch a mistake.
 */
import { pino, type DestinationStream, type Logger } from "pino";

export const REDACT_CENSOR = "******";

/** Where a secret could sit in a log object: request bodies (snake_case), backend configs (camelCase), headers. */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  "password",
  "mysql_password",
  "mysqlPassword",
  "token",
  "adminToken",
  "authorization",
  "*.password",
  "*.mysql_password",
  "*.mysqlPassword",
  "*.token",
  "*.adminToken",
  "*.authorization",
  "*.*.password",
  "*.*.mysql_password",
  "*.*.mysqlPassword",
  "*.headers.authorization",
]);

export interface AdminLoggerOptions {
  readonly level?: string;
  /** Default: standard output. */
  readonly destination?: DestinationStream;
}

export function createAdminLogger(options: AdminLoggerOptions = {}): Logger {
  const config = { level: options.level ?? "info", redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR } };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}

/** A child of any logger the node passes in, with the redaction applied whatever the parent had. */
export function redactingChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  return parent.child(bindings, { redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR } });
}
