/**
 * The system variables this server knows, as SELECT @@name and SHOW VARIABLES show them. Values
 * that describe the binlog (checksum, GTID state) come from the feed; the rest from the
 * configuration or fixed values a primary of the flavour would show. A name not listed here is
 * unknown (ERR 1193), which is what replicas expect for variables a server does not have: several
 * of their start-up queries only warn on 1193.
 */
import type { Cell, ColumnKind } from "../wire/messages.ts";
import type { ResolvedServerConfig } from "./config.ts";
import type { BinlogFeed, BinlogFlavor, FeedGtidState } from "./feed.ts";

export interface VariableEnv {
  readonly config: ResolvedServerConfig;
  readonly feed: BinlogFeed;
  /** The feed's GTID state, fetched once per statement. */
  gtidState(): Promise<FeedGtidState>;
  readonly connectionId: number;
  /** Session values set with SET [SESSION] name = value. */
  readonly session: ReadonlyMap<string, Cell>;
}

type Kind = ColumnKind | "boolean";

interface VariableDef {
  kind: Kind;
  /** Flavours that have it; default both. */
  only?: BinlogFlavor;
  get(env: VariableEnv): Cell | Promise<Cell>;
  /** SET SESSION may change it (the new value is kept for the session and shown back). */
  session?: boolean;
}

const fixed = (kind: Kind, value: Cell, options: { only?: BinlogFlavor; session?: boolean } = {}): VariableDef => ({ kind, get: () => value, ...options });

async function mysqlState(env: VariableEnv): Promise<Extract<FeedGtidState, { flavor: "mysql" }> | undefined> {
  const state = await env.gtidState();
  return state.flavor === "mysql" ? state : undefined;
}

async function mariadbState(env: VariableEnv): Promise<Extract<FeedGtidState, { flavor: "mariadb" }> | undefined> {
  const state = await env.gtidState();
  return state.flavor === "mariadb" ? state : undefined;
}

const mariadbBinlogPos = async (env: VariableEnv): Promise<Cell> => (await mariadbState(env))?.binlogState.position().toString() ?? "";

const VARIABLES: Record<string, VariableDef> = {
  // Identity
  server_id: { kind: "integer", get: (env) => env.config.serverId },
  server_uuid: { kind: "string", only: "mysql", get: (env) => env.config.serverUuid },
  version: { kind: "string", get: (env) => env.config.serverVersion.replace(/^5\.5\.5-/, "") },
  version_comment: { kind: "string", get: (env) => env.config.versionComment },
  version_compile_os: fixed("string", "Linux"),
  version_compile_machine: fixed("string", process.arch === "arm64" ? "aarch64" : "x86_64"),
  hostname: fixed("string", "kingbus"),
  port: { kind: "integer", get: () => 3306 },
  read_only: fixed("boolean", 1),
  // Binlog
  log_bin: fixed("boolean", 1),
  log_slave_updates: fixed("boolean", 1),
  log_replica_updates: fixed("boolean", 1, { only: "mysql" }),
  binlog_format: fixed("string", "ROW"),
  binlog_row_image: fixed("string", "FULL"),
  binlog_checksum: { kind: "string", get: (env) => env.feed.binlogChecksum() },
  master_verify_checksum: fixed("boolean", 0),
  binlog_annotate_row_events: fixed("boolean", 1, { only: "mariadb" }),
  max_binlog_size: fixed("integer", 1073741824),
  sync_binlog: fixed("integer", 1),
  // Semi-sync toward replicas that ask for it (see ResolvedServerConfig.semiSync).
  rpl_semi_sync_master_enabled: { kind: "boolean", get: (env) => (env.config.semiSync ? 1 : 0) },
  rpl_semi_sync_source_enabled: { kind: "boolean", only: "mysql", get: (env) => (env.config.semiSync ? 1 : 0) },
  // GTIDs
  gtid_mode: fixed("string", "ON", { only: "mysql" }),
  enforce_gtid_consistency: fixed("string", "ON", { only: "mysql" }),
  gtid_executed: { kind: "string", only: "mysql", get: async (env) => (await mysqlState(env))?.executed.toString() ?? "" },
  gtid_purged: { kind: "string", only: "mysql", get: async (env) => (await mysqlState(env))?.purged.toString() ?? "" },
  gtid_domain_id: { kind: "integer", only: "mariadb", get: (env) => env.config.gtidDomainId },
  gtid_binlog_pos: { kind: "string", only: "mariadb", get: mariadbBinlogPos },
  gtid_current_pos: { kind: "string", only: "mariadb", get: mariadbBinlogPos },
  gtid_slave_pos: { kind: "string", only: "mariadb", get: mariadbBinlogPos },
  gtid_binlog_state: { kind: "string", only: "mariadb", get: async (env) => (await mariadbState(env))?.binlogState.toString() ?? "" },
  gtid_strict_mode: fixed("boolean", 1, { only: "mariadb" }),
  // Session and connection settings clients read or set
  autocommit: fixed("boolean", 1, { session: true }),
  sql_mode: fixed("string", "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION", { session: true }),
  time_zone: fixed("string", "SYSTEM", { session: true }),
  system_time_zone: fixed("string", "UTC"),
  character_set_client: fixed("string", "utf8mb4", { session: true }),
  character_set_connection: fixed("string", "utf8mb4", { session: true }),
  character_set_results: fixed("string", "utf8mb4", { session: true }),
  character_set_server: fixed("string", "utf8mb4"),
  collation_connection: fixed("string", "utf8mb4_general_ci", { session: true }),
  collation_server: fixed("string", "utf8mb4_general_ci"),
  lower_case_table_names: fixed("integer", 0),
  max_allowed_packet: { kind: "integer", get: (env) => env.config.maxAllowedPacket, session: true },
  net_buffer_length: fixed("integer", 16384),
  net_read_timeout: fixed("integer", 30, { session: true }),
  net_write_timeout: fixed("integer", 60, { session: true }),
  wait_timeout: fixed("integer", 28800, { session: true }),
  interactive_timeout: fixed("integer", 28800, { session: true }),
  transaction_isolation: fixed("string", "REPEATABLE-READ", { session: true }),
  tx_isolation: fixed("string", "REPEATABLE-READ", { session: true }),
  sql_log_bin: fixed("boolean", 1, { session: true }),
  skip_replication: fixed("boolean", 0, { session: true, only: "mariadb" }),
  sql_select_limit: fixed("integer", "18446744073709551615", { session: true }),
  session_track_schema: fixed("boolean", 1, { session: true }),
  performance_schema: fixed("boolean", 0),
  pseudo_thread_id: { kind: "integer", get: (env) => env.connectionId },
};

