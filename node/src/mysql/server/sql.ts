/**
 * The few statements a binlog server answers, recognised by small matchers over a tokenizer (not a
 * SQL parser): what real MariaDB and MySQL replicas, `mariadb-binlog` and interactive clients send
 * before they dump or when they log in.
 *
 *   SET @user_var = expr [, ...]          SET [GLOBAL|SESSION|LOCAL] sys_var = expr, SET @@x = expr
 *   SET NAMES cs [COLLATE c]              SET CHARACTER SET cs        SET [SESSION] TRANSACTION ...
 *   SELECT expr [[AS] alias] [, ...] [FROM DUAL] [LIMIT n]
 *       expr: 'string', number, NULL, TRUE/FALSE, @user_var, @@[global.|session.]sys_var, f()
 *   SHOW [GLOBAL|SESSION] VARIABLES [LIKE 'pattern' | WHERE Variable_name = 'name']
 *   SHOW MASTER STATUS | SHOW BINARY LOG STATUS | SHOW BINARY LOGS | SHOW MASTER LOGS
 *   SHOW WARNINGS | SHOW ERRORS           USE db
 *   SHOW SLAVE HOSTS | SHOW REPLICAS      KILL [CONNECTION | QUERY] id
 *
 * Anything else is `unsupported` (a statement we recognise by its first word but do not serve) or a
 * syntax error; both become ERR packets, never a dropped connection. Comments are skipped, and
 * the body of an executable comment (`/*!40101 ... *\/`) is read like MySQL reads it.
 */
import { ServerErrorKind, SqlError } from "../wire/errors.ts";

export type Scope = "global" | "session";

type TokenBase = { start: number; end: number };
export type Token =
  | (TokenBase & { t: "ident"; text: string; upper: string; quoted: boolean })
  | (TokenBase & { t: "userVar"; name: string })
  | (TokenBase & { t: "sysVar"; scope: Scope | undefined; name: string })
  | (TokenBase & { t: "string"; value: string })
  | (TokenBase & { t: "number"; text: string })
  | (TokenBase & { t: "op"; text: string });

function syntaxError(sql: string, at: number): SqlError {
  const near = sql.slice(at, at + 80);
  return new SqlError(
    ServerErrorKind.PARSE_ERROR,
    `You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '${near}' at line ${lineOf(sql, at)}`,
  );
}

function lineOf(sql: string, at: number): number {
  let line = 1;
  for (let i = 0; i < at && i < sql.length; i++) if (sql[i] === "\n") line++;
  return line;
}

const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", b: "\b", "0": "\0", Z: "\x1a" };

