/**
 * The kingbus.v1.Admin gRPC service (node/proto/kingbus.proto) over the node's AdminBackend and
 * NodeControl, and the client `kingbus ctl` calls it with.
 *
 * The same rules as the HTTP admin API:
 *   - With a token configured, a call without metadata `authorization: Bearer <token>` is refused
 *     with UNAUTHENTICATED (code ADMIN_UNAUTHORIZED) before anything else happens.
 *   - Requests are validated with the HTTP API's rules; a refusal names every wrong field
 *     (INVALID_ARGUMENT, code ADMIN_BAD_REQUEST) and never quotes a password.
 *   - Mutations of one group (members, syncer, server, purge) run one at a time on this node.
 *   - Passwords never come back: responses have no password field (only whether one is set), and
 *     every error message is scrubbed of the passwords this service was handed.
 *   - Leader-only calls on a follower are forwarded to the leader when `forward` is configured
 *     (otherwise the backend or the control refuses them, NOT_LEADER or RAFT_NOT_LEADER).
 *
 * Errors cross the wire as in transport/admin-service.ts: the KingbusError code in the trailer
 * `kingbus-error-code`, the message as the status details; the gRPC status follows the code
 * (UNAUTHENTICATED, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, UNAVAILABLE for retry-later codes,
 * DEADLINE_EXCEEDED, INTERNAL, FAILED_PRECONDITION for any other code), so AdminClient and
 * AdminGrpcClient both rethrow it as an AdminCallError with the server's code.
 */
import {
  Client,
  Metadata,
  credentials,
  status as grpcStatus,
  type ChannelCredentials,
  type ChannelOptions,
  type Server,
  type ServerUnaryCall,
  type ServiceError,
  type UntypedServiceImplementation,
  type handleUnaryCall,
} from "@grpc/grpc-js";
import { pino, type Logger } from "pino";
import { z } from "zod";
import { baseUrl, memberName, nodeId } from "../config/schema.ts";
import { KingbusError } from "../errors.ts";
import { AdminCallError } from "../transport/admin-service.ts";
import type {
  AdminMember,
  AdminMethodName,
  AdminMethods,
  AdminPurgeRequest,
  AdminRequest,
  AdminResponse,
  AdminServerStatus,
  AdminStatusResponse,
  AdminSyncerStatus,
} from "../transport/admin-types.ts";
import { kingbusProto } from "../transport/proto.ts";
import { BearerAuth } from "./auth.ts";
import type { AdminBackend, ServerStatus, SyncerStatus } from "./backend.ts";
import type { ControlMember, NodeControl, NodeStatus, PurgeTarget } from "./control.ts";
import { AdminError } from "./errors.ts";
import { redactingChild } from "./logger.ts";
import { requestSchemas, validateBody } from "./requests.ts";
import { SerialQueue } from "./serial.ts";
import { MASKED_PASSWORD } from "./views.ts";

/** The trailer carrying the KingbusError code (the convention of transport/admin-service.ts). */
export const ERROR_CODE_METADATA = "kingbus-error-code";
/** Set on a call forwarded to the leader: the name of the node that forwarded it. */
export const FORWARDED_BY_METADATA = "kingbus-forwarded-by";

const DEFAULT_FORWARD_TIMEOUT_MS = 10_000;
/** Passwords remembered for scrubbing, as the HTTP server keeps them. */
const REMEMBERED_SECRETS = 32;

/** The gRPC status an error code travels with; codes not listed travel as FAILED_PRECONDITION. */
const STATUS_OF_CODE: Readonly<Record<string, grpcStatus>> = {
  ADMIN_UNAUTHORIZED: grpcStatus.UNAUTHENTICATED,
  ADMIN_BAD_REQUEST: grpcStatus.INVALID_ARGUMENT,
  MEMBER_NOT_FOUND: grpcStatus.NOT_FOUND,
  MEMBER_EXISTS: grpcStatus.ALREADY_EXISTS,
  PEER_URL_EXISTS: grpcStatus.ALREADY_EXISTS,
  ALREADY_RUNNING: grpcStatus.ALREADY_EXISTS,
  NO_LEADER: grpcStatus.UNAVAILABLE,
  NOT_LEADER: grpcStatus.UNAVAILABLE,
  FORWARD_LOOP: grpcStatus.UNAVAILABLE,
  FORWARD_FAILED: grpcStatus.UNAVAILABLE,
  UNAVAILABLE: grpcStatus.UNAVAILABLE,
  RAFT_NOT_LEADER: grpcStatus.UNAVAILABLE,
  RAFT_STALE_TERM: grpcStatus.UNAVAILABLE,
  RAFT_TRANSFERRING: grpcStatus.UNAVAILABLE,
  RAFT_CONF_CHANGE_PENDING: grpcStatus.UNAVAILABLE,
  FORWARD_TIMEOUT: grpcStatus.DEADLINE_EXCEEDED,
  ADMIN_INTERNAL: grpcStatus.INTERNAL,
};

