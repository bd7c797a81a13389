/**
 * The reference reader: what the real `mariadb-binlog` tool makes of a binlog file, for comparing
 * with kingbus's own codec.
 *
 * How mariadb-binlog (10.11) prints what matters here, one event per `# at <offset>` line followed
 * by a header line `#yymmdd hh:mm:ss server id N  end_log_pos M [CRC32 0x…] \t<description>`:
 *   GTID 0-1-5 ddl          standalone DDL group (no START TRANSACTION; the Query event follows)
 *   GTID 0-1-6 trans        InnoDB group: "START TRANSACTION" … "Xid = n" / "COMMIT"
 *   GTID 0-1-7              non-transactional (MyISAM) group: "START TRANSACTION" … Query "COMMIT"
 *   GTID 0-1-8 trans        XA PREPARE group: "XA START X'…',X'',1" … Query "XA END" … "XID = X'…'"
 *                           / "XA PREPARE X'…'" (an XA_prepare event closes the group)
 *   GTID 0-1-9 trans        the XA COMMIT (or XA ROLLBACK) of a prepared XA: standalone, one
 *                           Query event "XA COMMIT X'…',X'',1"
 *   "cid=N" appears after the GTID when group commit gave it a commit id, "waited" likewise.
 * XA … ONE PHASE is logged as an ordinary "trans" group with an Xid event. A GTID group never
 * spans two files. Annotate_rows events delay their header: two `# at` lines (Annotate_rows,
 * Table_map) come first, then both headers, so offsets are matched to headers in order.
 */
import { execFile } from "node:child_process";
import { KingbusError } from "../src/errors.ts";
import { executable } from "./requirements.ts";
import type { Requirement } from "./requirements.ts";

/** mariadb-binlog failed, timed out or printed more than allowed; the message ends with its stderr. */
export class MariadbBinlogError extends KingbusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("MARIADB_BINLOG", message, options);
  }
}

export interface MariadbBinlogOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  /** Bytes of output accepted before the run counts as failed. Default 256 MiB. */
  maxOutputBytes?: number;
}

/** One GTID event as mariadb-binlog printed it. */
export interface MariadbBinlogGtid {
  /** domain-server-seq */
  gtid: string;
  /** Offset of the GTID event in the file. */
  at: number;
  /** Words after the GTID on its header line, e.g. ["ddl"], ["cid=12", "trans"], []. */
  flags: string[];
  /**
   * What the group starts with: "transaction" (START TRANSACTION), "xa" (XA START, a group that
   * ends in XA PREPARE) or "standalone" (DDL, or the XA COMMIT/ROLLBACK of a prepared XA).
   */
  opens: "transaction" | "xa" | "standalone";
}

/** Why tests that need the reference reader should skip (undefined when it is installed). */
export function mariadbBinlogSkip(): Requirement {
  return executable("mariadb-binlog", "mariadb-client").skip;
}

/** Runs `mariadb-binlog --no-defaults` on one file and returns what it printed. */
export function mariadbBinlogText(file: string, options: MariadbBinlogOptions = {}): Promise<string> {
  const tool = executable("mariadb-binlog", "mariadb-client");
  if (tool.skip) return Promise.reject(new MariadbBinlogError(tool.skip));
  // decode-rows leaves row events out of the output (no base64 BINLOG blocks) but keeps their
  // `# at` and header lines, which is all the parsers here need.
  const args = ["--no-defaults", "--base64-output=decode-rows", file];
  return new Promise((resolve, reject) => {
    execFile(
      tool.path,
      args,
      { encoding: "utf8", timeout: options.timeoutMs ?? 60_000, maxBuffer: options.maxOutputBytes ?? 256 << 20, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        if (err) reject(new MariadbBinlogError(`mariadb-binlog ${file} failed: ${err.message}\n${stderr}`, { cause: err }));
        else resolve(stdout);
      },
    );
  });
}

/** One event as mariadb-binlog printed it. */
export interface MariadbBinlogEvent {
  /** Offset of the event in the file. */
  at: number;
  /** end_log_pos from the header: the offset just past the event. */
  end: number;
  /** What follows the header's tab, e.g. "GTID 0-1-5 trans", "Xid = 12", "Table_map: `d`.`t` mapped to number 22". */
  description: string;
}

const HEADER = /^#\d{6}\s+\d{1,2}:\d{2}:\d{2}\s+server id \d+\s+end_log_pos (\d+) /;
const AT = /^# at (\d+)$/;

type ParsedEvent = MariadbBinlogEvent & { body: string[] };

function parseEvents(text: string): ParsedEvent[] {
  const events: ParsedEvent[] = [];
  const pending: number[] = [];
  let current: { body: string[] } | undefined;
  for (const line of text.split("\n")) {
    const at = AT.exec(line);
    if (at) {
      pending.push(Number(at[1]));
      current = undefined;
      continue;
    }
    const header = HEADER.exec(line);
    if (header) {
      const offset = pending.shift();
      if (offset === undefined) throw new MariadbBinlogError(`mariadb-binlog printed an event header without "# at": ${line}`);
      const tab = line.indexOf("\t");
      const event = { at: offset, end: Number(header[1]), description: tab < 0 ? "" : line.slice(tab + 1), body: [] };
      events.push(event);
      current = event;
      continue;
    }
    current?.body.push(line);
  }
  if (pending.length > 0) throw new MariadbBinlogError(`mariadb-binlog printed "# at ${pending[0]}" without an event header`);
  return events;
}

/** The GTID events of a binlog file, in order, with how mariadb-binlog described each group. */
export async function mariadbBinlogGtidEvents(file: string, options?: MariadbBinlogOptions): Promise<MariadbBinlogGtid[]> {
  const out: MariadbBinlogGtid[] = [];
  for (const event of parseEvents(await mariadbBinlogText(file, options))) {
    const match = /^GTID (\d+-\d+-\d+)((?: \S+)*)\s*$/.exec(event.description);
    if (!match) continue;
    const opens = event.body.some((l) => l.startsWith("XA START "))
      ? "xa"
      : event.body.some((l) => l.startsWith("START TRANSACTION"))
        ? "transaction"
        : "standalone";
    out.push({ gtid: match[1]!, at: event.at, flags: match[2]!.trim().split(" ").filter(Boolean), opens });
  }
  return out;
}

/** The GTID (domain-server-seq) of each event group in a binlog file, in order. */
export async function mariadbBinlogGtids(file: string, options?: MariadbBinlogOptions): Promise<string[]> {
  return (await mariadbBinlogGtidEvents(file, options)).map((g) => g.gtid);
}

/** Every event of a binlog file, in order. */
export async function mariadbBinlogEvents(file: string, options?: MariadbBinlogOptions): Promise<MariadbBinlogEvent[]> {
  return parseEvents(await mariadbBinlogText(file, options)).map(({ at, end, description }) => ({ at, end, description }));
}

/** The offset of every event in a binlog file, in order (the first is 4, the format description). */
export async function mariadbBinlogEventPositions(file: string, options?: MariadbBinlogOptions): Promise<number[]> {
  return parseEvents(await mariadbBinlogText(file, options)).map((e) => e.at);
}