export interface VariableValue {
  /** The canonical (lowercase) name. */
  name: string;
  kind: ColumnKind;
  /** As SELECT @@name shows it (booleans as 1/0). */
  value: Cell;
  /** As SHOW VARIABLES shows it (booleans as ON/OFF). */
  shown: string;
}

function lookupDef(name: string, flavor: BinlogFlavor): VariableDef | undefined {
  const def = Object.hasOwn(VARIABLES, name) ? VARIABLES[name] : undefined;
  if (!def || (def.only !== undefined && def.only !== flavor)) return undefined;
  return def;
}

export function isKnownVariable(name: string, flavor: BinlogFlavor): boolean {
  return lookupDef(name.toLowerCase(), flavor) !== undefined;
}

export function isSessionVariable(name: string, flavor: BinlogFlavor): boolean {
  return lookupDef(name.toLowerCase(), flavor)?.session === true;
}

function shown(kind: Kind, value: Cell): string {
  if (value === null) return "";
  if (kind === "boolean") return Number(value) ? "ON" : "OFF";
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}

/** The variable's value (the session's when `scope` is not global and it was set), or undefined when unknown. */
export async function readVariable(name: string, scope: "global" | "session" | undefined, env: VariableEnv): Promise<VariableValue | undefined> {
  const key = name.toLowerCase();
  const def = lookupDef(key, env.config.flavor);
  if (!def) return undefined;
  const value = scope !== "global" && env.session.has(key) ? env.session.get(key)! : await def.get(env);
  const kind: ColumnKind = def.kind === "boolean" ? "integer" : def.kind;
  return { name: key, kind, value, shown: shown(def.kind, value) };
}

/** Every known variable whose name matches, sorted by name, as SHOW VARIABLES lists them. */
export async function listVariables(matches: (name: string) => boolean, scope: "global" | "session" | undefined, env: VariableEnv): Promise<VariableValue[]> {
  const names = Object.keys(VARIABLES)
    .filter((name) => lookupDef(name, env.config.flavor) && matches(name))
    .sort();
  const out: VariableValue[] = [];
  for (const name of names) out.push((await readVariable(name, scope, env))!);
  return out;
}

/** The value a session SET stores: booleans normalised to 1/0 so SELECT shows them as the server would. */
export function sessionValue(name: string, flavor: BinlogFlavor, value: Cell): Cell {
  const def = lookupDef(name.toLowerCase(), flavor);
  if (def?.kind !== "boolean" || value === null) return value;
  const text = String(value).toUpperCase();
  return text === "ON" || text === "TRUE" || (text !== "OFF" && text !== "FALSE" && Number(text) !== 0) ? 1 : 0;
}
