/**
 * The narrow slice of mysql2's connection object this module drives, typed here because mysql2's
 * typings leave it out. mysql2 runs everything (handshake, queries) as "command" objects queued with
 * `connection.addCommand(cmd)`: the connection calls `cmd.execute(packet, connection)` once with no
 * packet when the command starts, then once per packet the server sends, until execute returns
 * true. That is a public method of the connection (its own commands use nothing else), so our
 * binlog commands plug in there; mysql2's own binlog commands are broken (replication-protocol.md §4)
 * and its lib/ files cannot be imported (package exports), so nothing here touches them.
 *
 * What we rely on, checked against mysql2 3.24's lib/base/connection.js and lib/packet_parser.js:
 * - The packet parser joins a payload split over several packets (length 0xFFFFFF continues, an
 *   empty packet ends a payload that is an exact multiple) and hands over one packet whose
 *   `buffer[offset, end)` is the whole payload; `numPackets` says how many wire packets it was.
 * - `connection.sequenceId` is the id the next incoming packet should carry; mysql2 compares and
 *   bumps it per packet, and writes its own packets with it. We write raw framed bytes with
 *   `connection.write()` and set `sequenceId` ourselves, so the comparison stays quiet.
 * - The packet object may be reused for the next packet once execute returns: keep only copies
 *   or views of its buffer, never the packet itself.
 * - `pause()`/`resume()` stop the socket and queue packets already parsed; resume() replays them.
 * - When the socket closes or fails, the running command's `onResult(error)` is called.
 * - `destroy()` only half-closes the socket (end()); a peer that is frozen would keep it open, so
 *   a hard stop destroys `stream` (the TCP or TLS socket) directly.
 */
import type { Socket } from "node:net";

export interface CorePacket {
  sequenceId: number;
  numPackets: number;
  buffer: Buffer;
  start: number;
  /** Start of the payload (start + 4). */
  offset: number;
  /** End of the payload. */
  end: number;
}

export interface CoreCommand {
  /** Returns true when the command is finished (mysql2 then starts the next queued command). */
  execute(packet: CorePacket | undefined, connection: CoreConnection): boolean;
  /** Called by mysql2 when the connection fails or closes while this command runs or waits. */
  onResult?: (error: Error) => void;
}

export interface CoreConnection {
  sequenceId: number;
  stream: Socket;
  addCommand(command: CoreCommand): unknown;
  write(bytes: Buffer): void;
  pause(): void;
  resume(): void;
  escape(value: unknown): string;
  query(sql: string, callback: (error: MysqlDriverError | null, rows: unknown) => void): unknown;
  end(callback?: (error: unknown) => void): void;
  on(event: "error" | "end", listener: (error?: MysqlDriverError) => void): unknown;
}

/** What mysql2 puts on its errors (server errors carry errno/sqlState/sqlMessage). */
export interface MysqlDriverError extends Error {
  code?: string;
  errno?: number;
  sqlState?: string;
  sqlMessage?: string;
  fatal?: boolean;
}

/** The payload of a packet as a view (no copy). */
export function payloadOf(packet: CorePacket): Buffer {
  return packet.buffer.subarray(packet.offset, packet.end);
}
