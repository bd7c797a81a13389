/**
 * One client connection of the primary-role server: the handshake and authentication, then the
 * command loop (COM_QUIT, COM_PING, COM_INIT_DB, COM_QUERY, COM_REGISTER_SLAVE, COM_BINLOG_DUMP,
 * COM_BINLOG_DUMP_GTID; anything else gets ERR 1047). Sequence ids restart at 0 for each command.
 *
 * Authentication is mysql_native_password or caching_sha2_password (its fast path: the server
 * knows the password, so it never asks for the full exchange) against the configured accounts;
 * the handshake announces the flavour's default. A client that starts with another plugin
 * (ed25519, ...) is switched to the announced one with an AuthSwitchRequest, as a server does for
 * an account of that plugin.
 */
import type { Socket } from "node:net";
import { ByteReader } from "../../binlog/bytes.ts";
import { generateScramble, verifyNativePassword, verifySha2Password } from "../wire/auth.ts";
import { CACHING_SHA2_PLUGIN, Capability, Command, NATIVE_PASSWORD_PLUGIN, SERVER_CAPABILITIES } from "../wire/constants.ts";
import { ServerErrorKind, SqlError, WireError } from "../wire/errors.ts";
import {
  decodeHandshakeResponse,
  encodeAuthSwitchRequest,
  encodeHandshakeV10,
  isSslRequest,
  type HandshakeResponse,
} from "../wire/handshake.ts";
import { encodeErr, encodeOk, encodeResultSet, readLenencBytes, type Cell } from "../wire/messages.ts";
import { PacketSocket } from "../wire/packet-socket.ts";
import type { ResolvedServerConfig } from "./config.ts";
import { parseBinlogDump, parseBinlogDumpGtid, runBinlogDump, DumpError, type DumpRequest } from "./dump.ts";
import type { BinlogFeed } from "./feed.ts";
import { executeQuery, type QuerySession, type ServerControl } from "./queries.ts";

/** What the server shares with its connections. */
export interface ConnectionHost {
  readonly config: ResolvedServerConfig;
  readonly feed: BinlogFeed;
  /** Another dump by a replica with this server id ends (a reconnecting replica replaces its old session). */
  claimReplicaId(serverId: number, connection: ClientConnection): void;
  releaseReplicaId(serverId: number, connection: ClientConnection): void;
  /** SHOW SLAVE HOSTS and KILL over the server's connections. */
  readonly control?: ServerControl;
}

/** A replica's COM_REGISTER_SLAVE, kept for SHOW SLAVE HOSTS-like views later. */
export interface RegisteredReplica {
  serverId: number;
  host: string;
  user: string;
  port: number;
}

export class ClientConnection {
  readonly id: number;
  readonly socket: PacketSocket;
  readonly remoteAddress: string;
  private readonly host: ConnectionHost;
  private readonly config: ResolvedServerConfig;
  private readonly aborter = new AbortController();
  private capabilities = 0;
  private session: QuerySession | undefined;
  /** Set by COM_REGISTER_SLAVE. */
  replica: RegisteredReplica | undefined;
  /** The replica server id of the running dump. */
  dumpServerId: number | undefined;
  /** A dump runs on this connection. */
  dumping = false;
  /** What a semi-sync replica acknowledged last. */
  semiSyncAck: { file: string; position: number; at: Date } | undefined;
  readonly connectedAt = new Date();

  constructor(id: number, socket: Socket, host: ConnectionHost) {
    this.id = id;
    this.host = host;
    this.config = host.config;
    this.remoteAddress = (socket.remoteAddress ?? "unknown").replace(/^::ffff:/, "");
    this.socket = new PacketSocket(socket, { maxPayload: host.config.maxAllowedPacket });
    void this.socket.closed.then(() => this.aborter.abort());
  }

  /** The logged-in user (undefined during the handshake). */
  get user(): string | undefined {
    return this.session?.user;
  }

  /** A user variable the client set (@name), as text; undefined when unset. */
  userVariable(name: string): string | undefined {
    const value = this.session?.userVars.get(name.toLowerCase());
    if (value === undefined || value === null) return undefined;
    return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
  }

  /** Ends the connection at once (server shutdown, or replaced by a reconnecting replica). */
  kill(): void {
    this.aborter.abort();
    this.socket.destroy();
  }

