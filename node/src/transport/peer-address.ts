/**
 * Peer URLs as members know them (`http://kingbus-1.kingbus-peer:9696`, `host:port`, `[::1]:9696`)
 * to the `host:port` target gRPC dials. The scheme is accepted for compatibility with the kingbus
 * HTTP API but chooses nothing: TLS is the transport's configuration, the same for every peer.
 */
import { TransportError } from "./errors.ts";

const SCHEMES = new Set(["http:", "https:", "grpc:", "grpcs:"]);

export function peerTarget(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.includes("://") ? url : `grpc://${url}`);
  } catch (cause) {
    throw new TransportError("TRANSPORT_BAD_CONFIG", `peer URL ${JSON.stringify(url)} is not host:port or scheme://host:port`, { cause });
  }
  if (!SCHEMES.has(parsed.protocol) || parsed.port === "" || parsed.hostname === "" || (parsed.pathname !== "" && parsed.pathname !== "/")
    || parsed.search !== "" || parsed.hash !== "" || parsed.username !== "" || parsed.password !== "") {
    throw new TransportError("TRANSPORT_BAD_CONFIG", `peer URL ${JSON.stringify(url)} must be host:port with an explicit port, optionally after http://, https://, grpc:// or grpcs://`);
  }
  return `${parsed.hostname}:${parsed.port}`;
}
