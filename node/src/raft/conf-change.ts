/**
 * Membership changes: one node at a time, carried by ConfChange entries.
 *
 * An entry's payload holds the change and the whole membership it was proposed against, so any
 * reader of the log (a follower that joined late, the storage at start-up, a tool) learns the
 * membership at that point from one entry, without replaying the log before it.
 */
import { ConfChangeError } from "./errors.ts";
import type { ConfState } from "./types.ts";

export const ConfChangeType = {
  /** A new node that receives the log but neither votes nor counts toward a quorum. */
  AddLearner: "AddLearner",
  /** A learner becomes a voter. */
  PromoteLearner: "PromoteLearner",
  /** A voter or learner leaves. */
  RemoveNode: "RemoveNode",
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

export interface ConfChange {
  type: ConfChangeType;
  nodeId: number;
  /** Opaque to the core (an address, a pod name): it reaches the node loop with the entry. */
  context?: Uint8Array;
}

export interface ConfChangeRecord {
  change: ConfChange;
  /** The membership the change was proposed against. */
  before: ConfState;
  /** The membership it leaves in force. */
  after: ConfState;
}

export function emptyConfState(): ConfState {
  return { voters: [], learners: [] };
}

export function isVoter(conf: ConfState, id: number): boolean {
  return conf.voters.includes(id);
}

export function isMember(conf: ConfState, id: number): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

export function confStatesEqual(a: ConfState, b: ConfState): boolean {
  const same = (x: number[], y: number[]): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
  return same(a.voters, b.voters) && same(a.learners, b.learners);
}

/** Sorted, de-duplicated copies, so equal memberships compare and encode equal. */
export function normalizeConfState(conf: ConfState): ConfState {
  const sorted = (ids: number[]): number[] => [...new Set(ids)].sort((x, y) => x - y);
  return { voters: sorted(conf.voters), learners: sorted(conf.learners) };
}

function checkNodeId(id: number): void {
  if (!Number.isSafeInteger(id) || id <= 0) throw new ConfChangeError("RAFT_CONF_CHANGE_INVALID", `node ids are positive integers, got ${id}`);
}

/** The membership after `change`, or a RAFT_CONF_CHANGE_INVALID error when it does not apply to `conf`. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  checkNodeId(change.nodeId);
  const id = change.nodeId;
  switch (change.type) {
    case ConfChangeType.AddLearner:
      if (isMember(conf, id)) throw new ConfChangeError("RAFT_CONF_CHANGE_INVALID", `node ${id} is already a member`);
      return normalizeConfState({ voters: conf.voters, learners: [...conf.learners, id] });
    case ConfChangeType.PromoteLearner:
      if (!conf.learners.includes(id)) throw new ConfChangeError("RAFT_CONF_CHANGE_INVALID", `node ${id} is not a learner`);
      return normalizeConfState({ voters: [...conf.voters, id], learners: conf.learners.filter((l) => l !== id) });
    case ConfChangeType.RemoveNode:
      if (!isMember(conf, id)) throw new ConfChangeError("RAFT_CONF_CHANGE_INVALID", `node ${id} is not a member`);
      if (conf.voters.length === 1 && conf.voters[0] === id) {
        throw new ConfChangeError("RAFT_CONF_CHANGE_INVALID", `removing node ${id} would leave no voter`);
      }
      return { voters: conf.voters.filter((v) => v !== id), learners: conf.learners.filter((l) => l !== id) };
    default:
      throw new ConfChangeError("RAFT_CONF_CHANGE_INVALID", `unknown conf change type ${String((change as { type: unknown }).type)}`);
  }
}

const FORMAT_VERSION = 1;
const TYPE_CODES: Record<ConfChangeType, number> = { AddLearner: 1, PromoteLearner: 2, RemoveNode: 3 };
const TYPES_BY_CODE: ReadonlyMap<number, ConfChangeType> = new Map(
  Object.entries(TYPE_CODES).map(([type, code]) => [code, type as ConfChangeType]),
);

/**
 * Layout, little-endian: u8 version, u8 type, u64 node id, u32 voter count, u64 voters...,
 * u32 learner count, u64 learners..., u32 context length, context bytes.
 */
export function encodeConfChange(change: ConfChange, before: ConfState): Uint8Array {
  const conf = normalizeConfState(before);
  const context = change.context ?? new Uint8Array(0);
  const size = 1 + 1 + 8 + 4 + 8 * conf.voters.length + 4 + 8 * conf.learners.length + 4 + context.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  view.setUint8(at, FORMAT_VERSION);
  view.setUint8(at + 1, TYPE_CODES[change.type]);
  view.setBigUint64(at + 2, BigInt(change.nodeId), true);
  at += 10;
  for (const ids of [conf.voters, conf.learners]) {
    view.setUint32(at, ids.length, true);
    at += 4;
    for (const id of ids) {
      view.setBigUint64(at, BigInt(id), true);
      at += 8;
    }
  }
  view.setUint32(at, context.length, true);
  bytes.set(context, at + 4);
  return bytes;
}

export function decodeConfChange(data: Uint8Array): ConfChangeRecord {
  const corrupt = (why: string): ConfChangeError => new ConfChangeError("RAFT_CONF_CHANGE_CORRUPT", `conf change payload of ${data.length} bytes: ${why}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  const need = (n: number): void => {
    if (at + n > data.length) throw corrupt("truncated");
  };
  const readId = (): number => {
    need(8);
    const id = view.getBigUint64(at, true);
    at += 8;
    if (id === 0n || id > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`node id ${id} out of range`);
    return Number(id);
  };
  const readIds = (): number[] => {
    need(4);
    const count = view.getUint32(at, true);
    at += 4;
    if (count * 8 > data.length - at) throw corrupt("truncated");
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push(readId());
    return ids;
  };
  need(2);
  const version = view.getUint8(0);
  if (version !== FORMAT_VERSION) throw corrupt(`unknown version ${version}`);
  const type = TYPES_BY_CODE.get(view.getUint8(1));
  if (type === undefined) throw corrupt(`unknown change type ${view.getUint8(1)}`);
  at = 2;
  const nodeId = readId();
  const voters = readIds();
  const learners = readIds();
  need(4);
  const contextLength = view.getUint32(at, true);
  at += 4;
  need(contextLength);
  const context = data.slice(at, at + contextLength);
  at += contextLength;
  if (at !== data.length) throw corrupt(`${data.length - at} trailing bytes`);
  const before = { voters, learners };
  if (!confStatesEqual(before, normalizeConfState(before))) throw corrupt("membership not sorted or repeated");
  const change: ConfChange = contextLength === 0 ? { type, nodeId } : { type, nodeId, context };
  let after: ConfState;
  try {
    after = applyConfChange(before, change);
  } catch (cause) {
    throw new ConfChangeError("RAFT_CONF_CHANGE_CORRUPT", `conf change payload does not apply to its own membership`, { cause });
  }
  return { change, before, after };
}

export function describeConfChange(change: ConfChange): string {
  return `${change.type} ${change.nodeId}`;
}

export function describeConfState(conf: ConfState): string {
  const learners = conf.learners.length === 0 ? "" : ` learners=[${conf.learners.join(",")}]`;
  return `voters=[${conf.voters.join(",")}]${learners}`;
}
