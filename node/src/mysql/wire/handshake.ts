/**
 * The connection phase: the server's Handshake v10, the client's HandshakeResponse41 and the
 * AuthSwitchRequest. Encoders and decoders of both sides, so tests (and a raw client) can speak
 * it too.
 *
 * Handshake v10: u8 10, NUL-terminated server version, u32 connection id, 8 bytes of scramble,
 * u8 0, u16 capabilities (low), u8 collation, u16 status, u16 capabilities (high), u8 length of
 * the auth data, 6 zero bytes, 4 bytes MariaDB extended capabilities (zero: we set
 * CLIENT_LONG_PASSWORD, i.e. "MySQL", so MariaDB clients do not read them), the rest of the
 * scramble NUL-terminated (12 + 1 bytes), the auth plugin's name NUL-terminated.
 */
import { ByteReader, ByteWriter } from "../../binlog/bytes.ts";
import { SCRAMBLE_LENGTH } from "./auth.ts";
import { Capability, NATIVE_PASSWORD_PLUGIN, PacketHeader, ServerStatus } from "./constants.ts";
import { WireError } from "./errors.ts";
import { parsing, readLenencBytes, readNulString, writeLenencString, writeNulString } from "./messages.ts";

export interface HandshakeV10 {
  serverVersion: string;
  connectionId: number;
  /** 20 bytes. */
  scramble: Buffer;
  capabilities: number;
  collation: number;
  status?: number;
  authPlugin: string;
}

export function encodeHandshakeV10(h: HandshakeV10): Buffer {
  const w = new ByteWriter().u8(10);
  writeNulString(w, h.serverVersion);
  w.u32(h.connectionId)
    .bytes(h.scramble.subarray(0, 8))
    .u8(0)
    .u16(h.capabilities & 0xffff)
    .u8(h.collation)
    .u16(h.status ?? ServerStatus.AUTOCOMMIT)
    .u16((h.capabilities >>> 16) & 0xffff)
    .u8(h.scramble.length + 1)
    .bytes(Buffer.alloc(10));
  writeNulString(w, h.scramble.subarray(8));
  writeNulString(w, h.authPlugin);
  return w.toBuffer();
}

export function decodeHandshakeV10(payload: Buffer): HandshakeV10 {
  return parsing("handshake", () => {
    const r = new ByteReader(payload);
    if (payload[0] === PacketHeader.ERR) throw new WireError("WIRE_MALFORMED", "the server refused the connection");
    const protocol = r.u8("protocol version");
    if (protocol !== 10) throw new WireError("WIRE_MALFORMED", `handshake protocol ${protocol}, expected 10`);
    const serverVersion = readNulString(r, "server version").toString("latin1");
    const connectionId = r.u32("connection id");
    const part1 = r.take(8, "scramble");
    r.u8("filler");
    let capabilities = r.u16("capabilities");
    const collation = r.u8("collation");
    const status = r.u16("status");
    capabilities |= r.u16("capabilities") << 16;
    const authLength = r.u8("auth data length");
    r.take(10, "reserved");
    const part2Length = Math.max(13, authLength - 8);
    const part2 = r.take(Math.min(part2Length, r.remaining), "scramble");
    const scramble = Buffer.concat([part1, part2.subarray(0, Math.max(0, Math.min(part2.length, SCRAMBLE_LENGTH - 8)))]);
    const authPlugin = r.remaining > 0 ? readNulStringLenient(r) : NATIVE_PASSWORD_PLUGIN;
    return { serverVersion, connectionId, scramble, capabilities: capabilities >>> 0, collation, status, authPlugin };
  });
}

/** Some servers leave out the NUL after the plugin name. */
function readNulStringLenient(r: ByteReader): string {
  const end = r.bytes.indexOf(0, r.pos);
  const stop = end < 0 || end > r.end ? r.end : end;
  const value = r.bytes.subarray(r.pos, stop).toString("latin1");
  r.pos = Math.min(r.end, stop + 1);
  return value;
}

export interface HandshakeResponse {
  capabilities: number;
  maxPacketSize: number;
  collation: number;
  user: string;
  authResponse: Buffer;
  database?: string;
  /** The plugin the client used for authResponse ("" when it did not say). */
  authPlugin: string;
  attributes: Map<string, string>;
}

