import { KingbusError } from "../errors.ts";

/**
 * Why a binlog could not be read. `offset` is the byte offset in the file or stream (of the event
 * that failed, or of the damage) when the caller knows it.
 */
export type BinlogErrorCode =
  | "BINLOG_NOT_A_BINLOG"
  | "BINLOG_ENCRYPTED"
  | "BINLOG_TRUNCATED"
  | "BINLOG_CHECKSUM"
  | "BINLOG_CORRUPT"
  | "BINLOG_UNSUPPORTED";

export class BinlogError extends KingbusError {
  declare readonly code: BinlogErrorCode;
  readonly offset: number | undefined;

  constructor(code: BinlogErrorCode, message: string, options?: { offset?: number; cause?: unknown }) {
    super(code, options?.offset === undefined ? message : `at byte ${options.offset}: ${message}`, options);
    this.offset = options?.offset;
  }
}
