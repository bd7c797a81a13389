/** Helpers for storage tests: throwaway directories and deterministic entries. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import type { Entry } from "../src/raft/types.ts";
import type { BinlogInfoExtractor } from "../src/storage/binlog-index.ts";

const dirs: string[] = [];

export function tempStoreDir(prefix = "kingbus-store-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function removeTempStoreDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The payload of entry (index, term): derived from both, so a wrong or stale entry is detected. */
export function payloadOf(index: number, term: number, size = 64): Buffer {
  const seed = createHash("sha256").update(`${index}/${term}`).digest();
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += seed.length) seed.copy(out, i);
  return out;
}

export function entry(index: number, term = 1, size = 64): Entry {
  return { index, term, type: 0, data: payloadOf(index, term, size) };
}

export function entries(from: number, count: number, term = 1, size = 64): Entry[] {
  return Array.from({ length: count }, (_, k) => entry(from + k, term, size));
}

/** Payloads start with "d-s-seq|file|endPos|": a stand-in for the syncer's entry format. */
export const testExtractor: BinlogInfoExtractor = (e) => {
  const text = Buffer.from(e.data.subarray(0, 64)).toString("latin1");
  const m = /^(\d+)-(\d+)-(\d+)\|([^|]+)\|(\d+)\|/.exec(text);
  if (!m) return [];
  return [{ gtid: { flavor: "mariadb", domain: Number(m[1]), serverId: Number(m[2]), seq: BigInt(m[3]!) }, file: m[4]!, endPos: Number(m[5]) }];
};

export function binlogEntry(index: number, term: number, gtid: string, file: string, endPos: number, size = 96): Entry {
  const head = Buffer.from(`${gtid}|${file}|${endPos}|`, "latin1");
  return { index, term, type: 0, data: Buffer.concat([head, payloadOf(index, term, Math.max(0, size - head.length))]) };
}