/** The gRPC status a kingbus error code is answered with. */
export function grpcStatusOf(code: string): grpcStatus {
  return STATUS_OF_CODE[code] ?? grpcStatus.FAILED_PRECONDITION;
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

export interface AdminGrpcClientOptions {
  /** Default: plaintext. */
  readonly credentials?: ChannelCredentials;
  /** Sent as `authorization: Bearer <token>` on every call. */
  readonly token?: string;
  readonly channelOptions?: ChannelOptions;
}

export interface AdminCallOptions {
  /** Default 10 s. */
  readonly deadlineMs?: number;
  /** Extra request metadata (the token is added by the client). */
  readonly metadata?: Metadata;
}

function unaryCall<M extends AdminMethodName>(client: Client, method: M, request: AdminRequest<M>, metadata: Metadata, deadline: number): Promise<AdminResponse<M>> {
  const definition = kingbusProto().adminService[method];
  if (definition === undefined) return Promise.reject(new KingbusError("ADMIN_UNKNOWN_METHOD", `Admin has no method ${method}`));
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<AdminMethods[M][0], AdminMethods[M][1]>(definition.path, definition.requestSerialize, definition.responseDeserialize, request, metadata, { deadline },
      (error, response) => (error === null ? resolve(response!) : reject(error)));
  });
}

/** The server's KingbusError code of a failed call, or undefined when the failure is not the server's answer. */
function remoteCode(error: ServiceError): string | undefined {
  const value = error.metadata?.get(ERROR_CODE_METADATA)[0];
  return typeof value === "string" ? value : undefined;
}

/**
 * A kingbus.v1.Admin client that sends the bearer token. A failed call rejects with an
 * AdminCallError whose code is the server's (MEMBER_NOT_FOUND, RAFT_NOT_LEADER...), or
 * ADMIN_<gRPC status> when the server did not answer one (ADMIN_UNAVAILABLE: not reachable,
 * ADMIN_DEADLINE_EXCEEDED: no answer in time); its message is the server's, without prefix.
 */
export class AdminGrpcClient {
  readonly target: string;
  readonly #client: Client;
  readonly #token: string | undefined;

  constructor(target: string, options: AdminGrpcClientOptions = {}) {
    this.target = target;
    this.#token = options.token;
    this.#client = new Client(target, options.credentials ?? insecure(), options.channelOptions ?? {});
  }

