/**
 * The request bodies of the admin API, as the original accepted them (snake_case fields; unknown
 * fields ignored, as Go's decoder did), validated with zod into the backend's types. A refusal
 * names every field that is wrong and never quotes a value that may be a password.
 */
import { z } from "zod";
import { parseHostPort } from "../config/addresses.ts";
import { baseUrl, integer, memberName, nonEmptyString, typeError } from "../config/schema.ts";
import type { AddMemberRequest, RemoveMemberRequest, ServerConfig, SyncerConfig, UpdateMemberRequest } from "./backend.ts";

const U64_MAX = (1n << 64n) - 1n;

/** A u64 member id given as a JSON number (exact, see json.ts) or a decimal string. */
const memberId = z
  .union([z.bigint(), z.number(), z.string()], { error: typeError("a positive integer") })
  .transform((v, ctx): bigint => {
    const text = typeof v === "string" ? v : v.toString();
    if (/^\d+$/.test(text)) {
      const id = BigInt(text);
      if (id >= 1n && id <= U64_MAX) return id;
    }
    ctx.addIssue({ code: "custom", message: `must be an integer from 1 to ${U64_MAX}` });
    return z.NEVER;
  });

/** host:port where a port of 0 means nothing. */
const endpoint = z.string({ error: typeError("a string") }).refine((text) => (parseHostPort(text)?.port ?? 0) > 0, {
  error: (i) => `must be host:port, e.g. 192.168.1.150:3306 (got "${String(i.input)}")`,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const addMember = z
  .object({ id: memberId.optional(), name: memberName, peer_url: baseUrl(true), admin_url: baseUrl(false).optional() }, { error: typeError("a JSON object") })
  .transform((b): AddMemberRequest => ({ id: b.id, name: b.name, peerUrl: b.peer_url, adminUrl: b.admin_url }));

const removeMember = z
  .object({ name: memberName, peer_url: baseUrl(true).optional() }, { error: typeError("a JSON object") })
  .transform((b): RemoveMemberRequest => ({ name: b.name, peerUrl: b.peer_url }));

const updateMember = z
  .object({ name: memberName, new_peer_url: baseUrl(true) }, { error: typeError("a JSON object") })
  .transform((b): UpdateMemberRequest => ({ name: b.name, newPeerUrl: b.new_peer_url }));

const startSyncer = z
  .object(
    {
      syncer_id: integer(1, 4294967295),
      syncer_uuid: z.string({ error: typeError("a string") }).regex(UUID, { error: "must be a UUID such as f7e30637-f15a-11e8-accc-244427b6b60e" }),
      mysql_addr: endpoint,
      mysql_user: nonEmptyString("a non-empty user name"),
      mysql_password: z.string({ error: typeError("a string") }).default(""),
      semi_sync: z.boolean({ error: typeError("true or false") }).default(false),
      /** Seconds, fractions allowed, as MASTER_HEARTBEAT_PERIOD takes it. */
      heartbeat_period: z
        .number({ error: typeError("a number of seconds") })
        .min(0.001, { error: (i) => `must be from 0.001 to 4294967 seconds (got ${String(i.input)})` })
        .max(4294967, { error: (i) => `must be from 0.001 to 4294967 seconds (got ${String(i.input)})` })
        .default(10),
      /** true: TLS verified against the system CAs; an object: with its own CA or client certificate. */
      mysql_tls: z
        .union(
          [
            z.boolean({ error: typeError("true, false or an object") }),
            z.object(
              {
                ca: z.string({ error: typeError("a PEM string") }).optional(),
                cert: z.string({ error: typeError("a PEM string") }).optional(),
                key: z.string({ error: typeError("a PEM string") }).optional(),
                verify_server_cert: z.boolean({ error: typeError("true or false") }).default(true),
              },
              { error: typeError("an object") },
            ),
          ],
          { error: typeError("true, false or an object with ca, cert, key, verify_server_cert") },
        )
        .default(false),
    },
    { error: typeError("a JSON object") },
  )
  .refine((b) => typeof b.mysql_tls !== "object" || (b.mysql_tls.cert === undefined) === (b.mysql_tls.key === undefined), {
    error: "mysql_tls: cert and key go together",
    path: ["mysql_tls"],
  })
  .transform(
    (b): SyncerConfig => ({
      syncerId: b.syncer_id,
      syncerUuid: b.syncer_uuid,
      mysqlAddr: b.mysql_addr,
      mysqlUser: b.mysql_user,
      mysqlPassword: b.mysql_password,
      semiSync: b.semi_sync,
      heartbeatPeriodMs: Math.round(b.heartbeat_period * 1000),
      ...(b.mysql_tls === false
        ? {}
        : { tls: b.mysql_tls === true ? { verifyServerCert: true } : { ca: b.mysql_tls.ca, cert: b.mysql_tls.cert, key: b.mysql_tls.key, verifyServerCert: b.mysql_tls.verify_server_cert } }),
    }),
  );

const startServer = z
  .object(
    {
      addr: endpoint,
      user: nonEmptyString("a non-empty user name"),
      password: z.string({ error: typeError("a string") }).min(1, { error: "must not be empty (replicas must authenticate)" }),
    },
    { error: typeError("a JSON object") },
  )
  .transform((b): ServerConfig => ({ addr: b.addr, user: b.user, password: b.password }));

export const requestSchemas = { addMember, removeMember, updateMember, startSyncer, startServer } as const;

function pathText(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) out += typeof part === "number" ? `[${part}]` : `${out === "" ? "" : "."}${String(part)}`;
  return out;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; message: string };

/** The body as the backend's type, or every problem as `field: reason` joined by "; ". */
export function validateBody<T>(schema: z.ZodType<T>, body: unknown): Validated<T> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, value: parsed.data };
  const message = parsed.error.issues.map((i) => `${i.path.length === 0 ? "request body" : pathText(i.path)}: ${i.message}`).join("; ");
  return { ok: false, message };
}