/** The client asked for TLS: a 32-byte SSLRequest instead of a full response. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === 32 && (payload.readUInt32LE(0) & Capability.SSL) !== 0;
}

export function decodeHandshakeResponse(payload: Buffer): HandshakeResponse {
  return parsing("handshake response", () => {
    const r = new ByteReader(payload);
    const capabilities = r.u32("capabilities");
    if (!(capabilities & Capability.PROTOCOL_41)) {
      throw new WireError("WIRE_MALFORMED", "the client does not speak protocol 4.1 (CLIENT_PROTOCOL_41 unset)");
    }
    const maxPacketSize = r.u32("max packet size");
    const collation = r.u8("collation");
    r.take(23, "filler");
    const user = readNulString(r, "user name").toString("utf8");
    let authResponse: Buffer;
    if (capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = readLenencBytes(r, "auth response");
    else if (capabilities & Capability.SECURE_CONNECTION) authResponse = r.take(r.u8("auth response length"), "auth response");
    else authResponse = readNulString(r, "auth response");
    let database: string | undefined;
    if (capabilities & Capability.CONNECT_WITH_DB && r.remaining > 0) database = readNulString(r, "database").toString("utf8");
    let authPlugin = "";
    if (capabilities & Capability.PLUGIN_AUTH && r.remaining > 0) authPlugin = readNulStringLenient(r);
    const attributes = new Map<string, string>();
    if (capabilities & Capability.CONNECT_ATTRS && r.remaining > 0) {
      const length = r.lenencNumber("attributes length");
      const end = r.pos + length;
      if (end > r.end) throw new WireError("WIRE_MALFORMED", "connection attributes run past the packet");
      while (r.pos < end) {
        const key = readLenencBytes(r, "attribute name").toString("utf8");
        attributes.set(key, readLenencBytes(r, "attribute value").toString("utf8"));
      }
    }
    return {
      capabilities: capabilities >>> 0,
      maxPacketSize,
      collation,
      user,
      authResponse: Buffer.from(authResponse),
      ...(database === undefined ? {} : { database }),
      authPlugin,
      attributes,
    };
  });
}

export function encodeHandshakeResponse(h: Omit<HandshakeResponse, "attributes"> & { attributes?: Map<string, string> }): Buffer {
  const w = new ByteWriter().u32(h.capabilities >>> 0).u32(h.maxPacketSize).u8(h.collation).bytes(Buffer.alloc(23));
  writeNulString(w, h.user);
  if (h.capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) writeLenencString(w, h.authResponse);
  else w.u8(h.authResponse.length).bytes(h.authResponse);
  if (h.capabilities & Capability.CONNECT_WITH_DB) writeNulString(w, h.database ?? "");
  if (h.capabilities & Capability.PLUGIN_AUTH) writeNulString(w, h.authPlugin);
  if (h.capabilities & Capability.CONNECT_ATTRS) {
    const attrs = new ByteWriter();
    for (const [key, value] of h.attributes ?? []) {
      writeLenencString(attrs, key);
      writeLenencString(attrs, value);
    }
    writeLenencString(w, attrs.toBuffer());
  }
  return w.toBuffer();
}

/** AuthSwitchRequest: 0xFE, plugin name NUL-terminated, the plugin's data (scramble + NUL). */
export function encodeAuthSwitchRequest(plugin: string, scramble: Buffer): Buffer {
  const w = new ByteWriter().u8(PacketHeader.AUTH_SWITCH);
  writeNulString(w, plugin);
  return writeNulString(w, scramble).toBuffer();
}

export function decodeAuthSwitchRequest(payload: Buffer): { plugin: string; data: Buffer } {
  return parsing("auth switch request", () => {
    const r = new ByteReader(payload);
    if (r.u8() !== PacketHeader.AUTH_SWITCH) throw new WireError("WIRE_MALFORMED", "not an auth switch request");
    const plugin = readNulString(r, "plugin name").toString("latin1");
    let data = r.rest();
    if (data.length > 0 && data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
    return { plugin, data: Buffer.from(data) };
  });
}
