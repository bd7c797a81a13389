/**
 * The root of every error kingbus throws on purpose. Each has a stable `code` that callers switch
 * on (never the message), and keeps the underlying error as `cause`.
 */
export class KingbusError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