/** Cuts a statement into tokens; throws SqlError 1064 at the first character it cannot read. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let inExecutableComment = false;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "#" || (c === "-" && sql[i + 1] === "-" && (i + 2 >= sql.length || /\s/.test(sql[i + 2]!)))) {
      while (i < sql.length && sql[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      const executable = /^\/\*M?!(\d{5,6})?/.exec(sql.slice(i, i + 11));
      if (executable && !inExecutableComment) {
        inExecutableComment = true;
        i += executable[0].length;
        continue;
      }
      const close = sql.indexOf("*/", i + 2);
      if (close < 0) throw syntaxError(sql, i);
      i = close + 2;
      continue;
    }
    if (c === "*" && sql[i + 1] === "/" && inExecutableComment) {
      inExecutableComment = false;
      i += 2;
      continue;
    }
    const start = i;
    if (c === "@") {
      if (sql[i + 1] === "@") {
        i += 2;
        let scope: Scope | undefined;
        const prefix = /^(global|session|local)\./i.exec(sql.slice(i, i + 8));
        if (prefix) {
          scope = prefix[1]!.toLowerCase() === "global" ? "global" : "session";
          i += prefix[0].length;
        }
        const name = readName(sql, i);
        if (name === undefined) throw syntaxError(sql, start);
        i = name.end;
        tokens.push({ t: "sysVar", scope, name: name.text.toLowerCase(), start, end: i });
        continue;
      }
      i++;
      let name: string;
      const q = sql[i];
      if (q === "'" || q === '"' || q === "`") {
        const quoted = readQuoted(sql, i);
        name = quoted.value;
        i = quoted.end;
      } else {
        const from = i;
        while (i < sql.length && /[A-Za-z0-9_$.\u0080-\uffff]/.test(sql[i]!)) i++;
        if (i === from) throw syntaxError(sql, start);
        name = sql.slice(from, i);
      }
      tokens.push({ t: "userVar", name: name.toLowerCase(), start, end: i });
      continue;
    }
    if (c === "'" || c === '"') {
      const quoted = readQuoted(sql, i);
      i = quoted.end;
      tokens.push({ t: "string", value: quoted.value, start, end: i });
      continue;
    }
    if (c === "`") {
      const quoted = readQuoted(sql, i);
      i = quoted.end;
      tokens.push({ t: "ident", text: quoted.value, upper: quoted.value.toUpperCase(), quoted: true, start, end: i });
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
      const m = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(sql.slice(i))!;
      if (IDENT_CHAR.test(sql[i + m[0].length] ?? "") && !/[eE]/.test(sql[i + m[0].length] ?? "x")) {
        // 1abc is an identifier in MySQL; we have no use for those.
        throw syntaxError(sql, i);
      }
      i += m[0].length;
      tokens.push({ t: "number", text: m[0], start, end: i });
      continue;
    }
    if (IDENT_CHAR.test(c)) {
      const name = readName(sql, i)!;
      i = name.end;
      tokens.push({ t: "ident", text: name.text, upper: name.text.toUpperCase(), quoted: false, start, end: i });
      continue;
    }
    const two = sql.slice(i, i + 2);
    if (two === ":=" || two === "<>" || two === "!=" || two === "<=" || two === ">=") {
      i += 2;
      tokens.push({ t: "op", text: two, start, end: i });
      continue;
    }
    if ("=,();.*+-<>".includes(c)) {
      i++;
      tokens.push({ t: "op", text: c, start, end: i });
      continue;
    }
    throw syntaxError(sql, i);
  }
  return tokens;
}

function readName(sql: string, at: number): { text: string; end: number } | undefined {
  if (sql[at] === "`") {
    const quoted = readQuoted(sql, at);
    return { text: quoted.value, end: quoted.end };
  }
  let i = at;
  while (i < sql.length && IDENT_CHAR.test(sql[i]!)) i++;
  return i === at ? undefined : { text: sql.slice(at, i), end: i };
}

/** A quoted string or identifier: doubled quotes, and backslash escapes in strings. */
function readQuoted(sql: string, at: number): { value: string; end: number } {
  const quote = sql[at]!;
  let value = "";
  let i = at + 1;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "\\" && quote !== "`") {
      const next = sql[i + 1];
      if (next === undefined) break;
      // MySQL keeps the backslash of \% and \_ (they matter to LIKE).
      value += next === "%" || next === "_" ? `\\${next}` : (ESCAPES[next] ?? next);
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        value += quote;
        i += 2;
        continue;
      }
      return { value, end: i + 1 };
    }
    value += c;
    i++;
  }
  throw syntaxError(sql, at);
}

// ---------------------------------------------------------------------------------------------
// Statements

export type Expr =
  | { k: "string"; value: string }
  | { k: "number"; text: string }
  | { k: "null" }
  | { k: "userVar"; name: string }
  | { k: "sysVar"; scope: Scope | undefined; name: string }
  | { k: "func"; name: string }
  /** A bare word: ON, OFF, DEFAULT, TRUE, FALSE, or a value like ROW (SET only). */
  | { k: "word"; word: string };

export type SetTarget = { k: "userVar"; name: string } | { k: "sysVar"; scope: Scope | undefined; name: string };

export type Assignment = { target: SetTarget; value: Expr } | { names: string };

export interface SelectItem {
  expr: Expr;
  /** The column name: the alias, or the item's text as written. */
  name: string;
}

export type Statement =
  | { kind: "set"; assignments: Assignment[] }
  | { kind: "select"; items: SelectItem[]; limit: number | undefined; offset: number }
  | { kind: "showVariables"; scope: Scope | undefined; like: string | undefined; name: string | undefined }
  | { kind: "showMasterStatus" }
  | { kind: "showBinaryLogs" }
  | { kind: "showWarnings" }
  /** SHOW SLAVE HOSTS (`replicas` false) or SHOW REPLICAS (MySQL 8.0.22+ column names). */
  | { kind: "showReplicas"; replicas: boolean }
  | { kind: "kill"; what: "connection" | "query"; id: number }
  | { kind: "use"; database: string }
  | { kind: "setTransaction" }
  /** A statement we know by its first word but do not serve. */
  | { kind: "unsupported"; verb: string };

