/**
 * The original kingbus admin API, route by route: verb, path, body schema, whether the original
 * forwarded it to the leader, and what the answer's data is. Nothing here touches HTTP.
 */
import type { z } from "zod";
import type { AdminBackend } from "./backend.ts";
import { requestSchemas } from "./requests.ts";
import { clusterView, memberListView, serverStatusView, syncerStatusView } from "./views.ts";

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** Mutations of one group run one at a time, as the original's per-handler mutex made them. */
export type RouteGroup = "members" | "syncer" | "server";

export interface Route<T = unknown> {
  readonly schema?: z.ZodType<T>;
  /** Forwarded to the leader when this node does not lead (as the original did). */
  readonly leaderOnly: boolean;
  /** Set on mutations: serialised with the other mutations of the group. */
  readonly group?: RouteGroup;
  /** Passwords in the validated body: scrubbed from any message and never logged. */
  readonly secrets?: (body: T) => string[];
  /** Safe to log: what was asked, passwords left out. */
  readonly describe?: (body: T) => Record<string, unknown>;
  run(backend: AdminBackend, body: T): Promise<unknown>;
}

function route<T>(r: Route<T>): Route {
  return r as Route;
}

export const ADMIN_ROUTES: Readonly<Record<string, Partial<Record<Method, Route>>>> = {
  "/cluster": {
    GET: route({ leaderOnly: false, run: async (b) => clusterView(await b.members()) }),
  },
  "/members": {
    // The original also listed members here; kept for scripts that use it.
    GET: route({ leaderOnly: false, run: async (b) => memberListView(await b.members()) }),
    POST: route({
      schema: requestSchemas.addMember,
      leaderOnly: true,
      group: "members",
      describe: (m) => ({ member: { id: m.id, name: m.name, peerUrl: m.peerUrl, adminUrl: m.adminUrl } }),
      run: async (b, m) => memberListView(await b.addMember(m)),
    }),
    PUT: route({
      schema: requestSchemas.updateMember,
      leaderOnly: true,
      group: "members",
      describe: (m) => ({ member: { name: m.name, newPeerUrl: m.newPeerUrl } }),
      run: async (b, m) => memberListView(await b.updateMember(m)),
    }),
    DELETE: route({
      schema: requestSchemas.removeMember,
      leaderOnly: true,
      group: "members",
      describe: (m) => ({ member: { name: m.name, peerUrl: m.peerUrl } }),
      run: async (b, m) => memberListView(await b.removeMember(m)),
    }),
  },
  "/binlog/syncer/start": {
    PUT: route({
      schema: requestSchemas.startSyncer,
      leaderOnly: true,
      group: "syncer",
      secrets: (c) => [c.mysqlPassword],
      describe: (c) => ({ syncer: { syncerId: c.syncerId, syncerUuid: c.syncerUuid, mysqlAddr: c.mysqlAddr, mysqlUser: c.mysqlUser, semiSync: c.semiSync, heartbeatPeriodMs: c.heartbeatPeriodMs } }),
      run: async (b, c) => {
        await b.startSyncer(c);
        return "";
      },
    }),
  },
  "/binlog/syncer/stop": {
    PUT: route({
      leaderOnly: true,
      group: "syncer",
      run: async (b) => {
        await b.stopSyncer();
        return "";
      },
    }),
  },
  "/binlog/syncer/status": {
    GET: route({ leaderOnly: true, run: async (b) => syncerStatusView(await b.syncerStatus()) }),
  },
  "/binlog/server/start": {
    PUT: route({
      schema: requestSchemas.startServer,
      leaderOnly: false,
      group: "server",
      secrets: (c) => [c.password],
      describe: (c) => ({ server: { addr: c.addr, user: c.user } }),
      run: async (b, c) => {
        await b.startServer(c);
        return "";
      },
    }),
  },
  "/binlog/server/stop": {
    PUT: route({
      leaderOnly: false,
      group: "server",
      run: async (b) => {
        await b.stopServer();
        return "";
      },
    }),
  },
  "/binlog/server/status": {
    GET: route({ leaderOnly: false, run: async (b) => serverStatusView(await b.serverStatus()) }),
  },
};

/** Left open when a token is configured: probes and Prometheus carry no credentials. */
export const OPEN_PATHS = ["/metrics", "/healthz", "/readyz"] as const;
