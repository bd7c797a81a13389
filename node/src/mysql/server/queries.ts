/**
 * COM_QUERY: runs the statements sql.ts recognises against the session (user variables, session
 * variables, current database) and the server's variables, and returns an OK or a text result
 * set. Every failure is a SqlError, which the connection sends as an ERR packet.
 */
import { randomUUID } from "node:crypto";
import type { Cell, ColumnKind, ResultSet } from "../wire/messages.ts";
import { ServerErrorKind, SqlError } from "../wire/errors.ts";
import type { ResolvedServerConfig } from "./config.ts";
import type { BinlogFeed, FeedGtidState } from "./feed.ts";
import { likeToRegExp, parseStatement, type Expr, type Statement } from "./sql.ts";
import { isKnownVariable, isSessionVariable, listVariables, readVariable, sessionValue, type VariableEnv } from "./variables.ts";

/** What a connection keeps between statements. */
export interface QuerySession {
  /** User variables (@name), by lowercase name. */
  readonly userVars: Map<string, Cell>;
  /** Session values of system variables set with SET [SESSION]. */
  readonly sessionVars: Map<string, Cell>;
  database: string | undefined;
  readonly user: string;
  readonly clientHost: string;
  readonly connectionId: number;
}

export type QueryOutcome = { kind: "ok" } | { kind: "result"; result: ResultSet };

export interface QueryServices {
  readonly config: ResolvedServerConfig;
  readonly feed: BinlogFeed;
  /** The server's other connections (SHOW SLAVE HOSTS, KILL); absent: none are shown or killed. */
  readonly control?: ServerControl;
}

/** A replica as SHOW SLAVE HOSTS lists it: what its COM_REGISTER_SLAVE said. */
export interface ListedReplica {
  readonly serverId: number;
  readonly host: string;
  readonly port: number;
  readonly uuid: string | undefined;
}

export interface ServerControl {
  replicas(): ListedReplica[];
  /** Ends connection `id` (its dump included); false when there is none. */
  kill(id: number): boolean;
}

export async function executeQuery(sql: string, session: QuerySession, services: QueryServices): Promise<QueryOutcome> {
  const statement = parseStatement(sql);
  let state: Promise<FeedGtidState> | undefined;
  const env: VariableEnv = {
    config: services.config,
    feed: services.feed,
    gtidState: () => (state ??= services.feed.gtidState()),
    connectionId: session.connectionId,
    session: session.sessionVars,
  };
  return run(statement, session, services, env);
}

async function run(statement: Statement, session: QuerySession, services: QueryServices, env: VariableEnv): Promise<QueryOutcome> {
  const { config, feed } = services;
  switch (statement.kind) {
    case "set":
      for (const assignment of statement.assignments) {
        if ("names" in assignment) continue;
        const { target, value } = assignment;
        if (target.k === "userVar") {
          if (value.k === "word") {
            throw new SqlError(ServerErrorKind.BAD_FIELD_ERROR, `Unknown column '${value.word}' in 'field list'`);
          }
          session.userVars.set(target.name, (await evaluate(value, session, env)).value);
          continue;
        }
        setSystemVariable(target.name, target.scope, value.k === "word" ? value.word : (await evaluate(value, session, env)).value, session, config);
      }
      return { kind: "ok" };
    case "setTransaction":
      return { kind: "ok" };
    case "select": {
      const columns = [];
      const row: Cell[] = [];
      for (const item of statement.items) {
        const { value, kind } = await evaluate(item.expr, session, env);
        columns.push({ name: item.name, kind });
        row.push(value);
      }
      const rows = statement.offset === 0 && (statement.limit ?? 1) > 0 ? [row] : [];
      return { kind: "result", result: { columns, rows } };
    }
    case "showVariables": {
      const like = statement.like === undefined ? undefined : likeToRegExp(statement.like);
      const exact = statement.name?.toLowerCase();
      const variables = await listVariables((name) => (exact === undefined || name === exact) && (like === undefined || like.test(name)), statement.scope, env);
      return {
        kind: "result",
        result: {
          columns: [{ name: "Variable_name" }, { name: "Value" }],
          rows: variables.map((v) => [v.name, v.shown]),
        },
      };
    }
    case "showMasterStatus": {
      const files = await feed.files();
      const last = files.at(-1);
      const columns = [{ name: "File" }, { name: "Position", kind: "integer" as const }, { name: "Binlog_Do_DB" }, { name: "Binlog_Ignore_DB" }];
      const rows: Cell[][] = [];
      if (config.flavor === "mysql") {
        columns.push({ name: "Executed_Gtid_Set" });
        const state = await env.gtidState();
        if (last) rows.push([last.name, last.size, "", "", state.flavor === "mysql" ? state.executed.toString() : ""]);
      } else if (last) {
        rows.push([last.name, last.size, "", ""]);
      }
      return { kind: "result", result: { columns, rows } };
    }
    case "showBinaryLogs": {
      const files = await feed.files();
      const columns = [{ name: "Log_name" }, { name: "File_size", kind: "integer" as const }];
      if (config.flavor === "mysql") columns.push({ name: "Encrypted" });
      const rows = files.map((f): Cell[] => (config.flavor === "mysql" ? [f.name, f.size, "No"] : [f.name, f.size]));
      return { kind: "result", result: { columns, rows } };
    }
    case "showReplicas": {
      const listed = services.control?.replicas() ?? [];
      const mysql = config.flavor === "mysql";
      const names = statement.replicas ? ["Server_Id", "Host", "Port", "Source_Id", "Replica_UUID"] : ["Server_id", "Host", "Port", "Master_id", "Slave_UUID"];
      const columns = names.slice(0, mysql ? 5 : 4).map((name, i) => (i === 1 || i === 4 ? { name } : { name, kind: "integer" as const }));
      const rows = listed.map((r): Cell[] => [r.serverId, r.host, r.port, config.serverId, ...(mysql ? [r.uuid ?? ""] : [])]);
      return { kind: "result", result: { columns, rows } };
    }
    case "kill":
      if (statement.id === session.connectionId) {
        if (statement.what === "query") return { kind: "ok" };
        throw new SqlError(ServerErrorKind.CONNECTION_KILLED, "Connection was killed", { fatal: true });
      }
      if (!services.control?.kill(statement.id)) throw new SqlError(ServerErrorKind.NO_SUCH_THREAD, `Unknown thread id: ${statement.id}`);
      return { kind: "ok" };
    case "showWarnings":
      return { kind: "result", result: { columns: [{ name: "Level" }, { name: "Code", kind: "integer" }, { name: "Message" }], rows: [] } };
    case "use":
      session.database = statement.database;
      return { kind: "ok" };
    case "unsupported":
      throw new SqlError(
        ServerErrorKind.NOT_SUPPORTED_YET,
        `kingbus is a binlog server: it does not support ${statement.verb} statements of this form (only replication and session queries)`,
      );
  }
}

