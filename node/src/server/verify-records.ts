/**
 * When the binlog server checks each stored record's CRC32 as it reads it (config
 * `storage.verifyServedRecords`, LogBinlogFeed's `verifyRecords`):
 * - "always": every record, on every read;
 * - "auto": only while some served file's events carry no CRC32 of their own. When they all do,
 *   every replica checks each event's CRC32 as it receives it (MySQL and MariaDB stop the IO
 *   thread on a mismatch), so checking the record too would only check the same bytes twice; it
 *   was a quarter of the CPU a dump spends per gigabyte.
 */
export const VERIFY_RECORDS = ["always", "auto"] as const;
export type VerifyRecords = (typeof VERIFY_RECORDS)[number];
