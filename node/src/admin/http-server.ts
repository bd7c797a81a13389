/**
 * The HTTP face of a node: the original kingbus admin REST API (compatible paths, verbs and JSON),
 * /metrics for Prometheus, /healthz and /readyz for Kubernetes probes. It decides nothing itself:
 * the backend answers, and leader-only calls on a follower are proxied to the leader.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import type { Registry } from "prom-client";
import { BearerAuth } from "./auth.ts";
import type { AdminBackend } from "./backend.ts";
import { ERROR_CODE_HEADER, sendEnvelope, SUCCESS } from "./envelope.ts";
import { ADMIN_ERROR_STATUS, AdminError } from "./errors.ts";
import { FORWARD_GUARD_HEADER, forwardToLeader } from "./forward.ts";
import { parseJsonExact } from "./json.ts";
import { redactingChild } from "./logger.ts";
import { evaluateReadiness } from "./readiness.ts";
import { validateBody } from "./requests.ts";
import { ADMIN_ROUTES, OPEN_PATHS, type Method, type Route, type RouteGroup } from "./routes.ts";
import { SerialQueue } from "./serial.ts";

export interface AdminHttpServerOptions {
  readonly backend: AdminBackend;
  /** The registry /metrics exposes (createNodeMetrics().registry, or the NodeMetrics itself). */
  readonly metrics: { readonly registry: Registry };
  /** When set, every admin call must carry `Authorization: Bearer <token>`; probes and /metrics stay open. */
  readonly token?: string;
  /** Redaction is added to it whatever it was configured with. Default: silent. */
  readonly logger?: Logger;
  /** This node's name: sent in the forwarding guard header and logged by the leader. */
  readonly nodeName?: string;
  /** Default 10 s, the original's admin timeout. */
  readonly forwardTimeoutMs?: number;
  /** Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Routes the node adds beside the original API (such as the test-only write API, mounted only
   * when its flag is on): same token check and envelope; the handler's value is the `data`.
   */
  readonly extraRoutes?: Readonly<Record<string, Partial<Record<Method, ExtraRoute>>>>;
}

export type ExtraRoute = (request: { query: URLSearchParams; body: Buffer }) => unknown;

const DEFAULT_FORWARD_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
const MASK = "******";
/** Passwords remembered for scrubbing: enough for every start a node sees between restarts in practice. */
const REMEMBERED_SECRETS = 32;

interface RequestLog {
  forwardedTo?: string;
  forwardedBy?: string;
  error?: { code: string; message: string };
  request?: Record<string, unknown>;
}