/** Statements recognised by their first word, to answer "not supported" rather than "syntax error". */
const KNOWN_VERBS = new Set([
  "ALTER", "ANALYZE", "BEGIN", "BINLOG", "CALL", "CHANGE", "CHECK", "CHECKSUM", "COMMIT", "CREATE", "DEALLOCATE", "DELETE",
  "DESC", "DESCRIBE", "DO", "DROP", "EXECUTE", "EXPLAIN", "FLUSH", "GRANT", "HANDLER", "HELP", "INSERT", "INSTALL", "KILL",
  "LOAD", "LOCK", "OPTIMIZE", "PREPARE", "PURGE", "RELEASE", "RENAME", "REPAIR", "REPLACE", "RESET", "REVOKE", "ROLLBACK",
  "SAVEPOINT", "SELECT", "SET", "SHOW", "SHUTDOWN", "START", "STOP", "TABLE", "TRUNCATE", "UNINSTALL", "UNLOCK", "UPDATE",
  "USE", "VALUES", "WITH", "XA",
]);

/** Reads one statement; throws SqlError 1064 when it is not well formed. */
export function parseStatement(sql: string): Statement {
  const tokens = tokenize(sql);
  while (tokens.length > 0 && isOp(tokens.at(-1), ";")) tokens.pop();
  const p = new Parser(sql, tokens);
  if (tokens.length === 0) throw new SqlError(ServerErrorKind.PARSE_ERROR, "Query was empty");
  if (tokens.some((t) => isOp(t, ";"))) throw syntaxError(sql, tokens.find((t) => isOp(t, ";"))!.start);
  const first = tokens[0]!;
  const verb = first.t === "ident" && !first.quoted ? first.upper : "";
  const statement = p.attempt(() => {
    switch (verb) {
      case "SET":
        return p.set();
      case "SELECT":
        return p.select();
      case "SHOW":
        return p.show();
      case "USE":
        return p.use();
      case "KILL":
        return p.kill();
      default:
        return undefined;
    }
  });
  if (statement) return statement;
  if (KNOWN_VERBS.has(verb)) return { kind: "unsupported", verb };
  throw syntaxError(sql, first.start);
}

function isOp(t: Token | undefined, text: string): boolean {
  return t?.t === "op" && t.text === text;
}

function isWord(t: Token | undefined, ...words: string[]): boolean {
  return t?.t === "ident" && !t.quoted && words.includes(t.upper);
}

/** Thrown inside the parser when a statement is not one of ours; becomes `unsupported`. */
class NotOurs extends Error {}

class Parser {
  private pos = 0;
  private readonly sql: string;
  private readonly tokens: Token[];

  constructor(sql: string, tokens: Token[]) {
    this.sql = sql;
    this.tokens = tokens;
  }

