/**
 * `kingbus ctl`: the command-line client of the kingbus.v1.Admin gRPC service (see docs/ctl.md).
 * Human-readable output by default, `--json` for scripts. A failed call prints
 * `kingbus ctl: <code>: <message>` on stderr and exits with status 1; a usage error (unknown
 * option, missing argument, unreadable token file...) exits with status 2.
 */
import { readFileSync } from "node:fs";
import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { AdminGrpcClient } from "../admin/grpc-admin.ts";
import { MASKED_PASSWORD } from "../admin/views.ts";
import { TOKEN_RULE, adminToken } from "../config/schema.ts";
import { KingbusError } from "../errors.ts";
import { AdminCallError } from "../transport/admin-service.ts";
import type {
  AdminMember,
  AdminMembersResponse,
  AdminMethodName,
  AdminPurgeRequest,
  AdminPurgeResponse,
  AdminRequest,
  AdminResponse,
  AdminServerStatus,
  AdminStatusResponse,
  AdminSyncerStatus,
} from "../transport/admin-types.ts";
import { peerTarget } from "../transport/peer-address.ts";

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const DEFAULT_ENDPOINT = "127.0.0.1:9696";
export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** Where ctl writes and what it reads from its environment: the process's, or a test's. */
export interface CtlIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The command finished with this status (set as the process's exit code). */
  readonly setExitCode: (code: number) => void;
  /** Commander's usage errors, --help and --version end the command at once with this status. */
  readonly exit: (code: number) => never;
}

const processIo: CtlIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  setExitCode: (code) => {
    process.exitCode = code;
  },
  exit: (code) => process.exit(code),
};

/** A refusal of the command line itself (exit status 2). */
export class CtlUsageError extends KingbusError {
  constructor(message: string) {
    super("CTL_USAGE", message);
  }
}

interface GlobalOptions {
  endpoint?: string;
  token?: string;
  tokenFile?: string;
  timeout?: number;
  json?: boolean;
  cacert?: string;
  cert?: string;
  key?: string;
}

// ---------------------------------------------------------------------------------------------
// Argument parsers (an InvalidArgumentError is a usage error: status 2)
// ---------------------------------------------------------------------------------------------

function parseId(text: string): number {
  if (/^\d+$/.test(text)) {
    const id = Number(text);
    if (id >= 1 && Number.isSafeInteger(id)) return id;
  }
  throw new InvalidArgumentError(`must be a node id: an integer from 1 to ${Number.MAX_SAFE_INTEGER}`);
}

function parseServerId(text: string): number {
  if (/^\d+$/.test(text)) {
    const id = Number(text);
    if (id >= 1 && id <= 4294967295) return id;
  }
  throw new InvalidArgumentError("must be an integer from 1 to 4294967295");
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, "": 1000 };

/** `500ms`, `10s`, `2m`, `1h`, or a plain number of seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|)$/.exec(text.trim());
  const ms = m ? Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!) : NaN;
  if (!(ms >= 1) || !Number.isSafeInteger(ms)) throw new InvalidArgumentError("must be a duration such as 500ms, 10s or 2m");
  return ms;
}

/** Milliseconds since the epoch, or an ISO 8601 date and time (with its time zone, e.g. Z). */
function parseInstant(text: string): number {
  if (/^\d+$/.test(text)) {
    const ms = Number(text);
    if (ms >= 1 && Number.isSafeInteger(ms)) return ms;
  } else if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)) {
    const ms = Date.parse(text);
    if (ms >= 1) return ms;
  }
  throw new InvalidArgumentError("must be milliseconds since the epoch or an ISO 8601 time such as 2024-05-01T00:00:00Z");
}

// ---------------------------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------------------------

