/**
 * API errors as the Kubernetes API server reports them: a `Status` object with `reason`, `code`,
 * `details` and, for validation errors, one cause per field, with the same message formats as
 * k8s.io/apimachinery (field.Error.Error(), StatusError messages).
 */
import { KingbusError } from "../../../node/src/errors.ts";
import type { Obj } from "./json.ts";

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export class ApiStatusError extends KingbusError {
  readonly status: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;

  constructor(status: number, reason: string, message: string, details?: StatusDetails) {
    super("FAKE_APISERVER_STATUS", message);
    this.status = status;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): Obj {
    const s: Obj = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: this.message };
    if (this.reason !== "") s.reason = this.reason;
    if (this.details !== undefined) s.details = this.details;
    s.code = this.status;
    return s;
  }
}

/** What an error names: the resource's plural and group, as in `statefulsets.apps "web" not found`. */
export interface ResourceName {
  plural: string;
  group: string;
  kind: string;
}

function qualified(r: ResourceName): string {
  return r.group === "" ? r.plural : `${r.plural}.${r.group}`;
}

export function notFound(r: ResourceName, name: string): ApiStatusError {
  return new ApiStatusError(404, "NotFound", `${qualified(r)} "${name}" not found`, {
    name, group: r.group === "" ? undefined : r.group, kind: r.plural,
  });
}

export function alreadyExists(r: ResourceName, name: string): ApiStatusError {
  return new ApiStatusError(409, "AlreadyExists", `${qualified(r)} "${name}" already exists`, {
    name, group: r.group === "" ? undefined : r.group, kind: r.plural,
  });
}

export const OPTIMISTIC_LOCK_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again";

export function conflict(r: ResourceName, name: string, why: string = OPTIMISTIC_LOCK_MESSAGE, causes?: StatusCause[]): ApiStatusError {
  return new ApiStatusError(409, "Conflict", `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`, {
    name, group: r.group === "" ? undefined : r.group, kind: r.plural, causes,
  });
}

export function badRequest(message: string): ApiStatusError {
  return new ApiStatusError(400, "BadRequest", message);
}

export function gone(message: string): ApiStatusError {
  return new ApiStatusError(410, "Expired", message);
}

export function methodNotSupported(r: ResourceName, action: string): ApiStatusError {
  return new ApiStatusError(405, "MethodNotAllowed", `${action} is not supported on resources of kind "${qualified(r)}"`, {
    group: r.group === "" ? undefined : r.group, kind: r.plural,
  });
}

export function unsupportedMediaType(contentType: string, accepted: string[]): ApiStatusError {
  return new ApiStatusError(415, "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
    { causes: [{ reason: "UnexpectedServerResponse", message: contentType }] });
}

export function internalError(message: string): ApiStatusError {
  return new ApiStatusError(500, "InternalError", `Internal error occurred: ${message}`, {
    causes: [{ message }],
  });
}

/** A field error, formatted as k8s.io/apimachinery/pkg/util/validation/field.Error. */
export type FieldErrorType = "Required" | "Invalid" | "Forbidden" | "NotFound" | "Duplicate" | "NotSupported" | "TooLong" | "TooMany" | "TypeInvalid";

export interface FieldError {
  type: FieldErrorType;
  field: string;
  value?: unknown;
  detail?: string;
}

const TYPE_TEXT: Record<FieldErrorType, [string, string]> = {
  Required: ["Required value", "FieldValueRequired"],
  Invalid: ["Invalid value", "FieldValueInvalid"],
  Forbidden: ["Forbidden", "FieldValueForbidden"],
  NotFound: ["Not found", "FieldValueNotFound"],
  Duplicate: ["Duplicate value", "FieldValueDuplicate"],
  NotSupported: ["Unsupported value", "FieldValueNotSupported"],
  TooLong: ["Too long", "FieldValueTooLong"],
  TooMany: ["Too many", "FieldValueTooMany"],
  TypeInvalid: ["Invalid value", "FieldValueTypeInvalid"],
};

const SHOWS_VALUE: ReadonlySet<FieldErrorType> = new Set(["Invalid", "NotFound", "Duplicate", "NotSupported", "TypeInvalid"]);

function goValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v) ?? "null";
}

/** The body of the error without the field: "Required value", `Invalid value: "x": detail`. */
export function fieldErrorBody(e: FieldError): string {
  let s = TYPE_TEXT[e.type][0];
  if (SHOWS_VALUE.has(e.type) && e.value !== undefined) s += `: ${goValue(e.value)}`;
  if (e.detail !== undefined && e.detail !== "") s += `: ${e.detail}`;
  return s;
}

export function fieldErrorText(e: FieldError): string {
  return `${e.field}: ${fieldErrorBody(e)}`;
}

/** 422 Invalid: `StatefulSet.apps "web" is invalid: spec.selector: Required value`. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): ApiStatusError {
  const texts = errors.map(fieldErrorText);
  const list = texts.length === 1 ? texts[0]! : `[${texts.join(", ")}]`;
  const qualifiedKind = group === "" ? kind : `${kind}.${group}`;
  return new ApiStatusError(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${list}`, {
    name, group: group === "" ? undefined : group, kind,
    causes: errors.map((e) => ({ reason: TYPE_TEXT[e.type][1], message: fieldErrorBody(e), field: e.field })),
  });
}

export function fieldPath(base: string, ...parts: (string | number)[]): string {
  let s = base;
  for (const p of parts) s = typeof p === "number" ? `${s}[${p}]` : s === "" ? p : `${s}.${p}`;
  return s;
}
