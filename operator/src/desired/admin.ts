/**
 * What the operator tells the pods through their admin API, computed from the spec and the Secrets
 * it names: the admin token Secret itself, the body of `PUT /binlog/syncer/start` (sent to any
 * member, forwarded to the leader) and of `PUT /binlog/server/start` (sent to every member).
 * Bodies follow docs/admin-api.md.
 */
import { createHash } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import { ClusterSpecError } from "../api/errors.ts";
import type { KingbusCluster, SecretReference } from "../api/kingbus-cluster.ts";
import { clusterNames, commonLabels, ownerReference } from "./names.ts";
import { ADMIN_TOKEN_KEY } from "./statefulset.ts";

export type SecretManifest = V1Secret & { apiVersion: "v1"; kind: "Secret" };

const TOKEN = /^[\x21-\x7e]+$/;

/**
 * The Secret holding the admin token every member requires and the operator presents. The token is
 * random, so the controller creates this Secret once (when it is missing) and never re-applies it.
 */
export function desiredAdminTokenSecret(cluster: KingbusCluster, token: string): SecretManifest {
  if (!TOKEN.test(token)) throw new RangeError("the admin token must be non-empty printable ASCII without spaces");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: clusterNames(cluster).adminTokenSecret,
      namespace: cluster.metadata.namespace,
      labels: commonLabels(cluster, "admin-token"),
      ownerReferences: [ownerReference(cluster)],
    },
    type: "Opaque",
    stringData: { [ADMIN_TOKEN_KEY]: token },
  };
}

/** The admin token in the cluster's token Secret, or undefined when it holds none. */
export function adminTokenOf(secret: V1Secret | undefined): string | undefined {
  const data = secret?.data?.[ADMIN_TOKEN_KEY];
  const token = data === undefined ? secret?.stringData?.[ADMIN_TOKEN_KEY] : Buffer.from(data, "base64").toString("utf8");
  return token !== undefined && TOKEN.test(token) ? token : undefined;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/**
 * The user and password a Secret holds under the reference's keys. Throws ClusterSpecError naming
 * the missing key (never a value).
 */
export function credentialsFrom(secret: V1Secret, ref: SecretReference, field: string): Credentials {
  const read = (key: string): string | undefined => {
    const data = secret.data?.[key];
    return data === undefined ? secret.stringData?.[key] : Buffer.from(data, "base64").toString("utf8");
  };
  const username = read(ref.usernameKey);
  const password = read(ref.passwordKey);
  const issues = [];
  if (username === undefined || username === "") issues.push({ path: `${field}.usernameKey`, message: `Secret ${ref.name} has no key ${ref.usernameKey}` });
  if (password === undefined) issues.push({ path: `${field}.passwordKey`, message: `Secret ${ref.name} has no key ${ref.passwordKey}` });
  if (issues.length > 0) throw new ClusterSpecError(issues);
  return { username: username!, password: password! };
}

/** RFC 4122 version 5 (SHA-1, name-based) UUID. */
function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ""), "hex");
  const bytes = createHash("sha1").update(ns).update(name, "utf8").digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A fixed namespace for kingbus's derived UUIDs. */
const KINGBUS_UUID_NAMESPACE = "4f1c1b9e-6a55-4d0e-9d87-6f1e7b2f0c21";

/**
 * The server_uuid the syncer presents to the primary: spec.syncer.serverUuid, else one derived from
 * the resource's uid (stable for the resource's life, distinct between clusters).
 */
export function syncerUuid(cluster: KingbusCluster): string {
  return cluster.spec.syncer.serverUuid ?? uuidV5(KINGBUS_UUID_NAMESPACE, `syncer/${cluster.metadata.uid}`);
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Body of `PUT /binlog/syncer/start` (docs/admin-api.md). */
export interface SyncerStartRequest {
  readonly syncer_id: number;
  readonly syncer_uuid: string;
  readonly mysql_addr: string;
  readonly mysql_user: string;
  readonly mysql_password: string;
  readonly semi_sync: boolean;
  readonly heartbeat_period?: number;
}

/** The syncer's start request, or undefined when spec.syncer is not enabled. */
export function syncerStartRequest(cluster: KingbusCluster, credentials: Credentials): SyncerStartRequest | undefined {
  const s = cluster.spec.syncer;
  if (!s.enabled) return undefined;
  if (s.source === undefined || s.serverId === undefined) {
    throw new ClusterSpecError([{ path: "spec.syncer", message: "an enabled syncer needs source and serverId" }]);
  }
  return {
    syncer_id: s.serverId,
    syncer_uuid: syncerUuid(cluster),
    mysql_addr: hostPort(s.source.host, s.source.port),
    mysql_user: credentials.username,
    mysql_password: credentials.password,
    semi_sync: s.semiSync,
    ...(s.heartbeatPeriodSeconds === undefined ? {} : { heartbeat_period: s.heartbeatPeriodSeconds }),
  };
}

/** Body of `PUT /binlog/server/start` (docs/admin-api.md). */
export interface ServerStartRequest {
  readonly addr: string;
  readonly user: string;
  readonly password: string;
}

/** The binlog server's start request for every member, or undefined when spec.server is not enabled. */
export function serverStartRequest(cluster: KingbusCluster, credentials: Credentials): ServerStartRequest | undefined {
  const s = cluster.spec.server;
  if (!s.enabled) return undefined;
  if (credentials.password === "") throw new ClusterSpecError([{ path: "spec.server.usersSecret", message: "the password must not be empty (replicas must authenticate)" }]);
  return { addr: `0.0.0.0:${s.port}`, user: credentials.username, password: credentials.password };
}
