/**
 * The small state kept beside the segments, one atomic file each: Raft's hard state, the
 * membership, the last snapshot's metadata, and what has been compacted or purged (the first
 * retained index, the term before it, and the GTIDs no longer held).
 */
import type { ConfState, HardState, SnapshotMetadata } from "../raft/types.ts";
import { readAtomicFile, writeAtomicFile } from "./atomic-file.ts";
import { StorageError } from "./errors.ts";

export const HARD_STATE_FILE = "hardstate";
export const MEMBERSHIP_FILE = "membership";
export const SNAPSHOT_FILE = "snapshot";
export const COMPACTION_FILE = "compaction";

export interface CompactionState {
  /** Entries up to here are gone; the log starts after it. */
  compactedThrough: number;
  compactedTerm: number;
  /** MySQL GTID set text and MariaDB GTID state text of the transactions no longer held. */
  purgedMysql: string;
  purgedMariadb: string;
}

export const EMPTY_COMPACTION: CompactionState = { compactedThrough: 0, compactedTerm: 0, purgedMysql: "", purgedMariadb: "" };

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function shapeError(dir: string, file: string, what: string): StorageError {
  return new StorageError("STORAGE_CORRUPT", `metadata does not hold ${what}`, { file: `${dir}/${file}` });
}

export async function loadHardState(dir: string): Promise<HardState> {
  const v = (await readAtomicFile(dir, HARD_STATE_FILE)) as Partial<HardState> | undefined;
  if (v === undefined) return { term: 0, vote: 0, commit: 0 };
  if (!isCount(v.term) || !isCount(v.vote) || !isCount(v.commit)) throw shapeError(dir, HARD_STATE_FILE, "a hard state");
  return { term: v.term, vote: v.vote, commit: v.commit };
}

export async function loadConfState(dir: string): Promise<ConfState | undefined> {
  const v = (await readAtomicFile(dir, MEMBERSHIP_FILE)) as Partial<ConfState> | undefined;
  if (v === undefined) return undefined;
  if (!Array.isArray(v.voters) || !Array.isArray(v.learners) || ![...v.voters, ...v.learners].every(isCount)) throw shapeError(dir, MEMBERSHIP_FILE, "a membership");
  return { voters: v.voters, learners: v.learners };
}

export async function loadSnapshotMetadata(dir: string): Promise<SnapshotMetadata | undefined> {
  const v = (await readAtomicFile(dir, SNAPSHOT_FILE)) as Partial<SnapshotMetadata> | undefined;
  if (v === undefined) return undefined;
  if (!isCount(v.index) || !isCount(v.term) || !v.conf || !Array.isArray(v.conf.voters) || !Array.isArray(v.conf.learners)) throw shapeError(dir, SNAPSHOT_FILE, "snapshot metadata");
  return { index: v.index, term: v.term, conf: { voters: v.conf.voters, learners: v.conf.learners } };
}

export async function loadCompaction(dir: string): Promise<CompactionState> {
  const v = (await readAtomicFile(dir, COMPACTION_FILE)) as Partial<CompactionState> | undefined;
  if (v === undefined) return { ...EMPTY_COMPACTION };
  if (!isCount(v.compactedThrough) || !isCount(v.compactedTerm) || typeof v.purgedMysql !== "string" || typeof v.purgedMariadb !== "string") throw shapeError(dir, COMPACTION_FILE, "a compaction state");
  return { compactedThrough: v.compactedThrough, compactedTerm: v.compactedTerm, purgedMysql: v.purgedMysql, purgedMariadb: v.purgedMariadb };
}

export const saveHardState = (dir: string, hs: HardState): Promise<void> => writeAtomicFile(dir, HARD_STATE_FILE, hs);
export const saveConfState = (dir: string, cs: ConfState): Promise<void> => writeAtomicFile(dir, MEMBERSHIP_FILE, cs);
export const saveSnapshotMetadata = (dir: string, m: SnapshotMetadata): Promise<void> => writeAtomicFile(dir, SNAPSHOT_FILE, m);
export const saveCompaction = (dir: string, c: CompactionState): Promise<void> => writeAtomicFile(dir, COMPACTION_FILE, c);
