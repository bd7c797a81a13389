/**
 * Test helper: damage on disk. Flips one byte of a file in place; a store reading through the
 * page cache sees the change at once, as it would see a bad sector read back wrong.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";

export function flipByte(path: string, offset: number): void {
  const fd = openSync(path, "r+");
  try {
    const b = Buffer.alloc(1);
    if (readSync(fd, b, 0, 1, offset) !== 1) throw new RangeError(`${path} has no byte at ${offset}`);
    b[0] = b[0]! ^ 0x5a;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}
