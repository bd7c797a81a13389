import { KingbusError } from "../errors.ts";

/** The stable codes of admin errors, with the HTTP status each answers with. */
export const ADMIN_ERROR_STATUS = {
  /** The request body or its fields are wrong. */
  ADMIN_BAD_REQUEST: 400,
  /** A token is configured and the call does not carry it. */
  ADMIN_UNAUTHORIZED: 401,
  /** No such path. */
  ADMIN_NOT_FOUND: 404,
  /** The path exists, the verb does not. */
  ADMIN_METHOD_NOT_ALLOWED: 405,
  ADMIN_BODY_TOO_LARGE: 413,
  /** A member with this name or id exists already. */
  MEMBER_EXISTS: 409,
  /** Another member has this peer URL. */
  PEER_URL_EXISTS: 409,
  /** The name matches a member whose peer URL is not the one given. */
  MEMBER_MISMATCH: 409,
  MEMBER_NOT_FOUND: 404,
  /** The member was removed and its id cannot come back. */
  MEMBER_REMOVED: 410,
  /** Start asked of a syncer or server that runs already. */
  ALREADY_RUNNING: 409,
  /** The call needs the leader and none is known: retry later. */
  NO_LEADER: 503,
  /** This node stopped leading while the call ran: retry (it is forwarded next time). */
  NOT_LEADER: 503,
  /** A forwarded call reached a node that does not lead either (leadership moved): retry. */
  FORWARD_LOOP: 503,
  /** The leader could not be reached or broke the connection. */
  FORWARD_FAILED: 502,
  FORWARD_TIMEOUT: 504,
  /** The node cannot do it now (a proposal timed out, the node is stopping): retry later. */
  UNAVAILABLE: 503,
  ADMIN_INTERNAL: 500,
} as const;

export type AdminErrorCode = keyof typeof ADMIN_ERROR_STATUS;

/**
 * What an admin call fails with. Backends throw it with the code that says why; the HTTP layer
 * answers with the code's status, the message in the envelope and the code in X-Kingbus-Error-Code.
 */
export class AdminError extends KingbusError {
  declare readonly code: AdminErrorCode;
  readonly status: number;

  constructor(code: AdminErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = ADMIN_ERROR_STATUS[code];
  }
}