  /** Runs the connection to its end; never rejects. */
  async run(): Promise<void> {
    try {
      const ok = await this.handshake();
      if (!ok) return;
      await this.commandLoop();
    } catch (error) {
      if (!(error instanceof WireError)) this.config.logger.warn({ connection: this.id, err: error }, "connection failed");
      else this.config.logger.debug({ connection: this.id, reason: error.message }, "connection ended");
    } finally {
      this.aborter.abort();
      if (this.dumpServerId !== undefined) this.host.releaseReplicaId(this.dumpServerId, this);
      await this.socket.end().catch(() => undefined);
    }
  }

  private async handshake(): Promise<boolean> {
    const scramble = generateScramble();
    await this.socket.write(
      encodeHandshakeV10({
        serverVersion: this.config.serverVersion,
        connectionId: this.id,
        scramble,
        capabilities: SERVER_CAPABILITIES,
        collation: this.config.collation,
        authPlugin: this.config.authPlugin,
      }),
    );
    const payload = await this.socket.readWithin(this.config.handshakeTimeoutMs);
    if (isSslRequest(payload)) {
      await this.fail(new SqlError(ServerErrorKind.HANDSHAKE_ERROR, "kingbus does not offer TLS on this port (CLIENT_SSL was not announced)"));
      return false;
    }
    let response: HandshakeResponse;
    try {
      response = decodeHandshakeResponse(payload);
    } catch (error) {
      await this.fail(new SqlError(ServerErrorKind.HANDSHAKE_ERROR, `Bad handshake: ${(error as Error).message}`));
      return false;
    }
    this.capabilities = response.capabilities & SERVER_CAPABILITIES;
    let token = response.authResponse;
    let plugin = response.authPlugin || (response.capabilities & Capability.PLUGIN_AUTH ? "" : NATIVE_PASSWORD_PLUGIN);
    if (plugin !== NATIVE_PASSWORD_PLUGIN && plugin !== CACHING_SHA2_PLUGIN && response.capabilities & Capability.PLUGIN_AUTH) {
      plugin = this.config.authPlugin;
      await this.socket.write(encodeAuthSwitchRequest(plugin, scramble));
      token = await this.socket.readWithin(this.config.handshakeTimeoutMs);
    }
    const known = this.config.accounts.has(response.user);
    const verified =
      plugin === CACHING_SHA2_PLUGIN
        ? verifySha2Password(token, scramble, this.config.sha2Accounts.get(response.user))
        : verifyNativePassword(token, scramble, this.config.accounts.get(response.user));
    if (!known || !verified) {
      this.config.logger.info({ connection: this.id, user: response.user, client: this.remoteAddress }, "access denied");
      await this.fail(
        new SqlError(
          ServerErrorKind.ACCESS_DENIED,
          `Access denied for user '${response.user}'@'${this.remoteAddress}' (using password: ${token.length > 0 ? "YES" : "NO"})`,
        ),
      );
      return false;
    }
    // caching_sha2_password: "fast authentication succeeded" (AuthMoreData 0x03) comes before the OK.
    if (plugin === CACHING_SHA2_PLUGIN) await this.socket.write(Buffer.of(0x01, 0x03));
    this.session = {
      userVars: new Map<string, Cell>(),
      sessionVars: new Map<string, Cell>(),
      database: response.database || undefined,
      user: response.user,
      clientHost: this.remoteAddress,
      connectionId: this.id,
    };
    await this.socket.write(encodeOk());
    this.config.logger.debug({ connection: this.id, user: response.user, client: this.remoteAddress }, "client logged in");
    return true;
  }

  private async fail(error: SqlError): Promise<void> {
    await this.socket.write(encodeErr({ errno: error.errno, sqlState: error.sqlState }, error.message)).catch(() => undefined);
  }

