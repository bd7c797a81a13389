/**
 * The HTTP face of the fake API server: REST paths and verbs, discovery, bearer-token
 * authentication, watch streams (newline-delimited JSON over a chunked response), injected
 * failures and the request log.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseYaml } from "yaml";
import { ApiStatusError, badRequest, unsupportedMediaType } from "./errors.ts";
import { asObj, isObj, type Obj } from "./json.ts";
import { apiGroup, resourceList, type ResourceInfo } from "./resources.ts";
import type { DeleteOptions, PatchType, Store, WatchEvent } from "./store.ts";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

export interface RequestRecord {
  method: string;
  verb: Verb | "discovery";
  path: string;
  query: Record<string, string>;
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespace: string;
  name: string;
  subresource: string;
  contentType: string;
  fieldManager: string;
  status: number;
}

export interface FailureOptions {
  /** How many matching requests fail (default 1). */
  times?: number;
  message?: string;
  reason?: string;
  retryAfterSeconds?: number;
}

interface Failure {
  verb: Verb | "*";
  kind: string;
  status: number;
  remaining: number;
  options: FailureOptions;
}

const REASONS: Record<number, string> = {
  400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed", 409: "Conflict",
  410: "Expired", 413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid", 429: "TooManyRequests",
  500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
};

const MAX_BODY = 3 * 1024 * 1024;

const PATCH_TYPES: Record<string, PatchType> = {
  "application/merge-patch+json": "merge",
  "application/json-patch+json": "json",
  "application/strategic-merge-patch+json": "strategic",
  "application/apply-patch+yaml": "apply",
};

export interface HttpOptions {
  token: string;
  serverAddress: () => string;
}

interface Target {
  resource: ResourceInfo;
  namespace: string | undefined;
  name: string;
  subresource: string;
}

export class HttpFrontend {
  readonly requests: RequestRecord[] = [];
  latencyMs = 0;
  readonly #store: Store;
  readonly #options: HttpOptions;
  readonly #failures: Failure[] = [];
  readonly #openWatches = new Set<() => void>();

  constructor(store: Store, options: HttpOptions) {
    this.#store = store;
    this.#options = options;
  }

  failNext(verb: Verb | "*", kind: string, status: number, options: FailureOptions = {}): void {
    this.#failures.push({ verb, kind, status, remaining: options.times ?? 1, options });
  }

  /** Ends every watch stream the HTTP side holds (the store's watchers are dropped separately). */
  closeWatches(): void {
    for (const close of [...this.#openWatches]) close();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const record: RequestRecord = {
      method: req.method ?? "GET", verb: "discovery", path: url.pathname, query, group: "", version: "", resource: "", kind: "",
      namespace: "", name: "", subresource: "", contentType: (req.headers["content-type"] ?? "").split(";")[0]!.trim(),
      fieldManager: query.fieldManager ?? "", status: 0,
    };
    this.requests.push(record);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      const text = typeof body === "string" ? body : JSON.stringify(body);
      res.writeHead(status, { "Content-Type": typeof body === "string" ? "text/plain" : "application/json", ...headers });
      res.end(text);
    };
    try {
      const body = await readBody(req);
      if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
      if (req.headers.authorization !== `Bearer ${this.#options.token}`) {
        throw new ApiStatusError(401, "Unauthorized", "Unauthorized");
      }
      const discovery = this.#discovery(url.pathname);
      if (discovery !== undefined) {
        if (req.method !== "GET") throw new ApiStatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
        send(200, discovery);
        return;
      }
      const target = this.#route(url.pathname);
      const verb = this.#verb(req.method ?? "GET", target, query);
      Object.assign(record, {
        verb, group: target.resource.group, version: target.resource.version, resource: target.resource.plural,
        kind: target.resource.kind, namespace: target.namespace ?? "", name: target.name, subresource: target.subresource,
      });
      const failure = this.#takeFailure(verb, target.resource);
      if (failure !== undefined) {
        if (verb === "watch" && failure.status === 410) {
          record.status = 200;
          res.writeHead(200, { "Content-Type": "application/json" });
          res.end(`${JSON.stringify({ type: "ERROR", object: this.#failureError(failure).toStatus() })}\n`);
          return;
        }
        throw this.#failureError(failure);
      }
      if (verb === "watch") {
        this.#watch(req, res, target, query, record);
        return;
      }
      const { status, body: out } = this.#dispatch(verb, target, query, body, req);
      send(status, out);
    } catch (e) {
      const err = e instanceof ApiStatusError ? e : new ApiStatusError(500, "InternalError", `Internal error occurred: ${(e as Error).message}`);
      const headers: Record<string, string> = {};
      if (err.details?.retryAfterSeconds !== undefined) headers["Retry-After"] = String(err.details.retryAfterSeconds);
      send(err.status, err.toStatus(), headers);
    }
  }

