/**
 * The store's binlog keys of an entry (see storage/binlog-index.ts): every item of a batch (a
 * transaction with its GTID, or an event outside transactions, for file/position lookups) and
 * the last fragment of a fragmented transaction. Anything that is not a kingbus entry (control
 * records, test writes, empty entries) holds no transaction.
 */
import type { BinlogInfoExtractor, TransactionLocation } from "../storage/binlog-index.ts";
import { EntryType } from "../raft/types.ts";
import { decodeEntry, EntryKind, isLogEntry } from "./format.ts";

export const extractBinlogInfo: BinlogInfoExtractor = (entry) => {
  if (entry.type !== EntryType.Normal || !isLogEntry(entry.data)) return [];
  const kind = entry.data[3];
  if (kind !== EntryKind.Batch && kind !== EntryKind.Fragment) return [];
  const payload = decodeEntry(entry.data);
  if (payload.kind === "batch") {
    return payload.items.map((it): TransactionLocation => (it.kind === "transaction" && it.gtid ? { gtid: it.gtid, file: it.file, endPos: it.endPos } : { file: it.file, endPos: it.endPos }));
  }
  if (payload.kind === "fragment" && payload.last) return [payload.gtid ? { gtid: payload.gtid, file: payload.file, endPos: payload.endPos } : { file: payload.file, endPos: payload.endPos }];
  return [];
};