  private async commandLoop(): Promise<void> {
    const session = this.session!;
    while (!this.aborter.signal.aborted) {
      this.socket.resetSequence();
      let payload: Buffer;
      try {
        payload = await this.socket.read();
      } catch (error) {
        if (error instanceof WireError && (error.code === "WIRE_OUT_OF_ORDER" || error.code === "WIRE_TOO_LARGE")) {
          const kind = error.code === "WIRE_TOO_LARGE" ? ServerErrorKind.NET_PACKET_TOO_LARGE : ServerErrorKind.NET_PACKETS_OUT_OF_ORDER;
          this.socket.sequenceId = 1;
          await this.fail(new SqlError(kind, error.code === "WIRE_TOO_LARGE" ? "Got a packet bigger than 'max_allowed_packet' bytes" : "Got packets out of order"));
        }
        throw error;
      }
      if (payload.length === 0) {
        await this.fail(new SqlError(ServerErrorKind.MALFORMED_PACKET, "Malformed communication packet: empty command"));
        continue;
      }
      const command = payload[0]!;
      switch (command) {
        case Command.QUIT:
          return;
        case Command.PING:
          await this.socket.write(encodeOk());
          break;
        case Command.INIT_DB:
          session.database = payload.subarray(1).toString("utf8");
          await this.socket.write(encodeOk());
          break;
        case Command.QUERY:
          await this.query(payload.subarray(1).toString("utf8"));
          break;
        case Command.REGISTER_SLAVE:
          await this.registerReplica(payload);
          break;
        case Command.BINLOG_DUMP_GTID:
          if (this.config.flavor !== "mysql") {
            // MariaDB has no COM_BINLOG_DUMP_GTID: its replicas use COM_BINLOG_DUMP with @slave_connect_state.
            await this.fail(new SqlError(ServerErrorKind.UNKNOWN_COM, "Unknown command"));
            break;
          }
          await this.dump(payload);
          return;
        case Command.BINLOG_DUMP:
          await this.dump(payload);
          // A primary ends the connection after a dump, whichever way it ended.
          return;
        default:
          await this.fail(new SqlError(ServerErrorKind.UNKNOWN_COM, "Unknown command"));
      }
    }
  }

  private async query(sql: string): Promise<void> {
    this.config.logger.debug({ connection: this.id, sql: sql.slice(0, 200) }, "query");
    try {
      const outcome = await executeQuery(sql, this.session!, { config: this.config, feed: this.host.feed, ...(this.host.control ? { control: this.host.control } : {}) });
      if (outcome.kind === "ok") await this.socket.write(encodeOk());
      else await this.socket.writeAll(encodeResultSet(outcome.result, this.capabilities, this.config.collation));
    } catch (error) {
      if (error instanceof SqlError) {
        this.config.logger.debug({ connection: this.id, sql: sql.slice(0, 200), errno: error.errno }, "query refused");
        await this.fail(error);
        if (error.fatal) throw new WireError("WIRE_CLOSED", error.message);
        return;
      }
      if (error instanceof WireError) throw error;
      this.config.logger.warn({ connection: this.id, sql: sql.slice(0, 200), err: error }, "query failed");
      await this.fail(new SqlError(ServerErrorKind.UNKNOWN_ERROR, `kingbus could not answer this query: ${(error as Error).message}`));
    }
  }

  private async registerReplica(payload: Buffer): Promise<void> {
    try {
      const r = new ByteReader(payload, 1);
      const serverId = r.u32("server id");
      const host = readLenencBytes(r, "host").toString("utf8");
      const user = readLenencBytes(r, "user").toString("utf8");
      readLenencBytes(r, "password");
      const port = r.u16("port");
      this.replica = { serverId, host, user, port };
    } catch {
      await this.fail(new SqlError(ServerErrorKind.MALFORMED_PACKET, "Malformed communication packet: COM_REGISTER_SLAVE"));
      return;
    }
    await this.socket.write(encodeOk());
  }

  private async dump(payload: Buffer): Promise<void> {
    let request: DumpRequest;
    try {
      request = payload[0] === Command.BINLOG_DUMP ? parseBinlogDump(payload) : parseBinlogDumpGtid(payload);
    } catch (error) {
      const message = error instanceof DumpError ? error.message : `Malformed communication packet: ${(error as Error).message}`;
      await this.fail(new SqlError(ServerErrorKind.MALFORMED_PACKET, message));
      return;
    }
    if (request.serverId !== 0) {
      this.dumpServerId = request.serverId;
      this.host.claimReplicaId(request.serverId, this);
    }
    this.dumping = true;
    await runBinlogDump(request, {
      config: this.config,
      feed: this.host.feed,
      socket: this.socket,
      capabilities: this.capabilities,
      userVars: this.session!.userVars,
      sessionVars: this.session!.sessionVars,
      signal: this.aborter.signal,
      onAck: (file, position) => {
        this.semiSyncAck = { file, position, at: new Date() };
      },
    });
  }
}
