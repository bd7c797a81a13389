/**
 * What the stream tells its consumer about each event without decoding it: whether the primary
 * synthesised it for this session (so it is not in the primary's binlog files and must not be
 * stored as if it were), and whether it is a heartbeat.
 *
 * Seen on the wire from MariaDB 10.11 (mariadb-dump.test.ts compares every event of a dump with the
 * primary's files, mariadb-heartbeat.test.ts the heartbeats):
 * - fake ROTATE before each file sent (the first, and after the primary's own ROTATE at the end of
 *   every file): timestamp 0, log_pos 0, flags = ARTIFICIAL (0x20), body = u64 4 + file name, with
 *   a CRC when checksums are on (it comes before the FDE that announces them);
 * - fake GTID_LIST, only when the dump skipped event groups to reach the start: one each time the
 *   scan passes the replica's position in one of its domains, timestamp 0, flags = ARTIFICIAL,
 *   log_pos = the end of that group (not 0), body = the last GTID per domain seen so far;
 * - HEARTBEAT (27) after each idle period: timestamp 0, flags 0 (no ARTIFICIAL flag), log_pos =
 *   the primary's current end position, body = the current file name (+ CRC).
 * Everything else is the file's own bytes: the FORMAT_DESCRIPTION after the fake ROTATE, the
 * file's GTID_LIST and BINLOG_CHECKPOINT, the transactions, the primary's own ROTATE. The one
 * difference is the FDE of the file being written: its BINLOG_IN_USE flag (0x01) is cleared on the
 * wire, and its CRC, which the server computes with that flag clear, stays as in the file.
 * MySQL 5.6+ marks its fake ROTATE the same way and sends HEARTBEAT or HEARTBEAT_V2 (41).
 *
 * So the rule is: ARTIFICIAL flag, or a heartbeat type. log_pos 0 alone is not a rule (MariaDB
 * 11.4+ writes log_pos 0 on events inside a transaction in its own files), nor is timestamp 0.
 */
import { CHECKSUM_LENGTH, computeEventChecksum, storedChecksum } from "../../binlog/checksum.ts";
import { EventFlag, EventType } from "../../binlog/event-type.ts";
import { decodeHeartbeat, decodeHeartbeatV2 } from "../../binlog/events/heartbeat.ts";
import { decodeRotate } from "../../binlog/events/rotate.ts";
import { EVENT_HEADER_LENGTH, readEventHeader } from "../../binlog/header.ts";

const TYPE_OFFSET = 4;
const FLAGS_OFFSET = 17;

export function isHeartbeatEvent(event: Uint8Array): boolean {
  const type = event[TYPE_OFFSET];
  return type === EventType.HEARTBEAT || type === EventType.HEARTBEAT_V2;
}

/** True for events the primary made up for this dump session (see the file comment). */
export function isArtificialEvent(event: Uint8Array): boolean {
  const flags = event[FLAGS_OFFSET]! | (event[FLAGS_OFFSET + 1]! << 8);
  return (flags & EventFlag.ARTIFICIAL) !== 0 || isHeartbeatEvent(event);
}

/**
 * Whether the primary has found the replica's start: the first event that is not part of the
 * preamble it sends before scanning (ROTATE, FORMAT_DESCRIPTION, PREVIOUS_GTIDS, the file's own
 * GTID_LIST and BINLOG_CHECKPOINT). While it scans a large binlog for the start it sends nothing
 * at all, heartbeats included, so the watchdog allows longer until then.
 */
export function endsStartup(event: Uint8Array): boolean {
  switch (event[TYPE_OFFSET]) {
    case EventType.ROTATE:
    case EventType.FORMAT_DESCRIPTION:
    case EventType.PREVIOUS_GTIDS:
    case EventType.MARIADB_BINLOG_CHECKPOINT:
      return false;
    case EventType.MARIADB_GTID_LIST:
      // The file's own list is preamble; the artificial one marks the end of the skip.
      return isArtificialEvent(event);
    default:
      return true;
  }
}

/** Whether the last 4 bytes are the CRC32 of the rest (the event carries a checksum). */
function endsInChecksum(event: Uint8Array): boolean {
  return event.length >= EVENT_HEADER_LENGTH + CHECKSUM_LENGTH && computeEventChecksum(event.subarray(0, event.length - CHECKSUM_LENGTH)) === storedChecksum(event);
}

/**
 * Follows the primary's (file, position) through a dump, which is what a semi-sync ack names and
 * what a heartbeat reports: `file` from each ROTATE (the fake one at the start of a file and the
 * primary's own at the end of one) and heartbeat, `position` from each event's log_pos.
 *
 * The fake ROTATE arrives before any FORMAT_DESCRIPTION says whether events carry a checksum, so
 * the file name is cut by looking at the event itself: a CRC32 over the rest in the last 4 bytes
 * means a checksum (a file name whose last 4 bytes match by chance has odds of 2^-32).
 */
export class DumpCoordinates {
  /** The primary's binlog file the next event is in ("" until the first ROTATE). */
  file = "";
  /** End position of the last event in `file` (what ack() wants for an event that asked). */
  position = 0;

  update(event: Uint8Array): void {
    const type = event[TYPE_OFFSET];
    const bytes = Buffer.from(event.buffer, event.byteOffset, event.byteLength);
    const body = bytes.subarray(EVENT_HEADER_LENGTH, endsInChecksum(bytes) ? bytes.length - CHECKSUM_LENGTH : bytes.length);
    if (type === EventType.ROTATE) {
      // A ROTATE names the next file and where in it the stream continues.
      const rotate = decodeRotate(body);
      this.file = rotate.nextFile;
      this.position = Number(rotate.position);
      return;
    }
    if (type === EventType.HEARTBEAT) {
      this.file = decodeHeartbeat(body).logFile;
    } else if (type === EventType.HEARTBEAT_V2) {
      const heartbeat = decodeHeartbeatV2(body);
      this.file = heartbeat.logFile;
      this.position = Number(heartbeat.position);
      return;
    }
    const logPos = readEventHeader(bytes).logPos;
    // log_pos 0: an event that has no place in the file (or MariaDB 11.4+ inside a transaction).
    if (logPos !== 0) this.position = logPos;
  }
}
