/**
 * Forwarding a leader-only call: a plain HTTP proxy of the request to the leader's admin URL, so
 * the caller gets the leader's answer byte for byte (big ids included). The guard header marks the
 * hop; a node that receives a marked call and does not lead refuses it instead of forwarding again,
 * so two nodes that each believe the other leads cannot bounce a call between them.
 */
import * as http from "node:http";
import * as https from "node:https";
import { pipeline } from "node:stream/promises";
import { AdminError } from "./errors.ts";

export const FORWARD_GUARD_HEADER = "x-kingbus-forwarded-by";

/** Request headers worth carrying to the leader: the body's type and the caller's credentials. */
const REQUEST_HEADERS = ["content-type", "authorization", "accept"] as const;
/** Response headers worth carrying back: what the envelope means. */
const RESPONSE_HEADERS = ["content-type", "content-length", "x-kingbus-error-code", "www-authenticate", "allow", "retry-after"] as const;

export interface ForwardOptions {
  /** Base URL of the leader's admin API. */
  readonly leaderAdminUrl: string;
  /** Path and query to ask the leader for, as this node routed them. */
  readonly pathAndQuery: string;
  /** Who forwards (this node's name), for the guard header and the leader's logs. */
  readonly from: string;
  readonly timeoutMs: number;
}

function reason(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : e instanceof Error ? e.message : String(e);
}

/**
 * Sends `req` (its already-read `body`) to the leader and streams the answer into `res`. Resolves
 * with the leader's status. Throws AdminError (FORWARD_FAILED, FORWARD_TIMEOUT) when nothing came
 * back, so that the caller can still answer with an envelope.
 */
export function forwardToLeader(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, options: ForwardOptions): Promise<number> {
  // Never resolve req.url itself against the leader: an absolute-form request line
  // ("GET http://elsewhere/..."), or "//elsewhere/...", would send the caller's token elsewhere.
  const target = new URL(options.leaderAdminUrl);
  const asked = new URL(options.pathAndQuery, "http://kingbus");
  target.pathname = asked.pathname;
  target.search = asked.search;
  const client = target.protocol === "https:" ? https : http;
  const headers: http.OutgoingHttpHeaders = { [FORWARD_GUARD_HEADER]: options.from, "content-length": body.length };
  for (const name of REQUEST_HEADERS) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  const signal = AbortSignal.timeout(options.timeoutMs);
  return new Promise((resolve, reject) => {
    const outgoing = client.request(target, { method: req.method, headers, signal });
    outgoing.on("error", (e) => {
      if (signal.aborted) reject(new AdminError("FORWARD_TIMEOUT", `kingbus: the leader at ${options.leaderAdminUrl} did not answer within ${options.timeoutMs} ms`, { cause: e }));
      else reject(new AdminError("FORWARD_FAILED", `kingbus: cannot reach the leader at ${options.leaderAdminUrl} (${reason(e)})`, { cause: e }));
    });
    outgoing.on("response", (upstream) => {
      const status = upstream.statusCode ?? 502;
      for (const name of RESPONSE_HEADERS) {
        const value = upstream.headers[name];
        if (value !== undefined) res.setHeader(name, value);
      }
      res.writeHead(status);
      // Once the leader's status is out, a broken stream can only cut the response short.
      pipeline(upstream, res).then(
        () => resolve(status),
        () => {
          res.destroy();
          resolve(status);
        },
      );
    });
    outgoing.end(body);
  });
}
