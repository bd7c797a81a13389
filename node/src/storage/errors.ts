import { KingbusError } from "../errors.ts";

export type StorageErrorCode =
  /** A record or file fails its check before the tail: the store stops; nothing is served past it. */
  | "STORAGE_CORRUPT"
  /** The disk is full: the append failed, the store is unchanged and appends work once space frees. */
  | "STORAGE_NO_SPACE"
  /** An earlier fsync or write failed in a way that leaves the files' state unknown: reopen to recover. */
  | "STORAGE_FAILED"
  /** The index is below the first retained entry (compacted or purged). */
  | "STORAGE_COMPACTED"
  /** The index is past the last entry. */
  | "STORAGE_UNAVAILABLE"
  /** An append that would leave a gap, or rewrite entries behind the first retained one. */
  | "STORAGE_BAD_APPEND"
  | "STORAGE_CLOSED";

export class StorageError extends KingbusError {
  declare readonly code: StorageErrorCode;
  /** The file and byte offset of the damage, for STORAGE_CORRUPT. */
  readonly file: string | undefined;
  readonly offset: number | undefined;

  constructor(code: StorageErrorCode, message: string, options?: { file?: string; offset?: number; cause?: unknown }) {
    const where = options?.file === undefined ? "" : `${options.file}${options.offset === undefined ? "" : ` at byte ${options.offset}`}: `;
    super(code, `${where}${message}`, options);
    this.file = options?.file;
    this.offset = options?.offset;
  }
}

/** Whether an error from the file system means the disk (or quota) is full. */
export function isNoSpace(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}
