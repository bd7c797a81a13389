/** Assertions shared by the GTID tests. */
import assert from "node:assert/strict";
import { GtidParseError } from "../src/binlog/gtid-mysql.ts";

/** fn must throw a GtidParseError (code GTID_PARSE) whose message mentions each given text. */
export function assertGtidParseError(fn: () => unknown, ...mentions: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof GtidParseError, `expected GtidParseError, got ${String(error)}`);
    assert.equal(error.code, "GTID_PARSE");
    for (const m of mentions) assert.ok(error.message.includes(m), `'${error.message}' should mention '${m}'`);
    return true;
  });
}