function setSystemVariable(name: string, scope: "global" | "session" | undefined, value: Cell, session: QuerySession, config: ResolvedServerConfig): void {
  if (!isKnownVariable(name, config.flavor)) {
    throw new SqlError(ServerErrorKind.UNKNOWN_SYSTEM_VARIABLE, `Unknown system variable '${name}'`);
  }
  if (scope === "global") {
    throw new SqlError(ServerErrorKind.SPECIFIC_ACCESS_DENIED, `kingbus does not change global variables: SET GLOBAL ${name} is refused`);
  }
  if (!isSessionVariable(name, config.flavor)) {
    throw new SqlError(ServerErrorKind.GLOBAL_VARIABLE, `Variable '${name}' is a GLOBAL variable and should be set with SET GLOBAL`);
  }
  const key = name.toLowerCase();
  if (typeof value === "string" && value.toUpperCase() === "DEFAULT") session.sessionVars.delete(key);
  else session.sessionVars.set(key, sessionValue(key, config.flavor, value));
}

interface Evaluated {
  value: Cell;
  kind: ColumnKind;
}

function kindOf(value: Cell): ColumnKind {
  if (typeof value === "bigint") return "integer";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "double";
  return "string";
}

function numberValue(text: string): Evaluated {
  if (/^-?\d+$/.test(text)) return { value: BigInt(text), kind: "integer" };
  return { value: text, kind: "double" };
}

function utcDateTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace("T", " ");
}

async function evaluate(expr: Expr, session: QuerySession, env: VariableEnv): Promise<Evaluated> {
  switch (expr.k) {
    case "string":
      return { value: expr.value, kind: "string" };
    case "number":
      return numberValue(expr.text);
    case "null":
      return { value: null, kind: "string" };
    case "word":
      return { value: expr.word, kind: "string" };
    case "userVar": {
      const value = session.userVars.get(expr.name) ?? null;
      return { value, kind: kindOf(value) };
    }
    case "sysVar": {
      const variable = await readVariable(expr.name, expr.scope, env);
      if (!variable) throw new SqlError(ServerErrorKind.UNKNOWN_SYSTEM_VARIABLE, `Unknown system variable '${expr.name}'`);
      return { value: variable.value, kind: variable.kind };
    }
    case "func":
      switch (expr.name) {
        case "UNIX_TIMESTAMP":
          return { value: BigInt(Math.floor(Date.now() / 1000)), kind: "integer" };
        case "VERSION":
          return { value: env.config.serverVersion.replace(/^5\.5\.5-/, ""), kind: "string" };
        case "DATABASE":
        case "SCHEMA":
          return { value: session.database ?? null, kind: "string" };
        case "USER":
        case "SESSION_USER":
        case "SYSTEM_USER":
          return { value: `${session.user}@${session.clientHost}`, kind: "string" };
        case "CURRENT_USER":
          return { value: `${session.user}@%`, kind: "string" };
        case "CONNECTION_ID":
          return { value: session.connectionId, kind: "integer" };
        case "NOW":
        case "CURRENT_TIMESTAMP":
        case "SYSDATE":
        case "UTC_TIMESTAMP":
          return { value: utcDateTime(new Date()), kind: "string" };
        case "UUID":
          return { value: randomUUID(), kind: "string" };
        case "LAST_INSERT_ID":
          return { value: 0, kind: "integer" };
        default:
          throw new SqlError(ServerErrorKind.NOT_SUPPORTED_YET, `kingbus does not support the function ${expr.name}()`);
      }
  }
}