function scrub(text: string, secrets: readonly string[]): string {
  // Longest first, so that a password containing another is masked whole.
  return [...secrets].sort((a, b) => b.length - a.length).reduce((t, s) => t.split(s).join(MASK), text);
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    const tooLarge = () => new AdminError("ADMIN_BODY_TOO_LARGE", `kingbus: request body larger than ${max} bytes`);
    if (declared > max) {
      req.resume();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        chunks.length = 0;
        reject(tooLarge());
      } else {
        chunks.push(chunk);
      }
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function allowHeader(methods: readonly string[]): string {
  return (methods.includes("GET") ? [...methods, "HEAD"] : [...methods]).join(", ");
}

export class AdminHttpServer {
  readonly server: http.Server;
  readonly #backend: AdminBackend;
  readonly #registry: Registry;
  readonly #auth: BearerAuth | undefined;
  readonly #log: Logger;
  readonly #nodeName: string;
  readonly #forwardTimeoutMs: number;
  readonly #maxBodyBytes: number;
  readonly #extraRoutes: AdminHttpServerOptions["extraRoutes"];
  readonly #queues = new Map<RouteGroup, SerialQueue>();
  /**
   * Passwords this server handed to the backend. A later error on any call (a stop, a status)
   * may quote one the backend still holds, so every message is scrubbed of all of them.
   */
  readonly #secrets = new Set<string>();

  constructor(options: AdminHttpServerOptions) {
    this.#backend = options.backend;
    this.#registry = options.metrics.registry;
    this.#auth = options.token === undefined ? undefined : new BearerAuth(options.token);
    this.#log = redactingChild(options.logger ?? pino({ level: "silent" }), { component: "admin-http" });
    this.#nodeName = options.nodeName ?? "kingbus";
    this.#forwardTimeoutMs = options.forwardTimeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS;
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#extraRoutes = options.extraRoutes;
    this.server = http.createServer((req, res) => void this.#dispatch(req, res));
  }

  /** Listens and resolves with the bound address (port 0 picks a free one) and its base URL. */
  listen(port = 0, host = "127.0.0.1"): Promise<{ host: string; port: number; url: string }> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        const address = this.server.address() as AddressInfo;
        const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
        resolve({ host: address.address, port: address.port, url: `http://${shown}:${address.port}` });
      });
    });
  }

  /** Stops listening and ends idle keep-alive connections; resolves when the server is closed. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.close((e) => (e ? reject(e) : resolve()));
      this.server.closeIdleConnections();
    });
  }

  async #dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requested = new URL(req.url ?? "/", "http://kingbus");
    const path = requested.pathname;
    const method = req.method ?? "GET";
    const log: RequestLog = {};
    const probe = (OPEN_PATHS as readonly string[]).includes(path);
    // Test-only routes (--test-write-api) take writes at benchmark rates, thousands a second: like
    // probes, only their failures are worth a line at info.
    const quiet = probe || (this.#extraRoutes !== undefined && Object.hasOwn(this.#extraRoutes, path));
    // "close", not "finish": a forwarded answer cut short never finishes, and still deserves a line.
    res.on("close", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const line = { method, path, status: res.statusCode, ms: Math.round(ms * 1000) / 1000, ...(res.writableFinished ? {} : { aborted: true }), ...log };
      // Probes and scrapes arrive every few seconds: only their failures are worth a line at info.
      if (quiet && res.statusCode < 400) this.#log.debug(line, "admin request");
      else if (res.statusCode >= 500) this.#log.warn(line, "admin request");
      else this.#log.info(line, "admin request");
    });
    try {
      if (probe) {
        req.resume();
        await this.#serveOpen(path, method, res);
        return;
      }
      if (this.#auth !== undefined && !this.#auth.allows(req.headers)) {
        req.resume();
        throw new AdminError("ADMIN_UNAUTHORIZED", "kingbus: unauthorized (this API needs Authorization: Bearer <token>)");
      }
      const extra = this.#extraRoutes !== undefined && Object.hasOwn(this.#extraRoutes, path) ? this.#extraRoutes[path] : undefined;
      if (extra !== undefined) {
        const handler = Object.hasOwn(extra, method) ? extra[method as Method] : undefined;
        if (handler === undefined) {
          req.resume();
          res.setHeader("allow", allowHeader(Object.keys(extra)));
          throw new AdminError("ADMIN_METHOD_NOT_ALLOWED", `kingbus: method ${method} is not allowed on ${path} (allowed: ${allowHeader(Object.keys(extra))})`);
        }
        const data = await handler({ query: requested.searchParams, body: await readBody(req, this.#maxBodyBytes) });
        sendEnvelope(res, 200, SUCCESS, data);
        return;
      }
      const methods = Object.hasOwn(ADMIN_ROUTES, path) ? ADMIN_ROUTES[path] : undefined;
      if (methods === undefined) {
        req.resume();
        throw new AdminError("ADMIN_NOT_FOUND", `kingbus: no such path: ${path}`);
      }
      const verb = method === "HEAD" ? "GET" : method;
      const route = Object.hasOwn(methods, verb) ? methods[verb as Method] : undefined;
      if (route === undefined) {
        req.resume();
        res.setHeader("allow", allowHeader(Object.keys(methods)));
        throw new AdminError("ADMIN_METHOD_NOT_ALLOWED", `kingbus: method ${method} is not allowed on ${path} (allowed: ${allowHeader(Object.keys(methods))})`);
      }
      const raw = await readBody(req, this.#maxBodyBytes);
      const body = this.#validate(route, raw);
      this.#remember(route.secrets?.(body) ?? []);
      if (route.describe) log.request = route.describe(body);
      const forwardedBy = req.headers[FORWARD_GUARD_HEADER];
      if (typeof forwardedBy === "string") log.forwardedBy = forwardedBy;
      if (route.leaderOnly && (await this.#forwardIfFollower(req, res, raw, path + requested.search, typeof forwardedBy === "string", log))) return;
      const data = await this.#run(route, body);
      sendEnvelope(res, 200, SUCCESS, data);
    } catch (e) {
      this.#fail(res, e, log);
    }
  }

  #validate(route: Route, raw: Buffer): unknown {
    if (route.schema === undefined) return undefined;
    const text = raw.toString("utf8");
    if (text.trim() === "") throw new AdminError("ADMIN_BAD_REQUEST", "request body: is required (a JSON object)");
    const parsed = parseJsonExact(text);
    if (!parsed.ok) throw new AdminError("ADMIN_BAD_REQUEST", `request body: ${parsed.message}`);
    const valid = validateBody(route.schema, parsed.value);
    if (!valid.ok) throw new AdminError("ADMIN_BAD_REQUEST", valid.message);
    return valid.value;
  }

  /** True when the call went to the leader (and was answered from there). */
  async #forwardIfFollower(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer, pathAndQuery: string, alreadyForwarded: boolean, log: RequestLog): Promise<boolean> {
    const leadership = await this.#backend.leadership();
    if (leadership.isLeader) return false;
    if (alreadyForwarded) {
      throw new AdminError("FORWARD_LOOP", "kingbus: forwarded request reached a node that is not the leader either (leadership is changing); retry");
    }
    if (leadership.leaderAdminUrl === undefined) throw new AdminError("NO_LEADER", "kingbus: no leader");
    log.forwardedTo = leadership.leaderAdminUrl;
    await forwardToLeader(req, raw, res, { leaderAdminUrl: leadership.leaderAdminUrl, pathAndQuery, from: this.#nodeName, timeoutMs: this.#forwardTimeoutMs });
    return true;
  }

  #run(route: Route, body: unknown): Promise<unknown> {
    const task = () => route.run(this.#backend, body);
    if (route.group === undefined) return task();
    let queue = this.#queues.get(route.group);
    if (queue === undefined) this.#queues.set(route.group, (queue = new SerialQueue()));
    return queue.run(task);
  }

  async #serveOpen(path: string, method: string, res: http.ServerResponse): Promise<void> {
    if (method !== "GET" && method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      throw new AdminError("ADMIN_METHOD_NOT_ALLOWED", `kingbus: method ${method} is not allowed on ${path} (allowed: GET, HEAD)`);
    }
    if (path === "/healthz") {
      sendEnvelope(res, 200, SUCCESS, { status: "up" });
    } else if (path === "/readyz") {
      await this.#serveReadiness(res);
    } else {
      const text = await this.#registry.metrics();
      res.writeHead(200, { "content-type": this.#registry.contentType, "content-length": Buffer.byteLength(text) });
      res.end(text);
    }
  }

  async #serveReadiness(res: http.ServerResponse): Promise<void> {
    let facts;
    try {
      facts = await this.#backend.readiness();
    } catch (e) {
      const reason = `readiness unknown (${e instanceof Error ? e.message : String(e)})`;
      sendEnvelope(res, 503, `not ready: ${reason}`, { ready: false, reason });
      return;
    }
    const verdict = evaluateReadiness(facts);
    const data = {
      ready: verdict.ready,
      ...(verdict.ready ? {} : { reason: verdict.reason }),
      is_member: facts.isMember,
      leader_id: facts.leaderId === undefined ? null : facts.leaderId.toString(),
      applied_index: facts.appliedIndex,
      startup_commit_index: facts.startupCommitIndex ?? null,
    };
    if (verdict.ready) sendEnvelope(res, 200, SUCCESS, data);
    else sendEnvelope(res, 503, `not ready: ${verdict.reason}`, data);
  }

  #remember(secrets: readonly string[]): void {
    for (const s of secrets) {
      if (s === "") continue;
      this.#secrets.delete(s);
      this.#secrets.add(s);
      if (this.#secrets.size > REMEMBERED_SECRETS) this.#secrets.delete(this.#secrets.values().next().value!);
    }
  }

  #fail(res: http.ServerResponse, e: unknown, log: RequestLog): void {
    const known = e instanceof AdminError;
    const code = known ? e.code : "ADMIN_INTERNAL";
    const status = known ? e.status : ADMIN_ERROR_STATUS.ADMIN_INTERNAL;
    const text = known ? e.message : `kingbus: internal error: ${e instanceof Error ? e.message : String(e)}`;
    const message = scrub(text, [...this.#secrets]);
    log.error = { code, message };
    if (res.headersSent) {
      // Mid-way through a forwarded answer: all that is left is to cut it.
      res.destroy();
      return;
    }
    const headers: http.OutgoingHttpHeaders = { [ERROR_CODE_HEADER]: code };
    if (code === "ADMIN_UNAUTHORIZED") headers["www-authenticate"] = 'Bearer realm="kingbus"';
    if (status === 503) headers["retry-after"] = "1";
    if (code === "ADMIN_BODY_TOO_LARGE") headers.connection = "close";
    sendEnvelope(res, status, message, null, headers);
  }
}
