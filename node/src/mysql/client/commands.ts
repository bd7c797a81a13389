/**
 * Our two mysql2 command objects (see core.ts for the contract): a command with exactly one reply
 * (COM_REGISTER_SLAVE), and the binlog dump, which never finishes by itself and feeds every packet
 * to a BinlogDumpStream.
 */
import type { CoreCommand, CoreConnection, CorePacket, MysqlDriverError } from "./core.ts";
import { payloadOf } from "./core.ts";
import { BinlogDumpError, PrimaryDisconnectedError, PrimaryProtocolError, PrimaryQueryError } from "./errors.ts";
import { decodeErrorPacket, framePayload, SEMI_SYNC_ACK_WANTED, SEMI_SYNC_MAGIC } from "./packets.ts";

/**
 * Sends the request as a new command (sequence ids from 0) and tells mysql2 which id the reply
 * carries, so its out-of-order check (which only warns, on stderr) stays quiet.
 */
function sendCommand(connection: CoreConnection, payload: Buffer): void {
  const { bytes, packets } = framePayload(payload, 0);
  connection.sequenceId = packets & 0xff;
  connection.write(bytes);
}

function disconnected(what: string, error: Error): PrimaryDisconnectedError {
  const driver = error as MysqlDriverError;
  return new PrimaryDisconnectedError(`the connection to the primary was lost during ${what}: ${driver.code ?? ""}${driver.code ? " " : ""}${error.message}`, { cause: error });
}

/** A command answered by one OK or ERR packet. */
export class SingleReplyCommand implements CoreCommand {
  readonly #payload: Buffer;
  readonly #what: string;
  readonly #resolve: (ok: Buffer) => void;
  readonly #reject: (error: Error) => void;
  #settled = false;
  readonly done: Promise<Buffer>;

  constructor(payload: Buffer, what: string) {
    this.#payload = payload;
    this.#what = what;
    let resolve!: (ok: Buffer) => void;
    let reject!: (error: Error) => void;
    this.done = new Promise<Buffer>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.#resolve = resolve;
    this.#reject = reject;
  }

  execute(packet: CorePacket | undefined, connection: CoreConnection): boolean {
    if (packet === undefined) {
      sendCommand(connection, this.#payload);
      return false;
    }
    const payload = payloadOf(packet);
    if (payload[0] === 0x00) {
      this.#settle(undefined, Buffer.from(payload));
    } else if (payload[0] === 0xff) {
      const details = decodeErrorPacket(payload);
      this.#settle(new PrimaryQueryError(this.#what, `the primary refused ${this.#what} with error ${details.errno}: ${details.serverMessage}`, { errno: details.errno, serverMessage: details.serverMessage }));
    } else {
      this.#settle(new PrimaryProtocolError(`${this.#what} got a reply starting with 0x${(payload[0] ?? 0).toString(16)} instead of OK or ERR`));
    }
    return true;
  }

  onResult = (error: Error): void => {
    this.#settle(disconnected(this.#what, error));
  };

  /** mysql2 asks commands for their state's name when its `debug` option is on. */
  stateName(): string {
    return this.#what;
  }

  #settle(error: Error | undefined, ok?: Buffer): void {
    if (this.#settled) return;
    this.#settled = true;
    if (error) this.#reject(error);
    else this.#resolve(ok!);
  }
}

/** Where the dump command hands what arrives. */
export interface DumpSink {
  receivePacket(payload: Buffer): void;
  fail(error: Error): void;
  /** The primary ended a non-blocking dump with EOF: everything asked for was sent. */
  finish(): void;
}

/**
 * COM_BINLOG_DUMP / COM_BINLOG_DUMP_GTID. After the request the primary sends no OK: every packet
 * is `0x00` + event, or an ERR that ends the dump, or (non-blocking dumps only, which we never ask
 * for) an EOF.
 */
export class BinlogDumpCommand implements CoreCommand {
  readonly #payload: Buffer;
  readonly #sink: DumpSink;
  readonly #semiSync: boolean;
  readonly #nonBlocking: boolean;
  #finished = false;

  constructor(payload: Buffer, sink: DumpSink, semiSync: boolean, nonBlocking = false) {
    this.#payload = payload;
    this.#sink = sink;
    this.#semiSync = semiSync;
    this.#nonBlocking = nonBlocking;
  }

  execute(packet: CorePacket | undefined, connection: CoreConnection): boolean {
    if (packet === undefined) {
      sendCommand(connection, this.#payload);
      return false;
    }
    if (this.#finished) return true;
    const payload = payloadOf(packet);
    const marker = payload[0];
    if (marker === 0x00) {
      // Keep mysql2's expected sequence id in step with the primary's (its check runs before
      // execute and only warns, on stderr). A semi-sync primary restarts its numbering after an
      // event that wants an ack: it flushes, clears its packet counter and bumps it, so the next
      // packet carries id 1 (seen on MariaDB 10.11: "... received 1"; MySQL's flushNet does the
      // same), leaving id 0 for our ack.
      const ackWanted = this.#semiSync && payload[1] === SEMI_SYNC_MAGIC && (payload[2]! & SEMI_SYNC_ACK_WANTED) !== 0;
      connection.sequenceId = ackWanted ? 1 : (packet.sequenceId + packet.numPackets) & 0xff;
      this.#sink.receivePacket(payload);
      return false;
    }
    this.#finished = true;
    if (marker === 0xff) {
      this.#sink.fail(new BinlogDumpError(decodeErrorPacket(payload)));
    } else if (marker === 0xfe && payload.length < 9 && this.#nonBlocking) {
      this.#sink.finish();
    } else if (marker === 0xfe && payload.length < 9) {
      this.#sink.fail(new PrimaryDisconnectedError("the primary ended the binlog dump with EOF (it treated the dump as non-blocking)"));
    } else {
      this.#sink.fail(new PrimaryProtocolError(`binlog stream packet starts with 0x${(marker ?? 0).toString(16)}, expected 0x00, an ERR or an EOF`));
    }
    return true;
  }

  onResult = (error: Error): void => {
    this.#finished = true;
    this.#sink.fail(disconnected("the binlog dump", error));
  };

  /** mysql2 asks commands for their state's name when its `debug` option is on. */
  stateName(): string {
    return "binlog dump";
  }
}
