/**
 * Who is calling whom. Every Raft call names its sender, its intended receiver and its cluster in
 * request metadata; the receiver refuses a call meant for another node id or another cluster
 * (a recycled address, a misconfigured peer list), before reading a single message.
 */
import { Metadata } from "@grpc/grpc-js";
import { TransportError } from "./errors.ts";

const FROM = "kingbus-from";
const TO = "kingbus-to";
const CLUSTER = "kingbus-cluster";

export interface CallIdentity {
  from: number;
  to: number;
  cluster: string;
}

export function identityMetadata(identity: CallIdentity): Metadata {
  const metadata = new Metadata();
  metadata.set(FROM, String(identity.from));
  metadata.set(TO, String(identity.to));
  metadata.set(CLUSTER, identity.cluster);
  return metadata;
}

function one(metadata: Metadata, key: string): string | undefined {
  const values = metadata.get(key);
  return values.length === 1 && typeof values[0] === "string" ? values[0] : undefined;
}

function id(metadata: Metadata, key: string): number | undefined {
  const text = one(metadata, key);
  if (text === undefined || !/^[1-9][0-9]{0,15}$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** The caller's node id; throws TRANSPORT_REFUSED naming what does not match. */
export function checkIdentity(metadata: Metadata, local: { id: number; cluster: string }): number {
  const from = id(metadata, FROM);
  const to = id(metadata, TO);
  const cluster = one(metadata, CLUSTER) ?? "";
  if (from === undefined || to === undefined) {
    throw new TransportError("TRANSPORT_REFUSED", `call without valid ${FROM} and ${TO} metadata`);
  }
  if (to !== local.id) throw new TransportError("TRANSPORT_REFUSED", `call from node ${from} meant for node ${to}, this is node ${local.id}`);
  if (cluster !== local.cluster) {
    throw new TransportError("TRANSPORT_REFUSED", `call from node ${from} of cluster ${JSON.stringify(cluster)}, this is cluster ${JSON.stringify(local.cluster)}`);
  }
  if (from === local.id) throw new TransportError("TRANSPORT_REFUSED", `call from node ${from} to itself`);
  return from;
}
