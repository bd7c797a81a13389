/**
 * The three places configuration comes from, each turned into a partial object of the file's
 * shape: the JSON file as written, and the environment and flags with their strings converted
 * by field kind. Later layers win field by field; arrays are replaced whole.
 */
import { readFileSync } from "node:fs";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { envVarName, flagKey, flagName, NODE_FIELDS, type FieldSpec } from "./fields.ts";
import { describeJsonSyntaxError } from "./json-syntax.ts";

export type Layer = Record<string, unknown>;

export interface SourcedLayer {
  readonly layer: Layer;
  readonly issues: readonly ConfigIssue[];
  /** Field path -> where its value came from (`KINGBUS_X`, `--x`), to name it in messages. */
  readonly origins: ReadonlyMap<string, string>;
  /** Secret values seen, so that messages can be scrubbed of them whatever produced the text. */
  readonly secrets: readonly string[];
}

const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function setPath(target: Layer, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (isPlainObject(next)) node = next;
    else node = node[part] = {};
  }
  node[parts.at(-1)!] = value;
}

/** `b` over `a`, object by object. */
export function mergeLayers(a: Layer, b: Layer): Layer {
  const out: Layer = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const under = out[key];
    out[key] = isPlainObject(under) && isPlainObject(value) ? mergeLayers(under, value) : value;
  }
  return out;
}

function systemReason(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : e instanceof Error ? e.message : String(e);
}

/** The configuration file's object. Unreadable, too large, not JSON or not an object: ConfigError. */
export function readConfigFile(path: string): Layer {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_CONFIG_FILE_BYTES) throw new ConfigError([{ path, message: `is larger than ${MAX_CONFIG_FILE_BYTES} bytes` }]);
    text = bytes.toString("utf8");
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([{ path, message: `cannot read the configuration file (${systemReason(e)})` }], { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // The parser's own message quotes the file, secrets included: keep only the position.
    throw new ConfigError([{ path, message: `configuration file is ${describeJsonSyntaxError(e, text)}` }]);
  }
  if (!isPlainObject(value)) throw new ConfigError([{ path, message: "configuration file must hold a JSON object" }]);
  return value;
}

type Converted = { ok: true; value: unknown } | { ok: false; message: string };

/** A string from the environment or a flag as the value its field holds. */
function convert(field: FieldSpec, text: string): Converted {
  switch (field.kind) {
    case "string":
      return { ok: true, value: text };
    case "integer":
      return /^[+-]?\d+$/.test(text.trim()) ? { ok: true, value: Number(text.trim()) } : { ok: false, message: `must be an integer (got "${text}")` };
    case "boolean": {
      const t = text.trim().toLowerCase();
      if (t === "true" || t === "1") return { ok: true, value: true };
      if (t === "false" || t === "0") return { ok: true, value: false };
      return { ok: false, message: `must be true or false (got "${text}")` };
    }
    case "json":
      try {
        return { ok: true, value: JSON.parse(text) };
      } catch (e) {
        return { ok: false, message: `is ${describeJsonSyntaxError(e, text)}` };
      }
  }
}

function buildLayer(entries: Iterable<[FieldSpec, unknown, string]>): SourcedLayer {
  const layer: Layer = {};
  const issues: ConfigIssue[] = [];
  const origins = new Map<string, string>();
  const secrets: string[] = [];
  for (const [field, raw, origin] of entries) {
    if (typeof raw === "string" && field.secret) secrets.push(raw);
    const converted: Converted = typeof raw === "string" ? convert(field, raw) : { ok: true, value: raw };
    if (converted.ok) {
      setPath(layer, field.path, converted.value);
      origins.set(field.path, origin);
    } else {
      issues.push({ path: field.path, message: `${field.secret ? "is invalid" : converted.message} (from ${origin})` });
    }
  }
  return { layer, issues, origins, secrets };
}

/**
 * `KINGBUS_<FIELD>` variables. Empty ones count as unset (manifests often template them empty).
 * Unknown `KINGBUS_*` names are ignored, not refused: Kubernetes injects `KINGBUS_SERVICE_HOST`,
 * `KINGBUS_PORT`, ... for a Service named kingbus, and tests use `KINGBUS_KEEP_TMP`.
 */
export function envLayer(env: Readonly<Record<string, string | undefined>>): SourcedLayer {
  return buildLayer(
    NODE_FIELDS.flatMap((field): [FieldSpec, unknown, string][] => {
      const name = envVarName(field.path);
      const value = env[name];
      return value === undefined || value === "" ? [] : [[field, value, name]];
    }),
  );
}

/** Flags as commander parsed them (keys from flagKey); secret fields have no flag. */
export function flagsLayer(flags: Readonly<Record<string, unknown>>): SourcedLayer {
  return buildLayer(
    NODE_FIELDS.flatMap((field): [FieldSpec, unknown, string][] => {
      if (field.secret) return [];
      const value = flags[flagKey(field.path)];
      return value === undefined ? [] : [[field, value, flagName(field.path)]];
    }),
  );
}
