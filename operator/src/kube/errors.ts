/**
 * Errors from the Kubernetes API, typed by what a controller does about them: a missing object
 * (KUBE_NOT_FOUND), a lost optimistic-concurrency race or apply conflict (KUBE_CONFLICT), an
 * expired resourceVersion (KUBE_GONE: relist), a refused object (KUBE_INVALID, KUBE_BAD_REQUEST),
 * and the transient ones worth retrying (KUBE_UNAVAILABLE, KUBE_TOO_MANY_REQUESTS,
 * KUBE_SERVER_ERROR, KUBE_TIMEOUT).
 */
import { KingbusError } from "../../../node/src/errors.ts";

export type KubeErrorCode =
  | "KUBE_NOT_FOUND"
  | "KUBE_ALREADY_EXISTS"
  | "KUBE_CONFLICT"
  | "KUBE_GONE"
  | "KUBE_INVALID"
  | "KUBE_BAD_REQUEST"
  | "KUBE_UNAUTHORIZED"
  | "KUBE_FORBIDDEN"
  | "KUBE_UNSUPPORTED"
  | "KUBE_TOO_MANY_REQUESTS"
  | "KUBE_SERVER_ERROR"
  | "KUBE_TIMEOUT"
  /** The API server could not be reached, or the connection broke. */
  | "KUBE_UNAVAILABLE"
  /** The kubeconfig has no usable cluster, or an object lacks what a request needs (namespace, name). */
  | "KUBE_CONFIG";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export class KubeApiError extends KingbusError {
  declare readonly code: KubeErrorCode;
  /** The HTTP status (0 when no response arrived). */
  readonly status: number;
  /** The Status reason ("NotFound", "Conflict", "Invalid", ...), or "" without one. */
  readonly reason: string;
  readonly causes: StatusCause[];
  readonly retryAfterSeconds: number | undefined;

  constructor(code: KubeErrorCode, message: string, options: { status?: number; reason?: string; causes?: StatusCause[]; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.status = options.status ?? 0;
    this.reason = options.reason ?? "";
    this.causes = options.causes ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

function codeFor(status: number, reason: string): KubeErrorCode {
  if (status === 404) return "KUBE_NOT_FOUND";
  if (status === 409) return reason === "AlreadyExists" ? "KUBE_ALREADY_EXISTS" : "KUBE_CONFLICT";
  if (status === 410) return "KUBE_GONE";
  if (status === 422) return "KUBE_INVALID";
  if (status === 400) return "KUBE_BAD_REQUEST";
  if (status === 401) return "KUBE_UNAUTHORIZED";
  if (status === 403) return "KUBE_FORBIDDEN";
  if (status === 405 || status === 406 || status === 415) return "KUBE_UNSUPPORTED";
  if (status === 429) return "KUBE_TOO_MANY_REQUESTS";
  if (status === 504) return "KUBE_TIMEOUT";
  return "KUBE_SERVER_ERROR";
}

/** The error for a non-2xx response, from its Status body when it has one. */
export function errorFromStatus(status: number, body: unknown, what: string, retryAfter?: string): KubeApiError {
  const s = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const reason = typeof s.reason === "string" ? s.reason : "";
  const message = typeof s.message === "string" && s.message !== "" ? s.message : `${what}: HTTP ${status}`;
  const details = typeof s.details === "object" && s.details !== null ? (s.details as Record<string, unknown>) : {};
  const causes = Array.isArray(details.causes) ? (details.causes as StatusCause[]) : [];
  const retry = typeof details.retryAfterSeconds === "number" ? details.retryAfterSeconds : retryAfter !== undefined ? Number(retryAfter) : undefined;
  return new KubeApiError(codeFor(status, reason), message, { status, reason, causes, retryAfterSeconds: Number.isFinite(retry) ? retry : undefined });
}

function hasCode(e: unknown, code: KubeErrorCode): boolean {
  return e instanceof KubeApiError && e.code === code;
}

export const isNotFound = (e: unknown): boolean => hasCode(e, "KUBE_NOT_FOUND");
export const isAlreadyExists = (e: unknown): boolean => hasCode(e, "KUBE_ALREADY_EXISTS");
/** A stale resourceVersion or a server-side apply conflict. */
export const isConflict = (e: unknown): boolean => hasCode(e, "KUBE_CONFLICT");
export const isGone = (e: unknown): boolean => hasCode(e, "KUBE_GONE");
export const isInvalid = (e: unknown): boolean => hasCode(e, "KUBE_INVALID");

/** Worth retrying as is: the server was unreachable, overloaded or failed, or the request timed out. */
export function isTransient(e: unknown): boolean {
  return e instanceof KubeApiError &&
    (e.code === "KUBE_UNAVAILABLE" || e.code === "KUBE_TOO_MANY_REQUESTS" || e.code === "KUBE_SERVER_ERROR" || e.code === "KUBE_TIMEOUT");
}
