/**
 * Rules that tie fields together. They run on a configuration whose fields are each valid, so
 * they can compare values without re-checking types; every broken rule becomes one issue.
 */
import { formatHostPort, isWildcardHost, normalizeBaseUrl, type HostPort } from "./addresses.ts";
import type { ConfigIssue } from "./errors.ts";
import type { ParsedNodeConfig } from "./schema.ts";

function collides(a: HostPort, b: HostPort): boolean {
  if (a.port === 0 || b.port === 0 || a.port !== b.port) return false;
  return a.host === b.host || isWildcardHost(a.host) || isWildcardHost(b.host);
}

function checkMode(c: ParsedNodeConfig, issues: ConfigIssue[]): void {
  if (c.initialCluster === undefined && c.join === undefined) {
    issues.push({ path: "initialCluster", message: "is required unless join is set (initialCluster bootstraps a new cluster, join enters a running one)" });
  }
  if (c.initialCluster !== undefined && c.join !== undefined) {
    issues.push({ path: "join", message: "cannot be combined with initialCluster; set one of them" });
  }
  if (c.adminToken !== undefined && c.adminTokenFile !== undefined) {
    issues.push({ path: "adminTokenFile", message: "cannot be combined with adminToken; set one of them" });
  }
  if (c.join !== undefined) {
    if (c.advertise.peerUrl === undefined) issues.push({ path: "advertise.peerUrl", message: "is required with join (the cluster must learn how to reach this node)" });
    if (c.advertise.adminUrl === undefined) issues.push({ path: "advertise.adminUrl", message: "is required with join (the cluster must learn how to reach this node)" });
  }
}

function checkInitialCluster(c: ParsedNodeConfig, issues: ConfigIssue[]): void {
  const members = c.initialCluster;
  if (members === undefined) return;
  for (const field of ["id", "name", "peerUrl", "adminUrl"] as const) {
    const firstAt = new Map<string | number, number>();
    members.forEach((m, i) => {
      const raw = m[field];
      const value = typeof raw === "string" ? normalizeBaseUrl(raw) : raw;
      const first = firstAt.get(value);
      if (first === undefined) firstAt.set(value, i);
      else issues.push({ path: `initialCluster[${i}].${field}`, message: `duplicates initialCluster[${first}].${field} (${value})` });
    });
  }
  const self = members.findIndex((m) => m.id === c.id);
  if (self < 0) {
    issues.push({ path: "initialCluster", message: `must include this node (no member has id ${c.id})` });
    return;
  }
  const entry = members[self]!;
  if (entry.name !== c.name) issues.push({ path: "name", message: `must equal the name of this node's entry initialCluster[${self}] (got "${c.name}", entry has "${entry.name}")` });
  if (c.advertise.peerUrl !== undefined && normalizeBaseUrl(c.advertise.peerUrl) !== normalizeBaseUrl(entry.peerUrl)) {
    issues.push({ path: "advertise.peerUrl", message: `must equal initialCluster[${self}].peerUrl when both are set (got ${c.advertise.peerUrl}, entry has ${entry.peerUrl})` });
  }
  if (c.advertise.adminUrl !== undefined && normalizeBaseUrl(c.advertise.adminUrl) !== normalizeBaseUrl(entry.adminUrl)) {
    issues.push({ path: "advertise.adminUrl", message: `must equal initialCluster[${self}].adminUrl when both are set (got ${c.advertise.adminUrl}, entry has ${entry.adminUrl})` });
  }
}

function checkListeners(c: ParsedNodeConfig, issues: ConfigIssue[]): void {
  // gRPC and node:http cannot share a socket; the two gRPC services can (one server).
  const { http, peer } = c.listen;
  const admin = c.listen.admin ?? peer;
  if (collides(http, peer)) issues.push({ path: "listen.http", message: `must not use the port of listen.peer (${formatHostPort(http)} and ${formatHostPort(peer)})` });
  else if (collides(http, admin)) issues.push({ path: "listen.http", message: `must not use the port of listen.admin (${formatHostPort(http)} and ${formatHostPort(admin)})` });
}

function checkTls(c: ParsedNodeConfig, issues: ConfigIssue[]): void {
  const tls = c.peerTls;
  if (tls !== undefined) {
    for (const part of ["ca", "cert", "key"] as const) {
      if (tls[part] === undefined) issues.push({ path: `peerTls.${part}`, message: "is required when peerTls is set (mutual TLS needs ca, cert and key)" });
    }
  }
  // The scheme says how to dial a peer; a cluster half on TLS cannot talk to itself.
  const scheme = tls === undefined ? "http:" : "https:";
  const why = tls === undefined ? "http:// when peerTls is not set" : "https:// when peerTls is set";
  const peerUrls: [string, string | undefined][] = [
    ["advertise.peerUrl", c.advertise.peerUrl],
    ...(c.initialCluster ?? []).map((m, i): [string, string] => [`initialCluster[${i}].peerUrl`, m.peerUrl]),
  ];
  for (const [path, url] of peerUrls) {
    if (url !== undefined && new URL(url).protocol !== scheme) issues.push({ path, message: `must use ${why}` });
  }
}

function checkRaftAndStorage(c: ParsedNodeConfig, issues: ConfigIssue[]): void {
  const { electionTicks, heartbeatTicks } = c.raft;
  if (electionTicks <= heartbeatTicks) {
    issues.push({ path: "raft.electionTicks", message: `must be greater than raft.heartbeatTicks (got ${electionTicks} <= ${heartbeatTicks})` });
  }
  const { segmentBytes, retentionMaxBytes } = c.storage;
  if (retentionMaxBytes !== undefined && retentionMaxBytes < segmentBytes) {
    issues.push({ path: "storage.retentionMaxBytes", message: `must be at least storage.segmentBytes (got ${retentionMaxBytes} < ${segmentBytes})` });
  }
}

/** Every rule across fields that the configuration breaks. */
export function crossFieldIssues(c: ParsedNodeConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  checkMode(c, issues);
  checkInitialCluster(c, issues);
  checkListeners(c, issues);
  checkTls(c, issues);
  checkRaftAndStorage(c, issues);
  return issues;
}
