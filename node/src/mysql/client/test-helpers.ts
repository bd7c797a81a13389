/**
 * Shared by this folder's tests against real MariaDB servers (not used by the product code):
 * connecting to a throwaway server, reading a dump until a condition with a deadline, and reading
 * the primary's own binlog files for comparison.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EventType } from "../../binlog/event-type.ts";
import { readEventHeader } from "../../binlog/header.ts";
import { readBinlogBuffer } from "../../binlog/reader.ts";
import type { MariadbServer } from "../../../test-support/mariadb.ts";
import { connectPrimary } from "./connection.ts";
import type { ConnectPrimaryOptions, PrimaryConnection } from "./connection.ts";
import type { BinlogDumpStream, DumpedEvent } from "./dump-stream.ts";
import { DumpCoordinates } from "./events.ts";

export function connectTo(server: MariadbServer, options: Partial<ConnectPrimaryOptions> = {}): Promise<PrimaryConnection> {
  return connectPrimary({ host: server.host, port: server.port, user: "root", password: "", serverId: 4242, heartbeatPeriodMs: 1000, ...options });
}

export interface Received extends DumpedEvent {
  /** Where the event is in the primary's binlog, as DumpCoordinates follows it (after the event). */
  file: string;
  position: number;
  /** performance.now() when the consumer took it. */
  at: number;
}

/**
 * Consumes the stream in the background into `events`; `until` resolves when `predicate` holds for
 * an event (checked on each), and rejects with the stream's error or after `timeoutMs`.
 */
export class Collector {
  readonly events: Received[] = [];
  readonly coordinates = new DumpCoordinates();
  error: Error | undefined;
  readonly finished: Promise<void>;
  #waiters: Array<{ predicate: (e: Received) => boolean; resolve: (e: Received) => void; reject: (error: Error) => void }> = [];

  constructor(stream: BinlogDumpStream, onEvent?: (e: Received) => void) {
    this.finished = (async () => {
      try {
        for await (const event of stream) {
          this.coordinates.update(event.bytes);
          const received = { ...event, file: this.coordinates.file, position: this.coordinates.position, at: performance.now() };
          this.events.push(received);
          onEvent?.(received);
          this.#waiters = this.#waiters.filter((w) => {
            if (!w.predicate(received)) return true;
            w.resolve(received);
            return false;
          });
        }
      } catch (error) {
        this.error = error as Error;
      }
      for (const w of this.#waiters) w.reject(this.error ?? new Error("the stream ended"));
      this.#waiters = [];
    })();
  }

  /** The error the stream ended with (a method, so an earlier assertion does not narrow it). */
  failure(): Error | undefined {
    return this.error;
  }

  until(predicate: (e: Received) => boolean, timeoutMs: number, what: string): Promise<Received> {
    const seen = this.events.find(predicate);
    if (seen) return Promise.resolve(seen);
    if (this.error) return Promise.reject(this.error);
    return new Promise<Received>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      this.#waiters.push({
        predicate,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
  }
}

export interface FileEvent {
  file: string;
  offset: number;
  bytes: Buffer;
}

/** Every event of the given binlog files (basenames in the server's data directory), in order. */
export function binlogEvents(server: MariadbServer, files: string[]): FileEvent[] {
  return files.flatMap((file) => [...readBinlogBuffer(readFileSync(join(server.dataDir, file)))].map((e) => ({ file, offset: e.offset, bytes: e.bytes })));
}

/** File names and sizes as SHOW BINARY LOGS reports them. */
export async function binaryLogs(server: MariadbServer): Promise<Array<{ name: string; size: number }>> {
  const rows = await server.query("SHOW BINARY LOGS");
  return rows.map((r) => ({ name: String(r.Log_name), size: Number(r.File_size) }));
}

/** The GTID text (domain-server-seq) of a MARIADB_GTID event, undefined for other events. */
export function mariadbGtidOf(event: Buffer): string | undefined {
  if (event[4] !== EventType.MARIADB_GTID) return undefined;
  const header = readEventHeader(event);
  return `${event.readUInt32LE(27)}-${header.serverId}-${event.readBigUInt64LE(19)}`;
}

/** The server's process id, from its pid file. */
export function serverPid(server: MariadbServer): number {
  return Number(readFileSync(join(server.dataDir, "mariadbd.pid"), "utf8").trim());
}
