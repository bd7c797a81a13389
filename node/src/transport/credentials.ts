/**
 * Mutual TLS or none. With certificate files, the server requires a client certificate signed by
 * the CA and the client verifies the server's against the same CA (and its name against the peer
 * URL's host); without them both sides speak plaintext. The files are read once, at start.
 */
import { readFileSync } from "node:fs";
import { ServerCredentials, credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { TransportError } from "./errors.ts";

export interface TlsFiles {
  /** PEM CA bundle that signs every member's certificate. */
  ca: string;
  /** PEM certificate of this member, used as server and as client. */
  cert: string;
  /** PEM private key of `cert`. */
  key: string;
}

export interface TransportCredentials {
  server: ServerCredentials;
  client: ChannelCredentials;
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new TransportError("TRANSPORT_BAD_CONFIG", `cannot read the TLS ${what} ${path}`, { cause });
  }
}

export function transportCredentials(tls: TlsFiles | undefined): TransportCredentials {
  if (tls === undefined) return { server: ServerCredentials.createInsecure(), client: credentials.createInsecure() };
  const ca = read(tls.ca, "CA");
  const cert = read(tls.cert, "certificate");
  const key = read(tls.key, "key");
  try {
    return {
      server: ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true),
      client: credentials.createSsl(ca, key, cert),
    };
  } catch (cause) {
    throw new TransportError("TRANSPORT_BAD_CONFIG", `unusable TLS files (${tls.ca}, ${tls.cert}, ${tls.key})`, { cause });
  }
}
