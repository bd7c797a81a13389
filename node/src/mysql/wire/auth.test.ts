import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatNativePasswordHash, generateScramble, nativePasswordHash, nativePasswordToken, SCRAMBLE_LENGTH, verifyNativePassword } from "./auth.ts";
import { Capability, NATIVE_PASSWORD_PLUGIN, SERVER_CAPABILITIES } from "./constants.ts";
import {
  decodeAuthSwitchRequest,
  decodeHandshakeResponse,
  decodeHandshakeV10,
  encodeAuthSwitchRequest,
  encodeHandshakeResponse,
  encodeHandshakeV10,
  isSslRequest,
} from "./handshake.ts";
import { decodeErr, decodeOk, encodeErr, encodeOk, encodeResultSet, isEofPacket } from "./messages.ts";
import { ServerErrorKind } from "./errors.ts";

test("the stored hash is MySQL's PASSWORD(): SHA1(SHA1(password))", () => {
  // Known values: SELECT PASSWORD('password'), PASSWORD('secret') on MySQL 5.7 / MariaDB.
  assert.equal(formatNativePasswordHash(nativePasswordHash("password")!), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
  assert.equal(formatNativePasswordHash(nativePasswordHash("secret")!), "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7");
  assert.equal(nativePasswordHash(""), undefined);
});

test("scrambles are 20 bytes, 7-bit, never NUL or '$', and differ each time", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const s = generateScramble();
    assert.equal(s.length, SCRAMBLE_LENGTH);
    for (const b of s) assert.ok(b > 0 && b < 0x80 && b !== 0x24, `byte ${b}`);
    seen.add(s.toString("hex"));
  }
  assert.equal(seen.size, 200);
});

test("native password: the right password passes, any other fails", () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 40 }), (password, other) => {
      const scramble = generateScramble();
      const stored = nativePasswordHash(password);
      assert.equal(verifyNativePassword(nativePasswordToken(password, scramble), scramble, stored), true);
      if (other !== password) assert.equal(verifyNativePassword(nativePasswordToken(other, scramble), scramble, stored), false);
      // A token for another scramble (a replay) fails.
      assert.equal(verifyNativePassword(nativePasswordToken(password, generateScramble()), scramble, stored), false);
    }),
    { numRuns: 200 },
  );
  // Empty password: an empty token, and only that.
  const scramble = generateScramble();
  assert.equal(nativePasswordToken("", scramble).length, 0);
  assert.equal(verifyNativePassword(Buffer.alloc(0), scramble, undefined), true);
  assert.equal(verifyNativePassword(nativePasswordToken("x", scramble), scramble, undefined), false);
  assert.equal(verifyNativePassword(Buffer.alloc(0), scramble, nativePasswordHash("x")), false);
  assert.equal(verifyNativePassword(Buffer.alloc(19), scramble, nativePasswordHash("x")), false);
});

test("handshake v10, handshake response and auth switch round-trip", () => {
  const scramble = generateScramble();
  const greeting = encodeHandshakeV10({ serverVersion: "5.5.5-10.11.19-MariaDB-log", connectionId: 77, scramble, capabilities: SERVER_CAPABILITIES, collation: 45, authPlugin: NATIVE_PASSWORD_PLUGIN });
  assert.equal(greeting[0], 10);
  const decoded = decodeHandshakeV10(greeting);
  assert.equal(decoded.serverVersion, "5.5.5-10.11.19-MariaDB-log");
  assert.equal(decoded.connectionId, 77);
  assert.ok(decoded.scramble.equals(scramble));
  assert.equal(decoded.capabilities, SERVER_CAPABILITIES >>> 0);
  assert.equal(decoded.authPlugin, NATIVE_PASSWORD_PLUGIN);
  assert.equal(decoded.capabilities & Capability.SSL, 0, "no TLS offered");

  const caps = Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH | Capability.CONNECT_WITH_DB | Capability.CONNECT_ATTRS | Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA;
  const token = nativePasswordToken("pw", scramble);
  const response = encodeHandshakeResponse({
    capabilities: caps,
    maxPacketSize: 1 << 24,
    collation: 33,
    user: "repl",
    authResponse: token,
    database: "db1",
    authPlugin: "caching_sha2_password",
    attributes: new Map([["_client_name", "libmariadb"], ["program_name", "mariadb"]]),
  });
  const back = decodeHandshakeResponse(response);
  assert.equal(back.user, "repl");
  assert.ok(back.authResponse.equals(token));
  assert.equal(back.database, "db1");
  assert.equal(back.authPlugin, "caching_sha2_password");
  assert.deepEqual([...back.attributes], [["_client_name", "libmariadb"], ["program_name", "mariadb"]]);
  assert.equal(isSslRequest(response), false);
  assert.equal(isSslRequest(Buffer.concat([Buffer.from([0x00, 0x0a, 0, 0]), Buffer.alloc(28)])), true);

  const sw = decodeAuthSwitchRequest(encodeAuthSwitchRequest(NATIVE_PASSWORD_PLUGIN, scramble));
  assert.equal(sw.plugin, NATIVE_PASSWORD_PLUGIN);
  assert.ok(sw.data.equals(scramble));
});

test("OK, ERR and EOF packets, and result sets with and without DEPRECATE_EOF", () => {
  const err = encodeErr(ServerErrorKind.UNKNOWN_SYSTEM_VARIABLE, "Unknown system variable 'foo'");
  // 0xFF, errno 1193 little-endian, "#", SQL state HY000, message.
  assert.equal(err.toString("hex").slice(0, 18), "ffa904234859303030");
  assert.deepEqual(decodeErr(err), { errno: 1193, sqlState: "HY000", message: "Unknown system variable 'foo'" });
  assert.deepEqual(encodeOk(), Buffer.from([0, 0, 0, 2, 0, 0, 0]));
  assert.equal(decodeOk(encodeOk({ affectedRows: 300 })).affectedRows, 300n);

  const result = { columns: [{ name: "a" }, { name: "b", kind: "integer" as const }], rows: [["x", 1n], [null, 2]] };
  const old = encodeResultSet(result, Capability.PROTOCOL_41, 45);
  // count, 2 column definitions, EOF, 2 rows, EOF
  assert.equal(old.length, 7);
  assert.ok(isEofPacket(old[3]!) && isEofPacket(old[6]!));
  assert.deepEqual(old[5], Buffer.from([0xfb, 1, 0x32]));
  const modern = encodeResultSet(result, Capability.PROTOCOL_41 | Capability.DEPRECATE_EOF, 45);
  // No EOF after the columns; an OK with the 0xFE header at the end.
  assert.equal(modern.length, 6);
  assert.deepEqual(modern[5], Buffer.from([0xfe, 0, 0, 2, 0, 0, 0]));
});
