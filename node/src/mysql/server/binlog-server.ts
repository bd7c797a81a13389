/**
 * The primary-role MySQL/MariaDB server: replicas, `mariadb-binlog --read-from-remote-server` and
 * CDC clients connect to it as to a real primary and read the binlog a BinlogFeed holds.
 *
 *   const server = new BinlogServer({ flavor: "mariadb", serverId: 100, users: { repl: "secret" } }, feed);
 *   const { port } = await server.listen("127.0.0.1", 3306);
 *   ...
 *   await server.close();
 */
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { KingbusError } from "../../errors.ts";
import { encodeErr } from "../wire/messages.ts";
import { framePayload } from "../wire/packet.ts";
import { ServerErrorKind } from "../wire/errors.ts";
import { resolveServerConfig, ServerConfigError, type BinlogServerConfig, type ResolvedServerConfig } from "./config.ts";
import { ClientConnection, type ConnectionHost, type RegisteredReplica } from "./connection.ts";
import type { BinlogFeed } from "./feed.ts";

export class BinlogServerError extends KingbusError {
  constructor(code: "SERVER_LISTEN" | "SERVER_STATE", message: string, options?: { cause?: unknown }) {
    super(code, message, { cause: options?.cause });
  }
}

/** A connected client, as `connections()` lists them. */
export interface ConnectionInfo {
  id: number;
  remoteAddress: string;
  /** The replica's server id while it runs a dump. */
  dumpServerId: number | undefined;
  /** What COM_REGISTER_SLAVE said, when the client sent it. */
  replica: RegisteredReplica | undefined;
  /** The logged-in user (undefined during the handshake). */
  user: string | undefined;
  connectedAt: Date;
  /** A dump runs on the connection. */
  dumping: boolean;
  /** @slave_uuid / @replica_uuid, as MySQL replicas set it. */
  replicaUuid: string | undefined;
  /** The heartbeat period the replica asked for (@master_heartbeat_period), in nanoseconds; 0 when none. */
  heartbeatPeriodNs: number;
  /** A semi-sync replica's last ack. */
  semiSyncAck: { file: string; position: number; at: Date } | undefined;
}

export class BinlogServer {
  readonly config: ResolvedServerConfig;
  readonly feed: BinlogFeed;
  readonly #server: Server;
  readonly #connections = new Map<number, { connection: ClientConnection; done: Promise<void> }>();
  /** Dump sessions by replica server id. */
  readonly #dumps = new Map<number, ClientConnection>();
  #nextId = 1;
  #listening = false;
  #closed = false;

  constructor(config: BinlogServerConfig, feed: BinlogFeed) {
    this.config = resolveServerConfig(config);
    if (feed.flavor !== this.config.flavor) {
      throw new ServerConfigError(`the feed holds a ${feed.flavor} binlog but the server is configured as ${this.config.flavor}`);
    }
    this.feed = feed;
    this.#server = createServer({ noDelay: true, highWaterMark: this.config.sendBufferBytes }, (socket) => this.#accept(socket));
  }

  /** Starts listening; port 0 picks a free port. Resolves with the address actually bound. */
  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    if (this.#closed) return Promise.reject(new BinlogServerError("SERVER_STATE", "the server was closed"));
    if (this.#listening) return Promise.reject(new BinlogServerError("SERVER_STATE", "the server is already listening"));
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(new BinlogServerError("SERVER_LISTEN", `cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
      this.#server.once("error", onError);
      this.#server.listen(port, host, () => {
        this.#server.off("error", onError);
        this.#listening = true;
        const address = this.#server.address() as AddressInfo;
        this.config.logger.info({ host: address.address, port: address.port, flavor: this.config.flavor }, "binlog server listening");
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** The bound address, once listening. */
  address(): { host: string; port: number } | undefined {
    const address = this.#server.address();
    return address && typeof address === "object" ? { host: address.address, port: address.port } : undefined;
  }

  /** How many clients are connected. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  connections(): ConnectionInfo[] {
    return [...this.#connections.values()].map(({ connection }) => ({
      id: connection.id,
      remoteAddress: connection.remoteAddress,
      dumpServerId: connection.dumpServerId,
      replica: connection.replica,
      user: connection.user,
      connectedAt: connection.connectedAt,
      dumping: connection.dumping,
      replicaUuid: connection.userVariable("replica_uuid") ?? connection.userVariable("slave_uuid"),
      heartbeatPeriodNs: Number(connection.userVariable("source_heartbeat_period") ?? connection.userVariable("master_heartbeat_period") ?? 0) || 0,
      semiSyncAck: connection.semiSyncAck,
    }));
  }

  /** Stops accepting, ends every connection (dumps included) and waits until they are gone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const stopped = new Promise<void>((resolve) => (this.#listening ? this.#server.close(() => resolve()) : resolve()));
    const running = [...this.#connections.values()];
    for (const { connection } of running) connection.kill();
    await Promise.all(running.map((c) => c.done));
    await stopped;
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    if (this.#closed || this.#connections.size >= this.config.maxConnections) {
      // A handshake-time error packet, as a server at max_connections (or shutting down) sends.
      const error = this.#closed
        ? encodeErr(ServerErrorKind.SERVER_SHUTDOWN, "Server shutdown in progress")
        : encodeErr(ServerErrorKind.TOO_MANY_CONNECTIONS, "Too many connections");
      const { chunks } = framePayload(error, 0);
      for (const chunk of chunks) socket.write(chunk);
      socket.end();
      socket.on("error", () => undefined);
      return;
    }
    const id = this.#nextId++;
    const host: ConnectionHost = {
      config: this.config,
      feed: this.feed,
      claimReplicaId: (serverId, connection) => {
        const previous = this.#dumps.get(serverId);
        if (previous && previous !== connection) {
          // A replica that reconnects replaces its old dump (kill_zombie_dump_threads).
          this.config.logger.info({ replicaServerId: serverId, old: previous.id, new: connection.id }, "replica reconnected: ending its previous dump");
          previous.kill();
        }
        this.#dumps.set(serverId, connection);
      },
      releaseReplicaId: (serverId, connection) => {
        if (this.#dumps.get(serverId) === connection) this.#dumps.delete(serverId);
      },
      control: {
        replicas: () =>
          [...this.#connections.values()]
            .map(({ connection: c }) => c)
            .filter((c) => c.replica !== undefined && !c.socket.isClosed)
            .map((c) => ({ serverId: c.replica!.serverId, host: c.replica!.host, port: c.replica!.port, uuid: c.userVariable("replica_uuid") ?? c.userVariable("slave_uuid") })),
        kill: (target) => {
          const found = this.#connections.get(target);
          if (!found) return false;
          this.config.logger.info({ connection: target, by: id }, "connection killed");
          found.connection.kill();
          return true;
        },
      },
    };
    const connection = new ClientConnection(id, socket, host);
    const done = connection.run().finally(() => this.#connections.delete(id));
    this.#connections.set(id, { connection, done });
  }
}