  async call<M extends AdminMethodName>(method: M, request: AdminRequest<M>, options: AdminCallOptions = {}): Promise<AdminResponse<M>> {
    const metadata = options.metadata?.clone() ?? new Metadata();
    if (this.#token !== undefined) metadata.set("authorization", `Bearer ${this.#token}`);
    try {
      return await unaryCall(this.#client, method, request, metadata, Date.now() + (options.deadlineMs ?? DEFAULT_FORWARD_TIMEOUT_MS));
    } catch (e) {
      if (e instanceof KingbusError) throw e;
      const error = e as ServiceError;
      throw new AdminCallError(remoteCode(error) ?? `ADMIN_${grpcStatus[error.code]}`, error.details, error.code, { cause: error });
    }
  }

  close(): void {
    this.#client.close();
  }
}

function insecure(): ChannelCredentials {
  return credentials.createInsecure();
}

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

export interface ForwardOptions {
  /**
   * host:port of the leader's admin gRPC service, from its node id; undefined when unknown (the
   * call is then refused with NO_LEADER).
   */
  readonly leaderTarget: (leaderId: number) => string | undefined;
  /** How to reach it: the same as ctl does, or the peer credentials when admin shares the peer port. */
  readonly credentials?: ChannelCredentials;
  /** Default 10 s, capped by the caller's own deadline. */
  readonly timeoutMs?: number;
  /** This node's name, sent in `kingbus-forwarded-by` and logged by the leader. */
  readonly nodeName?: string;
}

export interface ServeAdminOptions {
  readonly backend: AdminBackend;
  readonly control: NodeControl;
  /** When set, every call must carry `authorization: Bearer <token>`. */
  readonly token?: string;
  /** Leader-only calls on a follower go to the leader. Without it they reach the backend and control here. */
  readonly forward?: ForwardOptions;
  /** Redaction is added to it. Default: silent. */
  readonly logger?: Logger;
}

/** What serveAdmin leaves running besides the service itself: forwarding connections. */
export interface AdminGrpcService {
  /** Closes the connections to leaders; the grpc Server is the caller's to shut down. */
  close(): void;
}

type Group = "members" | "syncer" | "server" | "purge";

interface CallContext {
  readonly metadata: Metadata;
  /** Milliseconds since the epoch; Infinity when the caller set none. */
  readonly deadline: number;
}

interface MethodSpec<M extends AdminMethodName> {
  readonly leaderOnly: boolean;
  readonly group?: Group;
  readonly secrets?: (request: AdminRequest<M>) => string[];
  readonly run: (request: AdminRequest<M>, context: CallContext) => Promise<AdminResponse<M>>;
}

type MethodSpecs = { [M in AdminMethodName]: MethodSpec<M> };

function scrub(text: string, secrets: readonly string[]): string {
  // Longest first, so that a password containing another is masked whole.
  return [...secrets].sort((a, b) => b.length - a.length).reduce((t, s) => t.split(s).join(MASKED_PASSWORD), text);
}

/** Refuses a request that fails `schema`, naming every wrong field (as the HTTP API does). */
function validated<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = validateBody(schema, body);
  if (!result.ok) throw new AdminError("ADMIN_BAD_REQUEST", result.message);
  return result.value;
}

const idRequest = z.object({ id: nodeId });
const addLearnerRequest = z.object({ id: nodeId, name: memberName, peer_url: baseUrl(true), admin_url: baseUrl(false).optional() });
const updateMemberRequest = z.object({ id: nodeId, peer_url: baseUrl(true) });
const transferRequest = z.object({ target_id: nodeId });

function purgeTarget(r: AdminPurgeRequest): PurgeTarget {
  switch (r.before) {
    case "binlogFile":
      if (r.binlogFile === undefined || r.binlogFile === "") throw new AdminError("ADMIN_BAD_REQUEST", "binlog_file: must be a binlog file name");
      return { kind: "binlogFile", binlogFile: r.binlogFile };
    case "beforeUnixMs":
      if (r.beforeUnixMs === undefined || !Number.isSafeInteger(r.beforeUnixMs) || r.beforeUnixMs <= 0) {
        throw new AdminError("ADMIN_BAD_REQUEST", `before_unix_ms: must be a positive number of milliseconds since the epoch (got ${String(r.beforeUnixMs)})`);
      }
      return { kind: "before", beforeUnixMs: r.beforeUnixMs };
    case "retention":
      if (r.retention !== true) throw new AdminError("ADMIN_BAD_REQUEST", "retention: must be true when set");
      return { kind: "retention" };
    default:
      throw new AdminError("ADMIN_BAD_REQUEST", "request: one of binlog_file, before_unix_ms or retention is required");
  }
}

function memberMessage(m: ControlMember): AdminMember {
  return { id: m.id, name: m.name, peerUrls: [...m.peerUrls], adminUrls: [...m.adminUrls], learner: m.role === "learner", isLeader: m.isLeader };
}

function statusMessage(s: NodeStatus): AdminStatusResponse {
  return {
    nodeId: s.id,
    clusterId: s.clusterId,
    role: s.role,
    term: s.term,
    leaderId: s.leaderId,
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    firstIndex: s.firstIndex,
    lastIndex: s.lastIndex,
    members: s.members.map(memberMessage),
    progress: s.members.flatMap((m) =>
      m.progress === undefined || m.id === s.id
        ? []
        : [{ id: m.id, matchIndex: m.progress.matchIndex, nextIndex: m.progress.nextIndex, state: m.progress.state, reachable: m.progress.reachable, messagesDropped: m.progress.messagesDropped }],
    ),
    executedGtidSet: s.executedGtidSet,
    purgedGtidSet: s.purgedGtidSet,
    version: s.version,
  };
}

/** Field by field: whatever else the backend's object holds (a password by mistake) is not copied. */
function syncerMessage(s: SyncerStatus, passwordSet: boolean): AdminSyncerStatus {
  return {
    status: s.status,
    syncerId: s.syncerId,
    syncerUuid: s.syncerUuid,
    mysqlAddr: s.mysqlAddr,
    mysqlUser: s.mysqlUser,
    mysqlPasswordSet: passwordSet,
    semiSync: s.semiSync,
    currentGtid: s.currentGtid,
    executedGtidSet: s.executedGtidSet,
    purgedGtidSet: s.purgedGtidSet,
    lastBinlogFile: s.lastBinlogFile,
    lastFilePosition: s.lastFilePosition,
    lastError: s.details?.lastError ?? "",
    phase: s.details?.phase ?? s.status,
    secondsBehindPrimary: s.details?.secondsBehindPrimary ?? -1,
    eventsReceived: s.details?.eventsReceived ?? 0,
    bytesReceived: s.details?.bytesReceived ?? 0,
    transactionsCommitted: s.details?.transactionsCommitted ?? 0,
  };
}

function serverMessage(s: ServerStatus): AdminServerStatus {
  return {
    status: s.status,
    addr: s.addr,
    user: s.user,
    // A start needs a non-empty password, so a server with a configuration has one.
    passwordSet: s.user !== "",
    replicas: s.replicas.map((r) => ({ serverId: r.serverId, host: r.hostName, port: r.port, uuid: r.serverUuid, start: "", connectedUnixMs: r.connectTime.getTime() })),
    currentGtid: s.currentGtid,
    lastBinlogFile: s.lastBinlogFile,
    lastFilePosition: s.lastFilePosition,
    executedGtidSet: s.executedGtidSet,
    purgedGtidSet: s.purgedGtidSet,
  };
}

function firstString(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" ? value : undefined;
}

function deadlineMs(call: ServerUnaryCall<unknown, unknown>): number {
  const deadline = call.getDeadline();
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/**
 * Registers kingbus.v1.Admin on `server` (before or after it is bound). Every RPC maps to the
 * backend or the control:
 *   Status, ListMembers -> control.status(), control.members()
 *   AddLearner, PromoteMember, RemoveMember -> control.addLearner(), promote(), remove()
 *   UpdateMember -> backend.updateMember() by the member's name, then control.members()
 *   TransferLeadership -> control.transferLeadership()
 *   StartSyncer, StopSyncer, GetSyncerStatus -> backend.startSyncer(), stopSyncer(), then syncerStatus()
 *   StartServer, StopServer, GetServerStatus -> backend.startServer(), stopServer(), then serverStatus()
 *   Purge -> control.purge()
 */
export function serveAdmin(server: Server, options: ServeAdminOptions): AdminGrpcService {
  const { backend, control, forward } = options;
  const auth = options.token === undefined ? undefined : new BearerAuth(options.token);
  const log = redactingChild(options.logger ?? pino({ level: "silent" }), { component: "admin-grpc" });
  const secrets = new Set<string>();
  const queues = new Map<Group, SerialQueue>();
  const leaders = new Map<string, Client>();

  const remember = (values: readonly string[]): void => {
    for (const s of values) {
      if (s === "") continue;
      secrets.delete(s);
      secrets.add(s);
      if (secrets.size > REMEMBERED_SECRETS) secrets.delete(secrets.values().next().value!);
    }
  };

  const syncerAnswer = async (): Promise<AdminSyncerStatus> => syncerMessage(await backend.syncerStatus(), await control.syncerPasswordSet());
  const serverAnswer = async (): Promise<AdminServerStatus> => serverMessage(await backend.serverStatus());
  const membersAnswer = async (members: readonly ControlMember[]): Promise<AdminMethods["ListMembers"][1]> => ({ members: members.map(memberMessage) });

  const specs: MethodSpecs = {
    Status: { leaderOnly: false, run: async () => statusMessage(await control.status()) },
    ListMembers: { leaderOnly: false, run: async () => membersAnswer(await control.members()) },
    AddLearner: {
      leaderOnly: true,
      group: "members",
      run: async (r) => {
        const v = validated(addLearnerRequest, { id: r.id, name: r.name, peer_url: r.peerUrl, admin_url: r.adminUrl === "" ? undefined : r.adminUrl });
        return membersAnswer(await control.addLearner({ id: v.id, name: v.name, peerUrl: v.peer_url, ...(v.admin_url === undefined ? {} : { adminUrl: v.admin_url }) }));
      },
    },
    PromoteMember: { leaderOnly: true, group: "members", run: async (r) => membersAnswer(await control.promote(validated(idRequest, { id: r.id }).id)) },
    RemoveMember: { leaderOnly: true, group: "members", run: async (r) => membersAnswer(await control.remove(validated(idRequest, { id: r.id }).id)) },
    UpdateMember: {
      leaderOnly: true,
      group: "members",
      run: async (r) => {
        const v = validated(updateMemberRequest, { id: r.id, peer_url: r.peerUrl });
        const member = (await backend.members()).find((m) => m.id === BigInt(v.id));
        if (member === undefined) throw new AdminError("MEMBER_NOT_FOUND", `kingbus: no member with id ${v.id}`);
        await backend.updateMember({ name: member.name, newPeerUrl: v.peer_url });
        return membersAnswer(await control.members());
      },
    },
    TransferLeadership: {
      leaderOnly: true,
      group: "members",
      run: async (r) => {
        const result = await control.transferLeadership(validated(transferRequest, { target_id: r.targetId }).target_id);
        return { leaderId: result.leaderId, term: result.term };
      },
    },
    StartSyncer: {
      leaderOnly: true,
      group: "syncer",
      secrets: (r) => [r.mysqlPassword],
      run: async (r) => {
        const config = validated(requestSchemas.startSyncer, {
          syncer_id: r.syncerId,
          syncer_uuid: r.syncerUuid,
          mysql_addr: r.mysqlAddr,
          mysql_user: r.mysqlUser,
          mysql_password: r.mysqlPassword,
          semi_sync: r.semiSync,
          ...(r.heartbeatPeriodMs > 0 ? { heartbeat_period: r.heartbeatPeriodMs / 1000 } : {}),
          mysql_tls: r.mysqlTls
            ? { ...(r.mysqlTlsCa ? { ca: r.mysqlTlsCa } : {}), ...(r.mysqlTlsCert ? { cert: r.mysqlTlsCert } : {}), ...(r.mysqlTlsKey ? { key: r.mysqlTlsKey } : {}), verify_server_cert: !r.mysqlTlsSkipVerify }
            : false,
        });
        await backend.startSyncer(config);
        return syncerAnswer();
      },
    },
    StopSyncer: {
      leaderOnly: true,
      group: "syncer",
      run: async () => {
        await backend.stopSyncer();
        return syncerAnswer();
      },
    },
    GetSyncerStatus: { leaderOnly: true, run: syncerAnswer },
    StartServer: {
      leaderOnly: false,
      group: "server",
      secrets: (r) => [r.password],
      run: async (r) => {
        await backend.startServer(validated(requestSchemas.startServer, { addr: r.addr, user: r.user, password: r.password }));
        return serverAnswer();
      },
    },
    StopServer: {
      leaderOnly: false,
      group: "server",
      run: async () => {
        await backend.stopServer();
        return serverAnswer();
      },
    },
    GetServerStatus: { leaderOnly: false, run: serverAnswer },
    Purge: {
      leaderOnly: true,
      group: "purge",
      run: async (r) => {
        const result = await control.purge(purgeTarget(r));
        return { purgedThroughIndex: result.purgedThroughIndex, purgedGtidSet: result.purgedGtidSet, segmentsRemoved: result.segmentsRemoved };
      },
    },
  };

  /** The leader's answer when this node does not lead and forwarding is on; undefined to run here. */
  const forwarded = async <M extends AdminMethodName>(method: M, request: AdminRequest<M>, context: CallContext, line: Record<string, unknown>): Promise<AdminResponse<M> | undefined> => {
    if (forward === undefined) return undefined;
    const leadership = await backend.leadership();
    if (leadership.isLeader) return undefined;
    const by = firstString(context.metadata, FORWARDED_BY_METADATA);
    if (by !== undefined) {
      line.forwardedBy = by;
      throw new AdminError("FORWARD_LOOP", "kingbus: forwarded call reached a node that is not the leader either (leadership is changing); retry");
    }
    if (leadership.leaderId === undefined) throw new AdminError("NO_LEADER", "kingbus: no leader");
    const leaderId = Number(leadership.leaderId);
    const target = forward.leaderTarget(leaderId);
    if (target === undefined) throw new AdminError("NO_LEADER", `kingbus: the admin address of leader ${leaderId} is unknown`);
    line.forwardedTo = target;
    let client = leaders.get(target);
    if (client === undefined) {
      client = new Client(target, forward.credentials ?? insecure());
      leaders.set(target, client);
    }
    const metadata = new Metadata();
    const authorization = firstString(context.metadata, "authorization");
    if (authorization !== undefined) metadata.set("authorization", authorization);
    metadata.set(FORWARDED_BY_METADATA, forward.nodeName ?? "kingbus");
    const timeoutMs = forward.timeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS;
    try {
      return await unaryCall(client, method, request, metadata, Math.min(Date.now() + timeoutMs, context.deadline));
    } catch (e) {
      if (e instanceof KingbusError) throw e;
      const error = e as ServiceError;
      const code = remoteCode(error);
      if (code !== undefined) throw new AdminCallError(code, error.details, error.code, { cause: error });
      if (error.code === grpcStatus.DEADLINE_EXCEEDED) throw new AdminError("FORWARD_TIMEOUT", `kingbus: leader ${leaderId} at ${target} did not answer in time`, { cause: error });
      throw new AdminError("FORWARD_FAILED", `kingbus: forwarding to leader ${leaderId} at ${target} failed: ${error.details}`, { cause: error });
    }
  };

  const handle = async <M extends AdminMethodName>(method: M, request: AdminRequest<M>, context: CallContext, line: Record<string, unknown>): Promise<AdminResponse<M>> => {
    if (auth !== undefined && !auth.allows({ authorization: firstString(context.metadata, "authorization") })) {
      throw new AdminError("ADMIN_UNAUTHORIZED", "kingbus: unauthorized (this API needs metadata authorization: Bearer <token>)");
    }
    const spec = specs[method] as MethodSpec<M>;
    remember(spec.secrets?.(request) ?? []);
    if (spec.leaderOnly) {
      const answer = await forwarded(method, request, context, line);
      if (answer !== undefined) return answer;
    }
    const task = () => spec.run(request, context);
    if (spec.group === undefined) return task();
    let queue = queues.get(spec.group);
    if (queue === undefined) queues.set(spec.group, (queue = new SerialQueue()));
    return queue.run(task);
  };

  const toStatus = (error: unknown): Partial<ServiceError> => {
    const known = error instanceof KingbusError;
    const code = known ? error.code : "ADMIN_INTERNAL";
    const details = scrub(known ? error.message : `kingbus: internal error: ${error instanceof Error ? error.message : String(error)}`, [...secrets]);
    const metadata = new Metadata();
    metadata.set(ERROR_CODE_METADATA, code);
    return { code: grpcStatusOf(code), details, metadata };
  };

  const service = kingbusProto().adminService;
  const implementation: UntypedServiceImplementation = {};
  for (const name of Object.keys(service)) {
    if (!Object.hasOwn(specs, name)) throw new KingbusError("ADMIN_HANDLER_MISSING", `no handler for Admin.${name}`);
    const method = name as AdminMethodName;
    const unary: handleUnaryCall<unknown, unknown> = (call: ServerUnaryCall<unknown, unknown>, callback) => {
      const started = performance.now();
      const line: Record<string, unknown> = { method };
      const context: CallContext = { metadata: call.metadata, deadline: deadlineMs(call) };
      handle(method, call.request as AdminRequest<typeof method>, context, line).then(
        (response) => {
          line.ms = Math.round((performance.now() - started) * 1000) / 1000;
          if (specs[method].group === undefined) log.debug(line, "admin call");
          else log.info(line, "admin call");
          callback(null, response);
        },
        (error: unknown) => {
          const answer = toStatus(error);
          line.ms = Math.round((performance.now() - started) * 1000) / 1000;
          line.error = { code: firstString(answer.metadata!, ERROR_CODE_METADATA), message: answer.details };
          if (answer.code === grpcStatus.INTERNAL || answer.code === grpcStatus.UNAVAILABLE) log.warn(line, "admin call");
          else log.info(line, "admin call");
          callback(answer);
        },
      );
    };
    implementation[name] = unary;
  }
  server.addService(service, implementation);
  return {
    close: () => {
      for (const client of leaders.values()) client.close();
      leaders.clear();
    },
  };
}
