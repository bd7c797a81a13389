/**
 * What the primary is and how its binlog is set up, read with plain SELECTs before any dump, and
 * the check that refuses a primary kingbus cannot replicate from with a message naming the fix.
 *
 * Variables are read as `@@GLOBAL.<name>`: session values can differ (binlog_format is settable per
 * session) but the dump thread logs with what each writer uses, and writers start from the global.
 * An unknown variable (error 1193) is not an error here: several exist only on one flavour or one
 * version (gtid_mode on MySQL, rpl_semi_sync_source_enabled since MySQL 8.0.26), so each read says
 * "unknown" and the flavour logic decides.
 */
import { flavorOf } from "../../binlog/format.ts";
import type { Flavor } from "../../binlog/format.ts";
import { MariadbGtidPosition } from "../../binlog/gtid-mariadb.ts";
import { MysqlGtidSet } from "../../binlog/gtid-mysql.ts";
import { PrimaryProtocolError, PrimaryQueryError, PrimaryRefusedError } from "./errors.ts";
import type { PrimaryProblem } from "./errors.ts";

/** ER_UNKNOWN_SYSTEM_VARIABLE */
export const ER_UNKNOWN_SYSTEM_VARIABLE = 1193;

interface PrimaryInfoBase {
  flavor: Flavor;
  /** VERSION(), e.g. "10.11.19-MariaDB-log" or "8.0.36". */
  version: string;
  /** @@version_comment. */
  versionComment: string;
  serverId: number;
  /** @@log_bin: whether the primary writes a binlog at all. */
  logBin: boolean;
  /** @@binlog_format: ROW, STATEMENT or MIXED (ROW when the server no longer has the variable). */
  binlogFormat: string;
  /** @@binlog_checksum: CRC32 or NONE. */
  binlogChecksum: string;
  semiSync: {
    /** The primary can do semi-sync (MariaDB: built in; MySQL: the source plugin is loaded). */
    available: boolean;
    /** The primary waits for acks (rpl_semi_sync_master_enabled / _source_enabled is ON). */
    enabled: boolean;
  };
}

export interface MariadbPrimaryInfo extends PrimaryInfoBase {
  flavor: "mariadb";
  gtidDomainId: number;
  /** @@gtid_binlog_pos: the last GTID binlogged in each domain. */
  gtidBinlogPos: MariadbGtidPosition;
  /** @@gtid_strict_mode. */
  gtidStrictMode: boolean;
  /**
   * What the primary has purged. MariaDB has no variable for it (it would take reading the
   * GTID_LIST of the oldest binlog file); a dump from a purged position fails with 1236 instead.
   */
  purged: null;
}

export interface MysqlPrimaryInfo extends PrimaryInfoBase {
  flavor: "mysql";
  serverUuid: string;
  /** @@gtid_mode: OFF, OFF_PERMISSIVE, ON_PERMISSIVE or ON. */
  gtidMode: string;
  /** @@enforce_gtid_consistency: OFF, WARN or ON. */
  enforceGtidConsistency: string;
  /** @@gtid_executed. */
  executed: MysqlGtidSet;
  /** @@gtid_purged. */
  purged: MysqlGtidSet;
}

export type PrimaryInfo = MariadbPrimaryInfo | MysqlPrimaryInfo;

/** Runs one SELECT and returns its rows as objects; throws PrimaryQueryError carrying errno. */
export type QueryRunner = (sql: string) => Promise<Array<Record<string, unknown>>>;

/** A column value as text: mysql2 gives numbers for integer variables and strings for the rest. */
function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return String(value);
}

function isOn(value: string): boolean {
  return value === "1" || value.toUpperCase() === "ON";
}

/**
 * Global variables by name; a name the server does not know maps to null. One SELECT for all of
 * them first; when that fails with 1193, one SELECT each to find out which are unknown.
 */
export async function readGlobalVariables(query: QueryRunner, names: readonly string[]): Promise<Map<string, string | null>> {
  const select = (list: readonly string[]) => `SELECT ${list.map((n, i) => `@@GLOBAL.${n} AS v${i}`).join(", ")}`;
  const values = new Map<string, string | null>();
  try {
    const [row] = await query(select(names));
    names.forEach((name, i) => values.set(name, text(row?.[`v${i}`])));
    return values;
  } catch (error) {
    if (!(error instanceof PrimaryQueryError) || error.errno !== ER_UNKNOWN_SYSTEM_VARIABLE) throw error;
  }
  for (const name of names) {
    try {
      const [row] = await query(select([name]));
      values.set(name, text(row?.v0));
    } catch (error) {
      if (!(error instanceof PrimaryQueryError) || error.errno !== ER_UNKNOWN_SYSTEM_VARIABLE) throw error;
      values.set(name, null);
    }
  }
  return values;
}

function required(values: Map<string, string | null>, name: string): string {
  const value = values.get(name);
  if (value === null || value === undefined) throw new PrimaryProtocolError(`the primary does not know @@${name}, which every supported server version has`);
  return value;
}

