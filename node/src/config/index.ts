export { formatHostPort, parseHostPort, type HostPort } from "./addresses.ts";
export { ConfigError, EXIT_CONFIG_INVALID, type ConfigIssue } from "./errors.ts";
export { CONFIG_FILE_ENV, CONFIG_FILE_FLAG, envVarName, flagName, NODE_FIELDS, type FieldSpec } from "./fields.ts";
export { loadNodeConfigForCommand, type NodeConfigOutcome } from "./command.ts";
export { loadNodeConfig, type LoadNodeConfigInput, type NodeConfig } from "./load.ts";
export { registerNodeOptions } from "./options.ts";
export { LOG_LEVELS, type ClusterMemberConfig, type LogLevel } from "./schema.ts";
export { Secret } from "./secret.ts";
