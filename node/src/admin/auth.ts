import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * Checks `Authorization: Bearer <token>`. Both sides are hashed first so that the comparison takes
 * the same time whatever the length or the first differing byte of a guess.
 */
export class BearerAuth {
  readonly #digest: Buffer;

  constructor(token: string) {
    if (token === "") throw new TypeError("BearerAuth: the token must not be empty");
    this.#digest = createHash("sha256").update(token).digest();
  }

  allows(headers: IncomingHttpHeaders): boolean {
    const m = /^Bearer +(\S+) *$/i.exec(headers.authorization ?? "");
    if (!m) return false;
    return timingSafeEqual(createHash("sha256").update(m[1]!).digest(), this.#digest);
  }
}
