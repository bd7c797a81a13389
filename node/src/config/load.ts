/**
 * loadNodeConfig: file, environment and flags merged in that order, validated field by field
 * (schema.ts) then across fields (rules.ts), then the files the configuration names are read or
 * checked. The result is frozen; any problem is one ConfigError listing every issue found.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import type { z } from "zod";
import type { HostPort } from "./addresses.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { CONFIG_FILE_ENV, NODE_FIELDS } from "./fields.ts";
import { registerNodeOptions } from "./options.ts";
import { crossFieldIssues } from "./rules.ts";
import { adminToken as adminTokenSchema, nodeConfigSchema, TOKEN_RULE, type ClusterMemberConfig, type LogLevel, type ParsedNodeConfig } from "./schema.ts";
import { Secret } from "./secret.ts";
import { envLayer, flagsLayer, mergeLayers, readConfigFile, type Layer, type SourcedLayer } from "./sources.ts";
import type { VerifyRecords } from "../server/verify-records.ts";

export interface NodeConfig {
  readonly id: number;
  readonly name: string;
  readonly dataDir: string;
  /** `admin` equals `peer` unless set: both gRPC services then share one server. */
  readonly listen: { readonly peer: HostPort; readonly admin: HostPort; readonly http: HostPort };
  /** How the cluster reaches this node: from advertise, else from its initialCluster entry. */
  readonly advertise: { readonly peerUrl: string; readonly adminUrl: string };
  /** Exactly one of initialCluster and join is set. */
  readonly initialCluster: readonly Readonly<ClusterMemberConfig>[] | undefined;
  readonly join: string | undefined;
  /** From adminToken or the file adminTokenFile names; unset means the admin API is open. */
  readonly adminToken: Secret | undefined;
  readonly peerTls: { readonly ca: string; readonly cert: string; readonly key: string } | undefined;
  readonly raft: { readonly tickMs: number; readonly electionTicks: number; readonly heartbeatTicks: number };
  readonly storage: { readonly segmentBytes: number; readonly retentionMaxBytes: number | undefined; readonly retentionMaxAgeMs: number | undefined; readonly syncMode: "dsync" | "fdatasync"; readonly verifyServedRecords: VerifyRecords };
  /** The budget of the node's buffers, bytes (docs/raft.md, "Memory"). */
  readonly memory: {
    readonly raftInflightBytes: number;
    readonly recentEntriesBytes: number;
    readonly syncerInflightBytes: number;
    readonly syncerBufferBytes: number;
    readonly serverCacheBytes: number;
  };
  readonly testWriteApi: boolean;
  readonly logLevel: LogLevel;
  /** The file the configuration was read from, if any. */
  readonly configFile: string | undefined;
}

export interface LoadNodeConfigInput {
  /** The arguments after `kingbus node`, parsed here with the flags registerNodeOptions adds. */
  readonly argv?: readonly string[];
  /** Or what commander already parsed on a command set up by registerNodeOptions (`command.opts()`). */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The configuration file; overrides --config and KINGBUS_CONFIG. */
  readonly file?: string;
}

const MAX_TOKEN_FILE_BYTES = 64 * 1024;

function parseArgv(argv: readonly string[]): Record<string, unknown> {
  const command = registerNodeOptions(new Command("node"))
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({ writeOut: () => {}, writeErr: () => {} });
  try {
    command.parse([...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) throw new ConfigError([{ path: "command line", message: e.message.replace(/^error: /, "") }], { cause: e });
    throw e;
  }
  return command.opts();
}

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `${out === "" ? "" : "."}${String(part)}`;
  return out;
}

function schemaIssues(issues: readonly z.core.$ZodIssue[], origins: ReadonlyMap<string, string>): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) out.push({ path: pathText([...issue.path, key]), message: "unknown field" });
      continue;
    }
    const path = pathText(issue.path);
    const field = NODE_FIELDS.find((f) => path === f.path || path.startsWith(`${f.path}[`) || path.startsWith(`${f.path}.`));
    const origin = field === undefined ? undefined : origins.get(field.path);
    out.push({ path: path === "" ? "configuration" : path, message: origin === undefined ? issue.message : `${issue.message} (from ${origin})` });
  }
  return out;
}

function systemReason(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : e instanceof Error ? e.message : String(e);
}

