/**
 * A minimal MySQL protocol client for tests: it speaks the wire format byte by byte (through the
 * same framing code the server uses, so the tests also check the server's sequence ids), logs in
 * with mysql_native_password, runs text queries and sends raw commands such as COM_BINLOG_DUMP.
 * Not for production: no TLS, no prepared statements, no reconnection.
 */
import { connect, type Socket } from "node:net";
import { ByteWriter } from "../../../binlog/bytes.ts";
import type { MysqlGtidSet } from "../../../binlog/gtid-mysql.ts";
import { nativePasswordToken, sha2PasswordToken } from "../../wire/auth.ts";
import { CACHING_SHA2_PLUGIN, Capability, Command, NATIVE_PASSWORD_PLUGIN } from "../../wire/constants.ts";
import { KingbusError } from "../../../errors.ts";
import { decodeAuthSwitchRequest, decodeHandshakeV10, encodeHandshakeResponse, type HandshakeV10 } from "../../wire/handshake.ts";
import { decodeColumnName, decodeErr, decodeRow, isEofPacket, isErrPacket, isOkPacket, type ErrPacket } from "../../wire/messages.ts";
import { ByteReader } from "../../../binlog/bytes.ts";
import { PacketSocket } from "../../wire/packet-socket.ts";

/** The token of `plugin` (unknown plugins get 32 bytes of filler, to provoke an auth switch). */
function token(plugin: string, password: string, scramble: Buffer): Buffer {
  if (plugin === NATIVE_PASSWORD_PLUGIN) return nativePasswordToken(password, scramble);
  if (plugin === CACHING_SHA2_PLUGIN) return sha2PasswordToken(password, scramble);
  return Buffer.alloc(32, 1);
}

/** The server answered with an ERR packet. */
export class ServerErrorReply extends KingbusError implements ErrPacket {
  readonly errno: number;
  readonly sqlState: string;

  constructor(err: ErrPacket) {
    super(`ER_${err.errno}`, `${err.errno} (${err.sqlState}): ${err.message}`);
    this.errno = err.errno;
    this.sqlState = err.sqlState;
  }
}

export interface RawClientOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Default: what a MariaDB 10.11 replica sends, DEPRECATE_EOF included. */
  capabilities?: number;
  /** Start the handshake response with this plugin's name (to provoke an auth switch). */
  authPlugin?: string;
  /** Split payloads at this size instead of 0xFFFFFF (framing tests). */
  maxPacketPayload?: number;
}

export const DEFAULT_CLIENT_CAPABILITIES =
  Capability.LONG_PASSWORD |
  Capability.LONG_FLAG |
  Capability.PROTOCOL_41 |
  Capability.TRANSACTIONS |
  Capability.SECURE_CONNECTION |
  Capability.MULTI_RESULTS |
  Capability.PLUGIN_AUTH |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  Capability.DEPRECATE_EOF;

export interface QueryResult {
  columns: string[];
  rows: Array<Array<string | null>>;
}

export class RawClient {
  readonly packets: PacketSocket;
  readonly handshake: HandshakeV10;
  readonly capabilities: number;

  private constructor(packets: PacketSocket, handshake: HandshakeV10, capabilities: number) {
    this.packets = packets;
    this.handshake = handshake;
    this.capabilities = capabilities;
  }

  static async connect(options: RawClientOptions): Promise<RawClient> {
    const socket: Socket = await new Promise((resolve, reject) => {
      const s = connect(options.port, options.host, () => {
        s.off("error", reject);
        resolve(s);
      });
      s.once("error", reject);
    });
    const packets = new PacketSocket(socket, { maxPayload: 1 << 30, maxPacketPayload: options.maxPacketPayload });
    try {
      const greeting = await packets.readWithin(5000);
      if (isErrPacket(greeting)) throw new ServerErrorReply(decodeErr(greeting));
      const handshake = decodeHandshakeV10(greeting);
      const capabilities = (options.capabilities ?? DEFAULT_CLIENT_CAPABILITIES) & (handshake.capabilities | Capability.PROTOCOL_41);
      const plugin = options.authPlugin ?? NATIVE_PASSWORD_PLUGIN;
      await packets.write(
        encodeHandshakeResponse({
          capabilities,
          maxPacketSize: 1 << 30,
          collation: 45,
          user: options.user,
          authResponse: token(plugin, options.password, handshake.scramble),
          authPlugin: plugin,
        }),
      );
      let reply = await packets.readWithin(5000);
      if (reply[0] === 0xfe) {
        const { plugin: asked, data } = decodeAuthSwitchRequest(reply);
        if (asked !== NATIVE_PASSWORD_PLUGIN && asked !== CACHING_SHA2_PLUGIN) throw new Error(`server asked for ${asked}`);
        await packets.write(token(asked, options.password, data));
        reply = await packets.readWithin(5000);
      }
      if (reply[0] === 0x01 && reply.length === 2) {
        // caching_sha2_password: 0x03 fast authentication succeeded (the OK follows), 0x04 full authentication asked.
        if (reply[1] !== 0x03) throw new Error(`the server asked for caching_sha2_password full authentication (0x${reply[1]!.toString(16)})`);
        reply = await packets.readWithin(5000);
      }
      if (isErrPacket(reply)) throw new ServerErrorReply(decodeErr(reply));
      if (!isOkPacket(reply)) throw new Error(`unexpected reply to the handshake: ${reply.toString("hex")}`);
      return new RawClient(packets, handshake, capabilities);
    } catch (error) {
      packets.destroy();
      throw error;
    }
  }

