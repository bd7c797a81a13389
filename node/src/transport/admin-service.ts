/**
 * Typed, promise-based stubs of the kingbus.v1.Admin service: `addAdminService` serves handlers
 * on a grpc-js Server, `AdminClient` calls them. Errors cross the wire with their stable code: a
 * KingbusError thrown by a handler is FAILED_PRECONDITION carrying its code in the trailer
 * `kingbus-error-code`, and the client rethrows it as an AdminCallError with that code.
 */
import { Client, Metadata, status, type ChannelCredentials, type Server, type ServerUnaryCall, type ServiceError, type UntypedServiceImplementation, type handleUnaryCall } from "@grpc/grpc-js";
import { KingbusError } from "../errors.ts";
import type { AdminMethodName, AdminMethods, AdminRequest, AdminResponse } from "./admin-types.ts";
import { kingbusProto } from "./proto.ts";

const ERROR_CODE_KEY = "kingbus-error-code";

export type AdminHandlers = {
  [M in AdminMethodName]: (request: AdminRequest<M>, metadata: Metadata) => Promise<AdminResponse<M>>;
};

/** A failed Admin call: `code` is the server's KingbusError code, or ADMIN_<gRPC status> when there is none. */
export class AdminCallError extends KingbusError {
  readonly grpcStatus: number;

  constructor(code: string, message: string, grpcStatus: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.grpcStatus = grpcStatus;
  }
}

function toStatus(error: unknown): Partial<ServiceError> {
  if (error instanceof KingbusError) {
    const metadata = new Metadata();
    metadata.set(ERROR_CODE_KEY, error.code);
    return { code: status.FAILED_PRECONDITION, details: error.message, metadata };
  }
  return { code: status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

export function addAdminService(server: Server, handlers: AdminHandlers): void {
  const service = kingbusProto().adminService;
  const implementation: UntypedServiceImplementation = {};
  for (const name of Object.keys(service)) {
    const handler = (handlers as Record<string, ((request: unknown, metadata: Metadata) => Promise<unknown>) | undefined>)[name];
    if (handler === undefined) throw new KingbusError("ADMIN_HANDLER_MISSING", `no handler for Admin.${name}`);
    const unary: handleUnaryCall<unknown, unknown> = (call: ServerUnaryCall<unknown, unknown>, callback) => {
      handler(call.request, call.metadata).then((response) => callback(null, response), (error: unknown) => callback(toStatus(error)));
    };
    implementation[name] = unary;
  }
  server.addService(service, implementation);
}

export class AdminClient {
  readonly #client: Client;

  constructor(target: string, credentials: ChannelCredentials) {
    this.#client = new Client(target, credentials);
  }

  call<M extends AdminMethodName>(method: M, request: AdminRequest<M>, options?: { deadlineMs?: number }): Promise<AdminResponse<M>> {
    const definition = kingbusProto().adminService[method];
    if (definition === undefined) return Promise.reject(new KingbusError("ADMIN_UNKNOWN_METHOD", `Admin has no method ${method}`));
    const deadline = Date.now() + (options?.deadlineMs ?? 10_000);
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest<AdminMethods[M][0], AdminMethods[M][1]>(definition.path, definition.requestSerialize, definition.responseDeserialize, request,
        new Metadata(), { deadline }, (error, response) => {
          if (error === null) {
            resolve(response!);
            return;
          }
          const remote = error.metadata?.get(ERROR_CODE_KEY)[0];
          const code = typeof remote === "string" ? remote : `ADMIN_${status[error.code]}`;
          reject(new AdminCallError(code, `Admin.${method}: ${error.details}`, error.code, { cause: error }));
        });
    });
  }

  close(): void {
    this.#client.close();
  }
}