function readTokenFile(path: string, issues: ConfigIssue[], secrets: string[]): string | undefined {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_TOKEN_FILE_BYTES) {
      issues.push({ path: "adminTokenFile", message: `${path} is larger than ${MAX_TOKEN_FILE_BYTES} bytes` });
      return undefined;
    }
    text = bytes.toString("utf8");
  } catch (e) {
    issues.push({ path: "adminTokenFile", message: `cannot read ${path} (${systemReason(e)})` });
    return undefined;
  }
  // Secrets are usually written with a trailing newline (echo, editors); it is never part of the token.
  const token = text.replace(/[\r\n\t ]+$/, "");
  if (token !== "") secrets.push(token);
  if (!adminTokenSchema.safeParse(token).success) {
    issues.push({ path: "adminTokenFile", message: token === "" ? `${path} is empty` : `the token in ${path} ${TOKEN_RULE}` });
    return undefined;
  }
  return token;
}

function checkReadable(path: string, field: string, issues: ConfigIssue[]): void {
  try {
    accessSync(path, constants.R_OK);
  } catch (e) {
    issues.push({ path: field, message: `cannot read ${path} (${systemReason(e)})` });
  }
}

function scrub(issues: readonly ConfigIssue[], secrets: readonly string[]): ConfigIssue[] {
  const values = secrets.filter((s) => s.length > 0);
  return issues.map((i) => ({ path: i.path, message: values.reduce((m, s) => m.split(s).join("******"), i.message) }));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !(value instanceof Secret) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function build(c: ParsedNodeConfig, token: string | undefined, configFile: string | undefined): NodeConfig {
  const self = c.initialCluster?.find((m) => m.id === c.id);
  const tls = c.peerTls;
  return {
    id: c.id,
    name: c.name,
    dataDir: c.dataDir,
    listen: { peer: c.listen.peer, admin: c.listen.admin ?? c.listen.peer, http: c.listen.http },
    advertise: { peerUrl: c.advertise.peerUrl ?? self!.peerUrl, adminUrl: c.advertise.adminUrl ?? self!.adminUrl },
    initialCluster: c.initialCluster,
    join: c.join,
    adminToken: token === undefined ? undefined : new Secret(token),
    peerTls: tls === undefined ? undefined : { ca: tls.ca!, cert: tls.cert!, key: tls.key! },
    raft: c.raft,
    memory: c.memory,
    storage: { segmentBytes: c.storage.segmentBytes, retentionMaxBytes: c.storage.retentionMaxBytes, retentionMaxAgeMs: c.storage.retentionMaxAgeMs, syncMode: c.storage.syncMode, verifyServedRecords: c.storage.verifyServedRecords },
    testWriteApi: c.testWriteApi,
    logLevel: c.logLevel,
    configFile,
  };
}

/**
 * The node's configuration: defaults, then the JSON file (input.file, else --config, else
 * KINGBUS_CONFIG), then KINGBUS_* variables, then flags. Frozen. Throws ConfigError (code
 * CONFIG_INVALID) naming every field that is wrong and why, never quoting a secret.
 */
export function loadNodeConfig(input: LoadNodeConfigInput): NodeConfig {
  if (input.argv !== undefined && input.flags !== undefined) throw new TypeError("loadNodeConfig: pass argv or flags, not both");
  const flags = input.flags ?? parseArgv(input.argv ?? []);
  const env = input.env ?? {};
  const fromFlags = typeof flags.config === "string" ? flags.config : undefined;
  const fromEnv = env[CONFIG_FILE_ENV] === "" ? undefined : env[CONFIG_FILE_ENV];
  const configFile = input.file ?? fromFlags ?? fromEnv;

  const fileLayer: Layer = configFile === undefined ? {} : readConfigFile(configFile);
  const envPart = envLayer(env);
  const flagPart = flagsLayer(flags);
  const parts: SourcedLayer[] = [envPart, flagPart];
  const secrets = parts.flatMap((p) => p.secrets);
  if (typeof fileLayer.adminToken === "string") secrets.push(fileLayer.adminToken);
  const origins = new Map([...envPart.origins, ...flagPart.origins]);

  let issues: ConfigIssue[] = parts.flatMap((p) => p.issues);
  const merged = parts.reduce((acc, p) => mergeLayers(acc, p.layer), fileLayer);
  const parsed = nodeConfigSchema.safeParse(merged);
  if (!parsed.success) issues.push(...schemaIssues(parsed.error.issues, origins));
  if (issues.length === 0 && parsed.success) issues = crossFieldIssues(parsed.data);
  if (issues.length > 0 || !parsed.success) throw new ConfigError(scrub(issues, secrets));

  const c = parsed.data;
  const fileIssues: ConfigIssue[] = [];
  const token = c.adminTokenFile === undefined ? c.adminToken : readTokenFile(c.adminTokenFile, fileIssues, secrets);
  if (c.peerTls !== undefined) for (const part of ["ca", "cert", "key"] as const) checkReadable(c.peerTls[part]!, `peerTls.${part}`, fileIssues);
  if (fileIssues.length > 0) throw new ConfigError(scrub(fileIssues, secrets));

  return deepFreeze(build(c, token, configFile));
}