  #failureError(f: Failure): ApiStatusError {
    const reason = f.options.reason ?? REASONS[f.status] ?? "";
    const message = f.options.message ?? `injected failure: ${reason || f.status}`;
    return new ApiStatusError(f.status, reason, message, f.options.retryAfterSeconds === undefined ? undefined : { retryAfterSeconds: f.options.retryAfterSeconds });
  }

  #takeFailure(verb: Verb, r: ResourceInfo): Failure | undefined {
    const i = this.#failures.findIndex((f) => (f.verb === "*" || f.verb === verb) &&
      (f.kind === "*" || f.kind === r.kind || f.kind === r.plural || f.kind === `${r.plural}.${r.group}`));
    if (i < 0) return undefined;
    const f = this.#failures[i]!;
    if (--f.remaining <= 0) this.#failures.splice(i, 1);
    return f;
  }

  #discovery(path: string): Obj | undefined {
    const p = path.replace(/\/+$/, "");
    const resources = this.#store.resources();
    if (p === "/version") {
      return { major: "1", minor: "33", gitVersion: "v1.33.0-kingbus-fake", gitCommit: "", gitTreeState: "clean", buildDate: "2025-01-01T00:00:00Z", goVersion: "go1.24", compiler: "gc", platform: "linux/amd64" };
    }
    if (p === "/api") {
      return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: this.#options.serverAddress() }] };
    }
    if (p === "/api/v1") return resourceList("", "v1", resources.filter((r) => r.group === "" && r.version === "v1"));
    const groups = new Map<string, string[]>();
    for (const r of resources) {
      if (r.group === "") continue;
      const vs = groups.get(r.group) ?? [];
      if (!vs.includes(r.version)) vs.push(r.version);
      groups.set(r.group, vs);
    }
    if (p === "/apis") {
      return { kind: "APIGroupList", apiVersion: "v1", groups: [...groups.entries()].map(([g, vs]) => apiGroup(g, vs)) };
    }
    const m = p.match(/^\/apis\/([^/]+)(?:\/([^/]+))?$/);
    if (m !== null) {
      const vs = groups.get(m[1]!);
      if (vs === undefined || (m[2] !== undefined && !vs.includes(m[2]))) throw new ApiStatusError(404, "NotFound", "the server could not find the requested resource");
      if (m[2] === undefined) return { kind: "APIGroup", apiVersion: "v1", ...apiGroup(m[1]!, vs) };
      return resourceList(m[1]!, m[2], resources.filter((r) => r.group === m[1] && r.version === m[2]));
    }
    return undefined;
  }

  #route(path: string): Target {
    const segs = path.split("/").filter((s) => s !== "").map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === "api" && segs.length >= 2) { group = ""; version = segs[1]!; rest = segs.slice(2); }
    else if (segs[0] === "apis" && segs.length >= 3) { group = segs[1]!; version = segs[2]!; rest = segs.slice(3); }
    else throw new ApiStatusError(404, "NotFound", "the server could not find the requested resource");
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3 && this.#store.resolve(group, version, rest[2]!)?.namespaced === true) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
    const resource = rest[0] === undefined ? undefined : this.#store.resolve(group, version, rest[0]);
    if (resource === undefined || rest.length > 3) throw new ApiStatusError(404, "NotFound", "the server could not find the requested resource");
    if (resource.namespaced && namespace === undefined && rest.length > 1) {
      throw new ApiStatusError(404, "NotFound", "the server could not find the requested resource");
    }
    return { resource, namespace, name: rest[1] ?? "", subresource: rest[2] ?? "" };
  }

  #verb(method: string, t: Target, query: Record<string, string>): Verb {
    const named = t.name !== "";
    switch (method) {
      case "GET": return named ? "get" : query.watch === "true" || query.watch === "1" ? "watch" : "list";
      case "POST": if (named) break; return "create";
      case "PUT": if (!named) break; return "update";
      case "PATCH": if (!named) break; return "patch";
      case "DELETE": return named ? "delete" : "deletecollection";
      default: break;
    }
    throw new ApiStatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  }

  #dispatch(verb: Verb, t: Target, query: Record<string, string>, raw: string, req: IncomingMessage): { status: number; body: unknown } {
    const r = t.resource;
    const ns = t.namespace ?? "";
    const actor = { fieldManager: query.fieldManager, userAgent: req.headers["user-agent"] };
    const dryRun = query.dryRun === "All";
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
    switch (verb) {
      case "get":
        if (t.subresource !== "" && !(t.subresource === "status" && r.statusSubresource)) throw new ApiStatusError(404, "NotFound", "the server could not find the requested resource");
        return { status: 200, body: this.#store.get(r, ns, t.name) };
      case "list":
        return {
          status: 200,
          body: this.#store.list(r, t.namespace, {
            labelSelector: query.labelSelector, fieldSelector: query.fieldSelector,
            limit: query.limit === undefined ? undefined : Number(query.limit), continue: query.continue,
          }),
        };
      case "create": {
        const body = decodeObject(raw, contentType);
        return { status: dryRun ? 200 : 201, body: this.#store.create(r, ns, body, actor, { dryRun, subresource: t.subresource }) };
      }
      case "update": {
        const body = decodeObject(raw, contentType);
        return { status: 200, body: this.#store.update(r, ns, t.name, body, actor, { subresource: t.subresource, dryRun }) };
      }
      case "patch": {
        const type = PATCH_TYPES[contentType];
        if (type === undefined) throw unsupportedMediaType(contentType, Object.keys(PATCH_TYPES));
        const force = query.force === undefined ? undefined : query.force === "true";
        const before = this.#exists(r, ns, t.name);
        const out = this.#store.patch(r, ns, t.name, type, raw, actor, { subresource: t.subresource, force, dryRun });
        return { status: type === "apply" && !before ? 201 : 200, body: out };
      }
      case "delete": {
        const opts = deleteOptions(raw, query);
        const out = this.#store.delete(r, ns, t.name, opts);
        return { status: out.status, body: out.body };
      }
      case "deletecollection": {
        const opts = deleteOptions(raw, query);
        return { status: 200, body: this.#store.deleteCollection(r, t.namespace, { ...opts, labelSelector: query.labelSelector, fieldSelector: query.fieldSelector }) };
      }
      default:
        throw badRequest(`unsupported verb ${verb}`);
    }
  }

  #exists(r: ResourceInfo, ns: string, name: string): boolean {
    try { this.#store.get(r, ns, name); return true; } catch { return false; }
  }

  #watch(req: IncomingMessage, res: ServerResponse, t: Target, query: Record<string, string>, record: RequestRecord): void {
    let headSent = false;
    let ended = false;
    const head = (): void => {
      if (headSent) return;
      headSent = true;
      record.status = 200;
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private", "Transfer-Encoding": "chunked" });
      res.flushHeaders();
    };
    let stop: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (abrupt: boolean): void => {
      if (ended) return;
      ended = true;
      stop();
      if (timer !== undefined) clearTimeout(timer);
      this.#openWatches.delete(cleanClose);
      if (abrupt) req.socket.destroy();
      else { head(); res.end(); }
    };
    const cleanClose = (): void => finish(false);
    const sink = {
      send: (e: WatchEvent): void => {
        if (ended) return;
        head();
        res.write(`${JSON.stringify(e)}\n`);
      },
      close: (abrupt: boolean): void => finish(abrupt),
    };
    stop = this.#store.watch(t.resource, t.namespace, {
      labelSelector: query.labelSelector, fieldSelector: query.fieldSelector, resourceVersion: query.resourceVersion,
      allowWatchBookmarks: query.allowWatchBookmarks === "true", sendInitialEvents: query.sendInitialEvents === "true",
    }, sink);
    if (ended) { stop(); return; }
    this.#openWatches.add(cleanClose);
    head();
    const timeout = Number(query.timeoutSeconds ?? "0");
    if (timeout > 0) timer = setTimeout(() => finish(false), timeout * 1000);
    res.on("close", () => finish(false));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ApiStatusError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function decodeObject(raw: string, contentType: string): Obj {
  let v: unknown;
  try {
    if (contentType === "application/json" || contentType === "") v = JSON.parse(raw);
    else if (contentType === "application/yaml") v = parseYaml(raw);
    else throw unsupportedMediaType(contentType, ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]);
  } catch (e) {
    if (e instanceof ApiStatusError) throw e;
    throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw badRequest("the body of the request is not an object");
  return v;
}

function deleteOptions(raw: string, query: Record<string, string>): DeleteOptions {
  let body: Obj = {};
  if (raw.trim() !== "") {
    try { body = asObj(JSON.parse(raw)) ?? {}; } catch { throw badRequest("couldn't decode DeleteOptions"); }
  }
  const policy = (query.propagationPolicy ?? body.propagationPolicy) as DeleteOptions["propagationPolicy"] | undefined;
  if (policy !== undefined && policy !== "Background" && policy !== "Foreground" && policy !== "Orphan") {
    throw new ApiStatusError(422, "Invalid", `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${String(policy)}": supported values: "Foreground", "Background", "Orphan", "nil"`);
  }
  const pre = asObj(body.preconditions);
  const dryRun = query.dryRun === "All" || (Array.isArray(body.dryRun) && body.dryRun.includes("All"));
  return {
    propagationPolicy: query.orphanDependents === "true" || body.orphanDependents === true ? "Orphan" : policy,
    preconditions: pre === undefined ? undefined : { uid: pre.uid as string | undefined, resourceVersion: pre.resourceVersion as string | undefined },
    dryRun,
  };
}

