/**
 * mysql_native_password: the scramble the server sends, the token the client computes from it,
 * and the server's check. The server keeps only SHA1(SHA1(password)) (what mysql.user stores as
 * `*HEX`), never needs the password itself, and the token proves knowledge of SHA1(password):
 *
 *   token = SHA1(password) XOR SHA1(scramble || SHA1(SHA1(password)))
 *   check: SHA1(token XOR SHA1(scramble || stored)) == stored
 *
 * An empty password is sent as an empty token.
 *
 * caching_sha2_password (MySQL 8), its fast path, with SHA-256 in place of SHA-1:
 *
 *   token = SHA256(password) XOR SHA256(SHA256(SHA256(password)) || scramble)
 *   check: SHA256(token XOR SHA256(stored || scramble)) == stored, stored = SHA256(SHA256(password))
 *
 * A server that knows the password (or SHA256(SHA256(password))) always takes the fast path: it
 * never needs the full authentication (cleartext password over TLS or RSA) a cache miss triggers.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const SCRAMBLE_LENGTH = 20;

function sha1(...parts: Uint8Array[]): Buffer {
  const hash = createHash("sha1");
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/**
 * 20 random bytes as MySQL makes them (generate_user_salt): 7-bit, never NUL (the handshake carries
 * the scramble NUL-terminated) and never '$'.
 */
export function generateScramble(): Buffer {
  const bytes = randomBytes(SCRAMBLE_LENGTH);
  for (let i = 0; i < bytes.length; i++) {
    let b = bytes[i]! & 0x7f;
    if (b === 0 || b === 0x24) b++;
    bytes[i] = b;
  }
  return bytes;
}

/** What the server stores: SHA1(SHA1(password)), or undefined for an empty password. */
export function nativePasswordHash(password: string): Buffer | undefined {
  if (password === "") return undefined;
  return sha1(sha1(Buffer.from(password, "utf8")));
}

/** The `*HEX` form mysql.user shows (PASSWORD('...')). */
export function formatNativePasswordHash(hash: Buffer): string {
  return `*${hash.toString("hex").toUpperCase()}`;
}

/** The token a client sends for `password` under `scramble`. */
export function nativePasswordToken(password: string, scramble: Uint8Array): Buffer {
  if (password === "") return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, "utf8"));
  const stage2 = sha1(stage1);
  const mask = sha1(scramble, stage2);
  for (let i = 0; i < stage1.length; i++) stage1[i]! ^= mask[i]!;
  return stage1;
}

/**
 * Whether `token` proves the password whose hash is `stored` (undefined: the account has an empty
 * password, and only an empty token passes).
 */
export function verifyNativePassword(token: Uint8Array, scramble: Uint8Array, stored: Buffer | undefined): boolean {
  if (stored === undefined) return token.length === 0;
  if (token.length !== SCRAMBLE_LENGTH) return false;
  const mask = sha1(scramble.subarray(0, SCRAMBLE_LENGTH), stored);
  const candidate = Buffer.alloc(SCRAMBLE_LENGTH);
  for (let i = 0; i < SCRAMBLE_LENGTH; i++) candidate[i] = token[i]! ^ mask[i]!;
  return timingSafeEqual(sha1(candidate), stored);
}

function sha256(...parts: Uint8Array[]): Buffer {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest();
}

/** What the server keeps for caching_sha2_password: SHA256(SHA256(password)), undefined for an empty password. */
export function sha2PasswordHash(password: string): Buffer | undefined {
  if (password === "") return undefined;
  return sha256(sha256(Buffer.from(password, "utf8")));
}

/** The caching_sha2_password token a client sends for `password` under `scramble` (its first 20 bytes). */
export function sha2PasswordToken(password: string, scramble: Uint8Array): Buffer {
  if (password === "") return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, "utf8"));
  const mask = sha256(sha256(stage1), scramble.subarray(0, SCRAMBLE_LENGTH));
  for (let i = 0; i < stage1.length; i++) stage1[i]! ^= mask[i]!;
  return stage1;
}

/** Whether a caching_sha2_password token proves the password whose SHA256(SHA256()) is `stored`. */
export function verifySha2Password(token: Uint8Array, scramble: Uint8Array, stored: Buffer | undefined): boolean {
  // An empty password: MySQL clients send an empty token (some a single NUL).
  if (stored === undefined) return token.length === 0 || (token.length === 1 && token[0] === 0);
  if (token.length !== 32) return false;
  const mask = sha256(stored, scramble.subarray(0, SCRAMBLE_LENGTH));
  const candidate = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) candidate[i] = token[i]! ^ mask[i]!;
  return timingSafeEqual(sha256(candidate), stored);
}