  /** Runs a matcher; a statement it does not recognise gives undefined. Syntax errors propagate. */
  attempt(match: () => Statement | undefined): Statement | undefined {
    try {
      return match();
    } catch (error) {
      if (error instanceof NotOurs) return undefined;
      throw error;
    }
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private take(): Token {
    const t = this.tokens[this.pos];
    if (t === undefined) throw syntaxError(this.sql, this.sql.length);
    this.pos++;
    return t;
  }

  private expectOp(text: string): void {
    const t = this.take();
    if (!isOp(t, text)) throw syntaxError(this.sql, t.start);
  }

  private expectWord(...words: string[]): string {
    const t = this.take();
    if (!isWord(t, ...words)) throw new NotOurs();
    return (t as { upper: string }).upper;
  }

  private acceptWord(...words: string[]): string | undefined {
    const t = this.peek();
    if (!isWord(t, ...words)) return undefined;
    this.pos++;
    return (t as { upper: string }).upper;
  }

  private atEnd(): boolean {
    return this.pos >= this.tokens.length;
  }

  private expectEnd(): void {
    if (!this.atEnd()) throw syntaxError(this.sql, this.peek()!.start);
  }

  set(): Statement {
    this.expectWord("SET");
    const head = this.peek();
    if (isWord(head, "TRANSACTION") || (isWord(head, "SESSION", "GLOBAL", "LOCAL") && isWord(this.peek(1), "TRANSACTION"))) {
      return { kind: "setTransaction" };
    }
    const assignments: Assignment[] = [];
    do assignments.push(this.assignment());
    while (this.acceptOp(","));
    // SET @a = 1 + 2 and the like: valid SQL, beyond these matchers.
    if (!this.atEnd()) throw new NotOurs();
    return { kind: "set", assignments };
  }

  private acceptOp(text: string): boolean {
    if (!isOp(this.peek(), text)) return false;
    this.pos++;
    return true;
  }

  private assignment(): Assignment {
    const t = this.take();
    let target: SetTarget;
    if (t.t === "userVar") target = { k: "userVar", name: t.name };
    else if (t.t === "sysVar") target = { k: "sysVar", scope: t.scope, name: t.name };
    else if (isWord(t, "NAMES")) {
      const charset = this.take();
      if (charset.t !== "ident" && charset.t !== "string") throw syntaxError(this.sql, charset.start);
      if (this.acceptWord("COLLATE")) this.take();
      return { names: charset.t === "string" ? charset.value : charset.text };
    } else if (isWord(t, "CHARACTER", "CHARSET")) {
      if ((t as { upper: string }).upper === "CHARACTER") this.expectWord("SET");
      const charset = this.take();
      return { names: charset.t === "string" ? charset.value : charset.t === "ident" ? charset.text : "" };
    } else if (isWord(t, "GLOBAL", "SESSION", "LOCAL", "PERSIST", "PERSIST_ONLY")) {
      const scopeWord = (t as { upper: string }).upper;
      const name = this.take();
      if (name.t !== "ident") throw syntaxError(this.sql, name.start);
      target = { k: "sysVar", scope: scopeWord === "SESSION" || scopeWord === "LOCAL" ? "session" : "global", name: name.text.toLowerCase() };
    } else if (t.t === "ident") {
      target = { k: "sysVar", scope: undefined, name: t.text.toLowerCase() };
    } else {
      throw syntaxError(this.sql, t.start);
    }
    const op = this.take();
    if (!isOp(op, "=") && !isOp(op, ":=")) throw syntaxError(this.sql, op.start);
    return { target, value: this.expr(true) };
  }

  private expr(inSet: boolean): Expr {
    const t = this.take();
    switch (t.t) {
      case "string":
        return { k: "string", value: t.value };
      case "number":
        return { k: "number", text: t.text };
      case "userVar":
        return { k: "userVar", name: t.name };
      case "sysVar":
        return { k: "sysVar", scope: t.scope, name: t.name };
      case "op":
        if (t.text === "-" || t.text === "+") {
          const n = this.take();
          if (n.t !== "number") throw syntaxError(this.sql, n.start);
          return { k: "number", text: t.text === "-" ? `-${n.text}` : n.text };
        }
        // Sub-queries, parenthesised expressions: not ours.
        throw new NotOurs();
      case "ident": {
        if (!t.quoted && isOp(this.peek(), "(")) {
          this.pos++;
          // Functions with arguments are beyond these matchers.
          if (!this.acceptOp(")")) throw new NotOurs();
          return { k: "func", name: t.upper };
        }
        if (!t.quoted && t.upper === "NULL") return { k: "null" };
        if (!t.quoted && (t.upper === "TRUE" || t.upper === "FALSE")) return { k: "number", text: t.upper === "TRUE" ? "1" : "0" };
        if (inSet) return { k: "word", word: t.text };
        // A column name: SELECT from a table, which we do not serve.
        throw new NotOurs();
      }
    }
  }

  select(): Statement {
    this.expectWord("SELECT");
    const items: SelectItem[] = [];
    do {
      const first = this.peek();
      if (first === undefined) throw syntaxError(this.sql, this.sql.length);
      const expr = this.expr(false);
      const text = this.sql.slice(first.start, this.tokens[this.pos - 1]!.end);
      let name = text;
      if (this.acceptWord("AS")) name = this.alias();
      else if (this.peek()?.t === "string" || (this.peek()?.t === "ident" && !isWord(this.peek(), "FROM", "LIMIT"))) name = this.alias();
      items.push({ expr, name });
    } while (this.acceptOp(","));
    if (this.acceptWord("FROM")) {
      if (!this.acceptWord("DUAL")) throw new NotOurs();
    }
    let limit: number | undefined;
    let offset = 0;
    if (this.acceptWord("LIMIT")) {
      const a = this.integer();
      if (this.acceptOp(",")) {
        offset = a;
        limit = this.integer();
      } else {
        limit = a;
        if (this.acceptWord("OFFSET")) offset = this.integer();
      }
    }
    if (!this.atEnd()) throw new NotOurs();
    return { kind: "select", items, limit, offset };
  }

  private alias(): string {
    const t = this.take();
    if (t.t === "ident") return t.text;
    if (t.t === "string") return t.value;
    throw syntaxError(this.sql, t.start);
  }

  private integer(): number {
    const t = this.take();
    if (t.t !== "number" || !/^\d+$/.test(t.text)) throw syntaxError(this.sql, t.start);
    return Number(t.text);
  }

  show(): Statement {
    this.expectWord("SHOW");
    const scopeWord = this.acceptWord("GLOBAL", "SESSION", "LOCAL");
    if (this.acceptWord("VARIABLES")) {
      const scope: Scope | undefined = scopeWord === undefined ? undefined : scopeWord === "GLOBAL" ? "global" : "session";
      let like: string | undefined;
      let name: string | undefined;
      if (this.acceptWord("LIKE")) {
        const pattern = this.take();
        if (pattern.t !== "string") throw syntaxError(this.sql, pattern.start);
        like = pattern.value;
      } else if (this.acceptWord("WHERE")) {
        const column = this.take();
        if (!(column.t === "ident" && column.upper === "VARIABLE_NAME")) throw new NotOurs();
        const op = this.take();
        const value = this.take();
        if (value.t !== "string") throw new NotOurs();
        if (isOp(op, "=")) name = value.value;
        else if (isWord(op, "LIKE")) like = value.value;
        else throw new NotOurs();
      }
      this.expectEnd();
      return { kind: "showVariables", scope, like, name };
    }
    if (scopeWord !== undefined) throw new NotOurs();
    const word = this.expectWord("MASTER", "BINARY", "WARNINGS", "ERRORS", "SLAVE", "REPLICAS");
    if (word === "SLAVE" || word === "REPLICAS") {
      if (word === "SLAVE") this.expectWord("HOSTS");
      this.expectEnd();
      return { kind: "showReplicas", replicas: word === "REPLICAS" };
    }
    if (word === "WARNINGS" || word === "ERRORS") {
      if (this.acceptWord("LIMIT")) {
        this.integer();
        if (this.acceptOp(",")) this.integer();
      }
      this.expectEnd();
      return { kind: "showWarnings" };
    }
    if (word === "MASTER" && this.acceptWord("STATUS")) {
      this.expectEnd();
      return { kind: "showMasterStatus" };
    }
    if (word === "MASTER" && this.acceptWord("LOGS")) {
      this.expectEnd();
      return { kind: "showBinaryLogs" };
    }
    if (word === "BINARY") {
      if (this.acceptWord("LOGS")) {
        this.expectEnd();
        return { kind: "showBinaryLogs" };
      }
      this.expectWord("LOG");
      this.expectWord("STATUS");
      this.expectEnd();
      return { kind: "showMasterStatus" };
    }
    throw new NotOurs();
  }

  kill(): Statement {
    this.expectWord("KILL");
    const what = this.acceptWord("CONNECTION", "QUERY");
    // KILL USER, KILL HARD/SOFT, KILL QUERY ID: MariaDB's other forms are not served.
    if (this.peek()?.t !== "number") throw new NotOurs();
    const id = this.integer();
    this.expectEnd();
    return { kind: "kill", what: what === "QUERY" ? "query" : "connection", id };
  }

  use(): Statement {
    this.expectWord("USE");
    const t = this.take();
    if (t.t !== "ident") throw syntaxError(this.sql, t.start);
    this.expectEnd();
    return { kind: "use", database: t.text };
  }
}

/** SQL LIKE, case-insensitive as SHOW VARIABLES LIKE is: % any run, _ one character, \ escapes. */
export function likeToRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\" && i + 1 < pattern.length) {
      source += escapeRegExp(pattern[++i]!);
    } else if (c === "%") source += "[\\s\\S]*";
    else if (c === "_") source += "[\\s\\S]";
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, "i");
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
