/** Starting admin HTTP servers on 127.0.0.1:0 and calling them, with every log line kept. */
import { pino } from "pino";
import { AdminHttpServer, type AdminHttpServerOptions } from "../http-server.ts";
import { createNodeMetrics, type NodeMetrics } from "../metrics.ts";
import type { FakeBackend } from "./fake-backend.ts";

export interface Running {
  readonly server: AdminHttpServer;
  readonly url: string;
  readonly backend: FakeBackend;
  readonly metrics: NodeMetrics;
  /** Every log line the server wrote, raw JSON text. */
  readonly logs: string[];
  close(): Promise<void>;
}

export async function startAdmin(backend: FakeBackend, options: Partial<AdminHttpServerOptions> = {}): Promise<Running> {
  const logs: string[] = [];
  // Trace level: a password must not show up even in the most talkative lines.
  const logger = pino({ level: "trace" }, { write: (line: string) => void logs.push(line) });
  const metrics = createNodeMetrics({ processMetrics: false });
  const server = new AdminHttpServer({ backend, metrics, logger, ...options });
  const { url } = await server.listen(0, "127.0.0.1");
  return { server, url, backend, metrics, logs, close: () => server.close() };
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: { message?: unknown; data?: unknown } | undefined;
}

export async function call(base: string, method: string, path: string, init: { body?: string | object; token?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined;
  if (init.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let json: Answer["json"];
  try {
    json = JSON.parse(text) as Answer["json"];
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
