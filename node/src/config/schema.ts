/**
 * The shape of the configuration and the rules each field obeys alone, in zod. Rules that tie
 * fields together live in rules.ts, run only once every field is valid on its own.
 */
import { z } from "zod";
import { VERIFY_RECORDS } from "../server/verify-records.ts";
import { baseUrlProblem, describeBaseUrlProblem, parseHostPort, type HostPort } from "./addresses.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

const MIB = 1024 * 1024;
/** How appends reach the disk (LogStore's syncMode): O_DSYNC writes, or write + fdatasync. */
export const SYNC_MODES = ["dsync", "fdatasync"] as const;
/**
 * The memory budget of a node's buffers (docs/raft.md, "Memory"): what ingest and replication may
 * hold at once. Larger values buy nothing on a fast network and disk; on a slow one they let more
 * data be in flight (throughput = bytes in flight / round trip).
 */
export const MEMORY_DEFAULTS = {
  raftInflightBytes: 8 * MIB,
  recentEntriesBytes: 8 * MIB,
  syncerInflightBytes: 8 * MIB,
  syncerBufferBytes: 4 * MIB,
  serverCacheBytes: 16 * MIB,
} as const;
const MIN_SEGMENT_BYTES = 1024 * 1024;
const MAX_SEGMENT_BYTES = 16 * 1024 * 1024 * 1024;

interface RawIssue {
  readonly input?: unknown;
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/** The message of a type mismatch: names the type received, never the value (it may be a secret). */
export function typeError(expected: string): (issue: RawIssue) => string {
  return (issue) => (issue.input === undefined ? "is required" : `must be ${expected} (got ${jsonType(issue.input)})`);
}

/** An integer in [min, max]; numbers are not secret, so the message shows the value. */
export function integer(min: number, max: number) {
  const range = `an integer from ${min} to ${max}`;
  return z
    .number({ error: typeError("an integer") })
    .int({ error: (i: RawIssue) => `must be ${range} (got ${String(i.input)})` })
    .min(min, { error: (i: RawIssue) => `must be ${range} (got ${String(i.input)})` })
    .max(max, { error: (i: RawIssue) => `must be ${range} (got ${String(i.input)})` });
}

export function nonEmptyString(what = "a non-empty string") {
  return z.string({ error: typeError("a string") }).min(1, { error: `must be ${what}` });
}

export const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
export const MEMBER_NAME_RULE = "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit";

export const memberName = z.string({ error: typeError("a string") }).regex(MEMBER_NAME, { error: MEMBER_NAME_RULE });

/** `host:port` to listen on, parsed. */
export const hostPort = z.string({ error: typeError("a string") }).transform((text, ctx): HostPort => {
  const parsed = parseHostPort(text);
  if (parsed) return parsed;
  ctx.addIssue({ code: "custom", message: `must be host:port, e.g. 0.0.0.0:9696 or [::]:9696 (got "${text}")` });
  return z.NEVER;
});

export function baseUrl(requirePort: boolean) {
  return z.string({ error: typeError("a string") }).superRefine((text, ctx) => {
    const problem = baseUrlProblem(text, requirePort);
    if (problem) ctx.addIssue({ code: "custom", message: describeBaseUrlProblem(problem) });
  });
}

/** Node ids travel as JavaScript numbers in the Raft core, so the safe-integer range bounds them. */
export const nodeId = integer(1, Number.MAX_SAFE_INTEGER);

export const clusterMemberSchema = z.strictObject({
  id: nodeId,
  name: memberName,
  peerUrl: baseUrl(true),
  adminUrl: baseUrl(false),
});

/** Printable ASCII without spaces: the token goes into an HTTP header as it is. */
const TOKEN = /^[\x21-\x7e]+$/;
export const TOKEN_RULE = "must be non-empty printable ASCII without spaces";

export const adminToken = z.string({ error: typeError("a string") }).regex(TOKEN, { error: TOKEN_RULE });

const tlsPath = nonEmptyString("a file path");

export const nodeConfigSchema = z.strictObject({
  id: nodeId,
  name: memberName,
  dataDir: nonEmptyString("a directory path"),
  listen: z
    .strictObject({
      peer: hostPort.prefault("0.0.0.0:9696"),
      admin: hostPort.optional(),
      http: hostPort.prefault("0.0.0.0:9595"),
    })
    .prefault({}),
  advertise: z
    .strictObject({
      peerUrl: baseUrl(true).optional(),
      adminUrl: baseUrl(false).optional(),
    })
    .prefault({}),
  initialCluster: z
    .array(clusterMemberSchema, { error: typeError("an array of {id, name, peerUrl, adminUrl}") })
    .min(1, { error: "must list at least one member" })
    .optional(),
  join: baseUrl(false).optional(),
  adminToken: adminToken.optional(),
  adminTokenFile: nonEmptyString("a file path").optional(),
  peerTls: z
    .strictObject({ ca: tlsPath.optional(), cert: tlsPath.optional(), key: tlsPath.optional() }, { error: typeError("an object") })
    .optional(),
  raft: z
    .strictObject(
      {
        tickMs: integer(1, 60_000).default(100),
        electionTicks: integer(2, 1_000_000).default(10),
        heartbeatTicks: integer(1, 1_000_000).default(1),
      },
      { error: typeError("an object") },
    )
    .prefault({}),
  memory: z
    .strictObject(
      {
        raftInflightBytes: integer(64 * 1024, 1024 * MIB).default(MEMORY_DEFAULTS.raftInflightBytes),
        recentEntriesBytes: integer(0, 1024 * MIB).default(MEMORY_DEFAULTS.recentEntriesBytes),
        syncerInflightBytes: integer(1 * MIB, 1024 * MIB).default(MEMORY_DEFAULTS.syncerInflightBytes),
        syncerBufferBytes: integer(64 * 1024, 1024 * MIB).default(MEMORY_DEFAULTS.syncerBufferBytes),
        serverCacheBytes: integer(0, 1024 * MIB).default(MEMORY_DEFAULTS.serverCacheBytes),
      },
      { error: typeError("an object") },
    )
    .prefault({}),
  storage: z
    .strictObject(
      {
        segmentBytes: integer(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES).default(DEFAULT_SEGMENT_BYTES),
        retentionMaxBytes: integer(MIN_SEGMENT_BYTES, Number.MAX_SAFE_INTEGER).optional(),
        retentionMaxAgeMs: integer(1000, Number.MAX_SAFE_INTEGER).optional(),
        syncMode: z.enum(SYNC_MODES, { error: `must be one of ${SYNC_MODES.join(", ")}` }).default("dsync"),
        verifyServedRecords: z.enum(VERIFY_RECORDS, { error: `must be one of ${VERIFY_RECORDS.join(", ")}` }).default("auto"),
      },
      { error: typeError("an object") },
    )
    .prefault({}),
  testWriteApi: z.boolean({ error: typeError("true or false") }).default(false),
  logLevel: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
}, { error: typeError("a JSON object") });

/** The configuration after each field is checked alone, before the rules across fields. */
export type ParsedNodeConfig = z.output<typeof nodeConfigSchema>;
export type ClusterMemberConfig = z.output<typeof clusterMemberSchema>;