/** Reads everything PrimaryInfo holds. */
export async function inspectPrimary(query: QueryRunner): Promise<PrimaryInfo> {
  const [identity] = await query("SELECT VERSION() AS version, @@version_comment AS comment");
  const version = text(identity?.version);
  const versionComment = text(identity?.comment);
  const flavor: Flavor = flavorOf(version) === "mariadb" || /mariadb/i.test(versionComment) ? "mariadb" : "mysql";

  const common = ["server_id", "log_bin", "binlog_format", "binlog_checksum"];
  if (flavor === "mariadb") {
    const v = await readGlobalVariables(query, [...common, "gtid_domain_id", "gtid_binlog_pos", "gtid_strict_mode", "rpl_semi_sync_master_enabled"]);
    const semi = v.get("rpl_semi_sync_master_enabled") ?? null;
    return {
      flavor,
      version,
      versionComment,
      serverId: Number(required(v, "server_id")),
      logBin: isOn(required(v, "log_bin")),
      binlogFormat: required(v, "binlog_format").toUpperCase(),
      binlogChecksum: required(v, "binlog_checksum").toUpperCase(),
      semiSync: { available: semi !== null, enabled: semi !== null && isOn(semi) },
      gtidDomainId: Number(required(v, "gtid_domain_id")),
      gtidBinlogPos: MariadbGtidPosition.parse(required(v, "gtid_binlog_pos")),
      gtidStrictMode: isOn(required(v, "gtid_strict_mode")),
      purged: null,
    };
  }

  const v = await readGlobalVariables(query, [
    ...common,
    "server_uuid",
    "gtid_mode",
    "enforce_gtid_consistency",
    "gtid_executed",
    "gtid_purged",
    "rpl_semi_sync_source_enabled",
    "rpl_semi_sync_master_enabled",
  ]);
  // MySQL 8.0.26+ names the plugin's variable _source_; older plugins (and the old plugin still
  // shipped with 8.x) use _master_. Neither known: no semi-sync plugin loaded.
  const semi = v.get("rpl_semi_sync_source_enabled") ?? v.get("rpl_semi_sync_master_enabled") ?? null;
  return {
    flavor,
    version,
    versionComment,
    serverId: Number(required(v, "server_id")),
    logBin: isOn(required(v, "log_bin")),
    // binlog_format is deprecated in MySQL 8.0.34; a server without it logs rows only.
    binlogFormat: (v.get("binlog_format") ?? "ROW").toUpperCase(),
    binlogChecksum: required(v, "binlog_checksum").toUpperCase(),
    semiSync: { available: semi !== null, enabled: semi !== null && isOn(semi) },
    serverUuid: required(v, "server_uuid"),
    gtidMode: (v.get("gtid_mode") ?? "OFF").toUpperCase(),
    enforceGtidConsistency: (v.get("enforce_gtid_consistency") ?? "OFF").toUpperCase(),
    executed: MysqlGtidSet.parse(v.get("gtid_executed") ?? ""),
    purged: MysqlGtidSet.parse(v.get("gtid_purged") ?? ""),
  };
}

export interface CheckPrimaryOptions {
  /** We will ask for semi-sync: the primary must be able to do it. */
  semiSync?: boolean;
}

/** Every setting of the primary that stops kingbus from replicating, each with its fix. */
export function primaryProblems(info: PrimaryInfo, options: CheckPrimaryOptions = {}): PrimaryProblem[] {
  const problems: PrimaryProblem[] = [];
  if (!info.logBin) {
    problems.push({ setting: "log_bin", actual: "OFF", message: "log_bin is OFF: start the primary with --log-bin" });
  }
  if (info.binlogFormat !== "ROW") {
    problems.push({
      setting: "binlog_format",
      actual: info.binlogFormat,
      message: `binlog_format is ${info.binlogFormat}: set binlog_format=ROW on the primary`,
    });
  }
  if (info.binlogChecksum !== "CRC32" && info.binlogChecksum !== "NONE") {
    problems.push({ setting: "binlog_checksum", actual: info.binlogChecksum, message: `binlog_checksum is ${info.binlogChecksum}: use CRC32 or NONE` });
  }
  if (info.flavor === "mysql" && info.gtidMode !== "ON") {
    problems.push({
      setting: "gtid_mode",
      actual: info.gtidMode,
      message: `gtid_mode is ${info.gtidMode}: set gtid_mode=ON and enforce_gtid_consistency=ON (MySQL)`,
    });
  }
  if (options.semiSync && !info.semiSync.available) {
    const fix = info.flavor === "mysql" ? "INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so' on the primary" : "use MariaDB 10.3 or later";
    problems.push({ setting: "rpl_semi_sync", actual: "unavailable", message: `semi-sync was asked for but the primary cannot do it: ${fix}, or turn semiSync off` });
  }
  return problems;
}

/** Returns the info when the primary is usable; throws PrimaryRefusedError naming every problem. */
export function checkPrimary<T extends PrimaryInfo>(info: T, options: CheckPrimaryOptions = {}): T {
  const problems = primaryProblems(info, options);
  if (problems.length > 0) throw new PrimaryRefusedError(problems);
  return info;
}
