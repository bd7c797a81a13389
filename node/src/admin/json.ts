/**
 * JSON in and out without a detour through doubles: member ids are u64, and the original wrote
 * them as plain JSON numbers, which JSON.stringify cannot emit above 2^53 and JSON.parse cannot
 * read back exactly. Both directions use V8's raw JSON support (Node 24): the number's own text.
 */
import { describeJsonSyntaxError } from "../config/json-syntax.ts";

interface RawJsonApi {
  rawJSON(text: string): unknown;
  parse(text: string, reviver: (key: string, value: unknown, context: { source?: string }) => unknown): unknown;
}

const json = JSON as unknown as RawJsonApi;

/** JSON text of `value`, with every bigint written as its exact decimal number. */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? json.rawJSON(v.toString()) : v));
}

export type ParsedJson = { ok: true; value: unknown } | { ok: false; message: string };

/** Parses JSON; integers beyond 2^53 come back as exact bigints (doubles would round them). */
export function parseJsonExact(text: string): ParsedJson {
  try {
    const value = json.parse(text, (_key, v, context) => {
      if (typeof v === "number" && !Number.isSafeInteger(v) && context.source !== undefined && /^-?\d+$/.test(context.source)) {
        return BigInt(context.source);
      }
      return v;
    });
    return { ok: true, value };
  } catch (e) {
    // Never the parser's message: it quotes the body, and bodies carry passwords.
    return { ok: false, message: describeJsonSyntaxError(e, text) };
  }
}