  /** Sends a command (sequence id 0) and returns nothing: read the reply with `read()`. */
  async command(payload: Uint8Array): Promise<void> {
    this.packets.resetSequence();
    await this.packets.write(payload);
  }

  read(timeoutMs = 10_000): Promise<Buffer> {
    return this.packets.readWithin(timeoutMs);
  }

  /** Runs a text query: rows for a result set, undefined for OK; ERR throws ServerErrorReply. */
  async query(sql: string): Promise<QueryResult | undefined> {
    await this.command(Buffer.concat([Buffer.of(Command.QUERY), Buffer.from(sql, "utf8")]));
    const first = await this.read();
    if (isErrPacket(first)) throw new ServerErrorReply(decodeErr(first));
    if (isOkPacket(first)) return undefined;
    const count = new ByteReader(first).lenencNumber("column count");
    const columns: string[] = [];
    for (let i = 0; i < count; i++) columns.push(decodeColumnName(await this.read()));
    if (!(this.capabilities & Capability.DEPRECATE_EOF)) {
      const eof = await this.read();
      if (!isEofPacket(eof)) throw new Error("expected EOF after the column definitions");
    }
    const rows: Array<Array<string | null>> = [];
    while (true) {
      const packet = await this.read();
      if (isEofPacket(packet)) break;
      if (isErrPacket(packet)) throw new ServerErrorReply(decodeErr(packet));
      rows.push(decodeRow(packet, count));
    }
    return { columns, rows };
  }

  /** The first cell of a one-row query. */
  async value(sql: string): Promise<string | null> {
    const result = await this.query(sql);
    if (!result || result.rows.length !== 1) throw new Error(`${sql} gave no single row`);
    return result.rows[0]![0]!;
  }

  async close(): Promise<void> {
    await this.command(Buffer.of(Command.QUIT)).catch(() => undefined);
    await this.packets.end(500);
  }

  destroy(): void {
    this.packets.destroy();
  }
}

/** COM_BINLOG_DUMP as a replica or mysqlbinlog sends it. */
export function encodeBinlogDump(file: string, position: number, flags: number, serverId: number): Buffer {
  return new ByteWriter().u8(Command.BINLOG_DUMP).u32(position).u16(flags).u32(serverId).bytes(Buffer.from(file, "utf8")).toBuffer();
}

/** COM_BINLOG_DUMP_GTID as a MySQL 8 replica sends it. */
export function encodeBinlogDumpGtid(gtids: MysqlGtidSet, flags: number, serverId: number, file = "", position = 4n): Buffer {
  const data = Buffer.from(gtids.encode());
  const name = Buffer.from(file, "utf8");
  return new ByteWriter()
    .u8(Command.BINLOG_DUMP_GTID)
    .u16(flags)
    .u32(serverId)
    .u32(name.length)
    .bytes(name)
    .u64(position)
    .u32(data.length)
    .bytes(data)
    .toBuffer();
}

/** Reads dump packets until EOF (or ERR, which throws); each event without its 0x00 prefix. */
export async function readDumpEvents(client: RawClient, timeoutMs = 10_000): Promise<Buffer[]> {
  const events: Buffer[] = [];
  while (true) {
    const packet = await client.read(timeoutMs);
    if (isErrPacket(packet)) throw new ServerErrorReply(decodeErr(packet));
    if (isEofPacket(packet)) return events;
    if (packet[0] !== 0x00) throw new Error(`dump packet starts with 0x${packet[0]!.toString(16)}`);
    events.push(packet.subarray(1));
  }
}