function readSecretFile(path: string, what: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new CtlUsageError(`cannot read the ${what} file ${path} (${typeof code === "string" ? code : String(e)})`);
  }
  if (bytes.length > MAX_SECRET_FILE_BYTES) throw new CtlUsageError(`the ${what} file ${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
  // Secrets are usually written with a trailing newline; it is never part of the secret.
  return bytes.toString("utf8").replace(/[\r\n\t ]+$/, "");
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new CtlUsageError(`cannot read the ${what} ${path} (${typeof code === "string" ? code : String(e)})`);
  }
}

interface Connection {
  readonly endpoint: string;
  readonly client: AdminGrpcClient;
  readonly timeoutMs: number;
  readonly json: boolean;
}

function resolveToken(o: GlobalOptions, env: CtlIo["env"]): string | undefined {
  if (o.token !== undefined && o.tokenFile !== undefined) throw new CtlUsageError("--token and --token-file cannot be combined");
  let token: string | undefined;
  let source: string;
  if (o.token !== undefined) [token, source] = [o.token, "--token"];
  else if (o.tokenFile !== undefined) [token, source] = [readSecretFile(o.tokenFile, "token"), `the token file ${o.tokenFile}`];
  else if (env.KINGBUS_ADMIN_TOKEN !== undefined && env.KINGBUS_ADMIN_TOKEN !== "") [token, source] = [env.KINGBUS_ADMIN_TOKEN, "KINGBUS_ADMIN_TOKEN"];
  else if (env.KINGBUS_ADMIN_TOKEN_FILE !== undefined && env.KINGBUS_ADMIN_TOKEN_FILE !== "") {
    [token, source] = [readSecretFile(env.KINGBUS_ADMIN_TOKEN_FILE, "token"), `the token file ${env.KINGBUS_ADMIN_TOKEN_FILE}`];
  } else return undefined;
  if (!adminToken.safeParse(token).success) throw new CtlUsageError(token === "" ? `the token from ${source} is empty` : `the token from ${source} ${TOKEN_RULE}`);
  return token;
}

function channelCredentials(o: GlobalOptions): ChannelCredentials {
  if ((o.cert === undefined) !== (o.key === undefined)) throw new CtlUsageError("--cert and --key go together (mutual TLS)");
  if (o.cacert === undefined) {
    if (o.cert !== undefined) throw new CtlUsageError("--cert and --key need --cacert");
    return credentials.createInsecure();
  }
  const ca = readPem(o.cacert, "CA bundle");
  const key = o.key === undefined ? null : readPem(o.key, "key");
  const cert = o.cert === undefined ? null : readPem(o.cert, "certificate");
  try {
    return credentials.createSsl(ca, key, cert);
  } catch (e) {
    throw new CtlUsageError(`unusable TLS files: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function connect(o: GlobalOptions, io: CtlIo): Connection {
  const raw = o.endpoint ?? (io.env.KINGBUS_ENDPOINT === "" ? undefined : io.env.KINGBUS_ENDPOINT) ?? DEFAULT_ENDPOINT;
  let endpoint: string;
  try {
    endpoint = peerTarget(raw);
  } catch {
    throw new CtlUsageError(`the endpoint must be host:port, e.g. kingbus-0.kingbus:9696 (got ${JSON.stringify(raw)})`);
  }
  const token = resolveToken(o, io.env);
  const client = new AdminGrpcClient(endpoint, { credentials: channelCredentials(o), ...(token === undefined ? {} : { token }) });
  return { endpoint, client, timeoutMs: o.timeout ?? DEFAULT_TIMEOUT_MS, json: o.json === true };
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/** Columns padded to their widest cell, two spaces apart, no trailing blanks. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n") + "\n";
}

/** `label: value` lines, the values aligned. */
function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`.trimEnd()).join("\n") + "\n";
}

function dash(text: string): string {
  return text === "" ? "-" : text;
}

function memberLabel(id: number, members: readonly AdminMember[]): string {
  if (id === 0) return "none";
  const name = members.find((m) => m.id === id)?.name;
  return name === undefined || name === "" ? String(id) : `${id} (${name})`;
}

function membersTable(members: readonly AdminMember[]): string {
  return table(
    ["ID", "NAME", "ROLE", "LEADER", "PEER URLS", "ADMIN URLS"],
    members.map((m) => [String(m.id), dash(m.name), m.learner ? "learner" : "voter", m.isLeader ? "*" : "", dash(m.peerUrls.join(",")), dash(m.adminUrls.join(","))]),
  );
}

function statusText(s: AdminStatusResponse): string {
  const head = fields([
    ["node", memberLabel(s.nodeId, s.members)],
    ["cluster", dash(s.clusterId)],
    ["role", s.role],
    ["term", String(s.term)],
    ["leader", memberLabel(s.leaderId, s.members)],
    ["commit index", String(s.commitIndex)],
    ["applied index", String(s.appliedIndex)],
    ["log", `${s.firstIndex}..${s.lastIndex}`],
    ["executed GTID set", dash(s.executedGtidSet)],
    ["purged GTID set", dash(s.purgedGtidSet)],
    ["version", dash(s.version)],
  ]);
  const progress = new Map(s.progress.map((p) => [p.id, p]));
  const rows = s.members.map((m) => {
    const p = progress.get(m.id);
    return [
      String(m.id), dash(m.name), m.learner ? "learner" : "voter", m.isLeader ? "*" : "",
      p === undefined ? "-" : String(p.matchIndex), p === undefined ? "-" : String(p.nextIndex), p === undefined ? "-" : p.state,
      p === undefined ? "-" : p.reachable ? "yes" : "no", dash(m.peerUrls.join(",")),
    ];
  });
  return `${head}\n${table(["ID", "NAME", "ROLE", "LEADER", "MATCH", "NEXT", "STATE", "REACHABLE", "PEER URLS"], rows)}`;
}

function progressPairs(s: AdminSyncerStatus | AdminServerStatus): [string, string][] {
  return [
    ["current GTID", dash(s.currentGtid)],
    ["executed GTID set", dash(s.executedGtidSet)],
    ["purged GTID set", dash(s.purgedGtidSet)],
    ["binlog position", s.lastBinlogFile === "" ? "-" : `${s.lastBinlogFile}:${s.lastFilePosition}`],
  ];
}

function syncerText(s: AdminSyncerStatus): string {
  const pairs: [string, string][] = [
    ["status", s.status],
    ["syncer id", s.syncerId === 0 ? "-" : String(s.syncerId)],
    ["syncer uuid", dash(s.syncerUuid)],
    ["mysql addr", dash(s.mysqlAddr)],
    ["mysql user", dash(s.mysqlUser)],
    ["mysql password", s.mysqlPasswordSet ? MASKED_PASSWORD : "(not set)"],
    ["semi-sync", s.semiSync ? "yes" : "no"],
    ...progressPairs(s),
  ];
  if (s.lastError !== "") pairs.push(["last error", s.lastError]);
  return fields(pairs);
}

function serverText(s: AdminServerStatus): string {
  const head = fields([
    ["status", s.status],
    ["addr", dash(s.addr)],
    ["user", dash(s.user)],
    ["password", s.passwordSet ? MASKED_PASSWORD : "(not set)"],
    ...progressPairs(s),
    ["replicas", String(s.replicas.length)],
  ]);
  if (s.replicas.length === 0) return head;
  const rows = s.replicas.map((r) => [String(r.serverId), r.host, String(r.port), dash(r.uuid), dash(r.start), r.connectedUnixMs === 0 ? "-" : new Date(r.connectedUnixMs).toISOString()]);
  return `${head}\n${table(["SERVER ID", "HOST", "PORT", "UUID", "START", "CONNECTED"], rows)}`;
}

function purgeText(r: AdminPurgeResponse): string {
  if (r.purgedThroughIndex === 0 && r.segmentsRemoved === 0) return `nothing to purge\n${fields([["purged GTID set", dash(r.purgedGtidSet)]])}`;
  return fields([
    ["purged through index", String(r.purgedThroughIndex)],
    ["segments removed", String(r.segmentsRemoved)],
    ["purged GTID set", dash(r.purgedGtidSet)],
  ]);
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

function describeFailure(e: unknown, endpoint: string | undefined, timeoutMs: number | undefined): [code: string, message: string] {
  if (e instanceof AdminCallError && endpoint !== undefined) {
    if (e.code === "ADMIN_UNAVAILABLE") return [e.code, `cannot reach ${endpoint}: ${e.message}`];
    if (e.code === "ADMIN_DEADLINE_EXCEEDED") return [e.code, `no answer from ${endpoint} within ${timeoutMs} ms`];
  }
  if (e instanceof KingbusError) return [e.code, e.message];
  return ["CTL_INTERNAL", e instanceof Error ? e.message : String(e)];
}

function registerCommands(ctl: Command, io: CtlIo): void {
  /** Runs one call and prints its answer; any failure becomes `kingbus ctl: <code>: <message>`. */
  async function run<M extends AdminMethodName>(cmd: Command, method: M, request: (options: Record<string, unknown>) => AdminRequest<M>, text: (response: AdminResponse<M>) => string): Promise<void> {
    const options = cmd.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    let connection: Connection | undefined;
    try {
      const body = request(options);
      connection = connect(options, io);
      const response = await connection.client.call(method, body, { deadlineMs: connection.timeoutMs });
      io.stdout(connection.json ? `${JSON.stringify(response, null, 2)}\n` : text(response));
      io.setExitCode(0);
    } catch (e) {
      const [code, message] = describeFailure(e, connection?.endpoint, connection?.timeoutMs);
      io.stderr(`kingbus ctl: ${code}: ${message}\n`);
      io.setExitCode(e instanceof CtlUsageError ? EXIT_USAGE : EXIT_FAILURE);
    } finally {
      connection?.client.close();
    }
  }

  const membersText = (summary: (r: AdminMembersResponse) => string) => (r: AdminMembersResponse) => `${summary(r)}\n${membersTable(r.members)}`;
  const nameOf = (members: readonly AdminMember[], id: number) => memberLabel(id, members);

  ctl
    .command("status")
    .description("this node's Raft state and the cluster's members, with replication progress on the leader")
    .action((_o: unknown, cmd: Command) => run(cmd, "Status", () => ({}), statusText));

  const members = ctl.command("members").description("list and change the Raft membership (one step at a time, on the leader)");
  members
    .command("list")
    .description("the members with their roles")
    .action((_o: unknown, cmd: Command) => run(cmd, "ListMembers", () => ({}), (r) => membersTable(r.members)));
  members
    .command("add-learner")
    .description("add a non-voting member that catches up before it is promoted")
    .argument("<id>", "the new member's node id (the id its pod is configured with)", parseId)
    .requiredOption("--name <name>", "the new member's name")
    .requiredOption("--peer-url <url>", "the new member's peer URL, e.g. http://kingbus-3.kingbus-peer:9696")
    .option("--admin-url <url>", "base URL of the new member's HTTP admin API")
    .action((id: number, _o: unknown, cmd: Command) =>
      run(cmd, "AddLearner", (o) => ({ id, name: String(o.name), peerUrl: String(o.peerUrl), adminUrl: typeof o.adminUrl === "string" ? o.adminUrl : "" }),
        membersText((r) => `member ${nameOf(r.members, id)} added as a learner`)));
  members
    .command("promote")
    .description("make a learner a voter (once it has caught up)")
    .argument("<id>", "the learner's node id", parseId)
    .action((id: number, _o: unknown, cmd: Command) => run(cmd, "PromoteMember", () => ({ id }), membersText((r) => `member ${nameOf(r.members, id)} promoted to voter`)));
  members
    .command("remove")
    .description("remove a voter or a learner (its id cannot come back)")
    .argument("<id>", "the member's node id", parseId)
    .action((id: number, _o: unknown, cmd: Command) => run(cmd, "RemoveMember", () => ({ id }), membersText(() => `member ${id} removed`)));
  members
    .command("update")
    .description("change a member's peer URL (the only attribute that can change)")
    .argument("<id>", "the member's node id", parseId)
    .requiredOption("--peer-url <url>", "the member's new peer URL")
    .action((id: number, _o: unknown, cmd: Command) =>
      run(cmd, "UpdateMember", (o) => ({ id, peerUrl: String(o.peerUrl) }), membersText((r) => `member ${nameOf(r.members, id)} updated`)));

  ctl
    .command("transfer-leadership")
    .description("hand leadership to another voter")
    .argument("<id>", "the voter to hand leadership to", parseId)
    .action((id: number, _o: unknown, cmd: Command) => run(cmd, "TransferLeadership", () => ({ targetId: id }), (r) => `leader is now ${r.leaderId} (term ${r.term})\n`));

  const syncer = ctl.command("syncer").description("the leader's replica of the real primary");
  syncer
    .command("start")
    .description("start pulling the primary's binlog (the configuration is kept in the Raft log for later leaders)")
    .requiredOption("--syncer-id <id>", "the server_id kingbus presents to the primary", parseServerId)
    .requiredOption("--syncer-uuid <uuid>", "the server_uuid kingbus presents to the primary")
    .requiredOption("--mysql-addr <host:port>", "the primary")
    .requiredOption("--mysql-user <user>", "the replication user")
    .option("--mysql-password <password>", "the replication user's password (visible to other local users: prefer the file or KINGBUS_MYSQL_PASSWORD)")
    .option("--mysql-password-file <path>", "a file holding the password")
    .option("--semi-sync", "acknowledge transactions to a semi-sync primary once committed in Raft")
    .option("--heartbeat-period <seconds>", "heartbeat period asked of the primary (default 10)", parsePositiveSeconds)
    .option("--mysql-tls", "connect to the primary with TLS (verified against the system CAs unless --mysql-tls-ca)")
    .option("--mysql-tls-ca <file>", "PEM file of the CA the primary's certificate must chain to (implies --mysql-tls)")
    .option("--mysql-tls-cert <file>", "PEM client certificate, for a primary that requires X509 (with --mysql-tls-key)")
    .option("--mysql-tls-key <file>", "PEM key of the client certificate")
    .option("--mysql-tls-skip-verify", "accept a primary whose certificate does not verify (not recommended)")
    .action((_o: unknown, cmd: Command) =>
      run(cmd, "StartSyncer", (o) => ({
        syncerId: o.syncerId as number,
        syncerUuid: String(o.syncerUuid),
        mysqlAddr: String(o.mysqlAddr),
        mysqlUser: String(o.mysqlUser),
        mysqlPassword: password(o.mysqlPassword, o.mysqlPasswordFile, "--mysql-password", io.env.KINGBUS_MYSQL_PASSWORD),
        semiSync: o.semiSync === true,
        heartbeatPeriodMs: typeof o.heartbeatPeriod === "number" ? Math.round(o.heartbeatPeriod * 1000) : 0,
        mysqlTls: o.mysqlTls === true || o.mysqlTlsCa !== undefined || o.mysqlTlsCert !== undefined,
        mysqlTlsCa: pemFile(o.mysqlTlsCa, "--mysql-tls-ca"),
        mysqlTlsCert: pemFile(o.mysqlTlsCert, "--mysql-tls-cert"),
        mysqlTlsKey: pemFile(o.mysqlTlsKey, "--mysql-tls-key"),
        mysqlTlsSkipVerify: o.mysqlTlsSkipVerify === true,
      }), syncerText));
  syncer.command("stop").description("stop pulling").action((_o: unknown, cmd: Command) => run(cmd, "StopSyncer", () => ({}), syncerText));
  syncer.command("status").description("the syncer's configuration and position").action((_o: unknown, cmd: Command) => run(cmd, "GetSyncerStatus", () => ({}), syncerText));

  const server = ctl.command("server").description("this node's primary role, which downstream replicas connect to");
  server
    .command("start")
    .description("start serving replicas on this node")
    .requiredOption("--addr <host:port>", "where to listen for replicas")
    .requiredOption("--user <user>", "the user replicas authenticate as")
    .option("--password <password>", "its password (visible to other local users: prefer the file or KINGBUS_SERVER_PASSWORD)")
    .option("--password-file <path>", "a file holding the password")
    .action((_o: unknown, cmd: Command) =>
      run(cmd, "StartServer", (o) => ({ addr: String(o.addr), user: String(o.user), password: password(o.password, o.passwordFile, "--password", io.env.KINGBUS_SERVER_PASSWORD) }), serverText));
  server.command("stop").description("stop serving replicas on this node").action((_o: unknown, cmd: Command) => run(cmd, "StopServer", () => ({}), serverText));
  server.command("status").description("the server's configuration, position and replicas").action((_o: unknown, cmd: Command) => run(cmd, "GetServerStatus", () => ({}), serverText));

  ctl
    .command("purge")
    .description("remove whole binlog segments holding only transactions before a point (one of --to, --before, --retention)")
    .option("--to <binlog-file>", "purge up to this primary binlog file, as PURGE BINARY LOGS TO")
    .option("--before <time>", "purge transactions before this time (ms since the epoch or ISO 8601), as PURGE BINARY LOGS BEFORE", parseInstant)
    .option("--retention", "apply the configured retention now")
    .action((_o: unknown, cmd: Command) =>
      run(cmd, "Purge", (o): AdminPurgeRequest => {
        const given = [o.to !== undefined, o.before !== undefined, o.retention === true].filter(Boolean).length;
        if (given !== 1) throw new CtlUsageError("purge needs exactly one of --to, --before or --retention");
        if (o.to !== undefined) return { binlogFile: String(o.to) };
        if (o.before !== undefined) return { beforeUnixMs: o.before as number };
        return { retention: true };
      }, purgeText));
}

/** A PEM file's text for a request field ("" when the option is absent). */
function pemFile(path: unknown, flagName: string): string {
  return typeof path === "string" ? readPem(path, `${flagName} file`).toString("utf8") : "";
}

/** Seconds, fractions allowed, from 0.001 to 4294967 (MASTER_HEARTBEAT_PERIOD's range). */
function parsePositiveSeconds(text: string): number {
  const v = Number(text);
  if (!(v >= 0.001 && v <= 4294967)) throw new InvalidArgumentError("must be a number of seconds from 0.001 to 4294967");
  return v;
}

/** The password from its flag, its file or its environment variable (in that order); "" when none. */
function password(flag: unknown, file: unknown, flagName: string, env: string | undefined): string {
  if (flag !== undefined && file !== undefined) throw new CtlUsageError(`${flagName} and ${flagName}-file cannot be combined`);
  if (typeof flag === "string") return flag;
  if (typeof file === "string") return readSecretFile(file, "password");
  return env ?? "";
}

/**
 * Adds `ctl` and its subcommands to `program`. Usage errors exit with status 2 through `io.exit`,
 * call failures set status 1 through `io.setExitCode`.
 */
export function registerCtl(program: Command, io: CtlIo = processIo): Command {
  const ctl = program
    .command("ctl")
    .description("manage a kingbus cluster over its admin gRPC service")
    .option("--endpoint <host:port>", `a kingbus pod's admin gRPC address (env KINGBUS_ENDPOINT, default ${DEFAULT_ENDPOINT})`)
    .option("--token <token>", "admin token (env KINGBUS_ADMIN_TOKEN)")
    .option("--token-file <path>", "file holding the admin token (env KINGBUS_ADMIN_TOKEN_FILE)")
    .option("--timeout <duration>", "how long to wait for an answer, e.g. 500ms, 10s, 2m (default 10s)", parseDuration)
    .option("--json", "print the answer as JSON")
    .option("--cacert <path>", "CA bundle (PEM) to verify the endpoint's certificate: TLS")
    .option("--cert <path>", "client certificate (PEM), for an endpoint that requires mutual TLS")
    .option("--key <path>", "private key (PEM) of --cert")
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
      outputError: (text, write) => write(`kingbus ctl: CTL_USAGE: ${text.replace(/^error: /, "")}`),
    })
    .exitOverride((e: CommanderError) => io.exit(e.exitCode === 0 ? 0 : EXIT_USAGE));
  registerCommands(ctl, io);
  return ctl;
}

/** Thrown by runCtl's io.exit to end the parse; carries the status. */
class CtlExit extends Error {
  readonly status: number;

  constructor(status: number) {
    super(`exit ${status}`);
    this.status = status;
  }
}

/**
 * Runs `kingbus ctl <argv...>` in this process with the given output and environment, and
 * resolves with its exit status: what the tests (and anything embedding ctl) use.
 */
export async function runCtl(argv: readonly string[], io: Pick<CtlIo, "stdout" | "stderr" | "env">): Promise<number> {
  let status = 0;
  const program = new Command("kingbus").showHelpAfterError();
  registerCtl(program, {
    ...io,
    setExitCode: (code) => {
      status = code;
    },
    exit: (code) => {
      throw new CtlExit(code);
    },
  });
  program.exitOverride();
  try {
    await program.parseAsync(["ctl", ...argv], { from: "user" });
  } catch (e) {
    if (e instanceof CtlExit) return e.status;
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_USAGE;
    throw e;
  }
  return status;
}
