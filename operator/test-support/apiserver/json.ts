/** Plain-JSON helpers shared by the fake API server's modules. */
import { isDeepStrictEqual } from "node:util";

export type Obj = Record<string, unknown>;

export function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The object at `value`, or undefined when it is not a plain object. */
export function asObj(value: unknown): Obj | undefined {
  return isObj(value) ? value : undefined;
}

export function asStr(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asArr(value: unknown): unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Deep equality of JSON values; key order does not matter, array order does. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalise(a), normalise(b));
}

/** Drops undefined members so that `{a: undefined}` equals `{}`, as it does on the wire. */
function normalise(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** The child object at key, created when missing. */
export function child(parent: Obj, key: string): Obj {
  const existing = parent[key];
  if (isObj(existing)) return existing;
  const made: Obj = {};
  parent[key] = made;
  return made;
}

export function getPath(value: unknown, path: readonly string[]): unknown {
  let cur: unknown = value;
  for (const key of path) {
    if (!isObj(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

export function meta(o: Obj): Obj {
  return child(o, "metadata");
}

/** metav1.Time: RFC 3339 with whole seconds, as the API server writes it. */
export function nowTime(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
