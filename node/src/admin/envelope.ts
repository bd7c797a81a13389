import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import { encodeJson } from "./json.ts";

export const SUCCESS = "success";
export const ERROR_CODE_HEADER = "x-kingbus-error-code";

/** Every answer of the admin API: `{"message": "success" | <error text>, "data": ...}`. */
export function sendEnvelope(res: ServerResponse, status: number, message: string, data: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = encodeJson({ message, data: data === undefined ? null : data });
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
