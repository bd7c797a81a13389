/**
 * Small files replaced atomically: written to a temporary name, fsynced, renamed over the old one,
 * and the directory fsynced so the rename itself survives a crash. The content is framed with a
 * magic, a version and a CRC32, so a damaged file is refused instead of misread.
 *
 *   "KBMF" | u16 version | u16 reserved | u32 length | u32 crc | payload (JSON, UTF-8)
 */
import { open, readFile, rename, unlink } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { join } from "node:path";
import { StorageError, isNoSpace } from "./errors.ts";

const MAGIC = Buffer.from("KBMF");
const HEADER = 16;
export const META_FORMAT_VERSION = 1;

export async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Replaces dir/name with `bytes` atomically: temp file, fsync, rename, fsync of the directory. */
export async function writeFileAtomically(dir: string, name: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dir, `${name}.tmp`);
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, name));
    await fsyncDirectory(dir);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (isNoSpace(e)) throw new StorageError("STORAGE_NO_SPACE", `no space to write ${name}`, { file: join(dir, name), cause: e });
    throw e;
  }
}

export async function writeAtomicFile(dir: string, name: string, value: unknown): Promise<void> {
  const payload = Buffer.from(JSON.stringify(value), "utf8");
  const bytes = Buffer.alloc(HEADER + payload.length);
  MAGIC.copy(bytes, 0);
  bytes.writeUInt16LE(META_FORMAT_VERSION, 4);
  bytes.writeUInt32LE(payload.length, 8);
  bytes.writeUInt32LE(crc32(payload), 12);
  payload.copy(bytes, HEADER);
  await writeFileAtomically(dir, name, bytes);
}

/** The file's JSON value, undefined when it does not exist; a damaged file is STORAGE_CORRUPT. */
export async function readAtomicFile(dir: string, name: string): Promise<unknown> {
  const path = join(dir, name);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw e;
  }
  if (bytes.length < HEADER || !bytes.subarray(0, 4).equals(MAGIC)) {
    throw new StorageError("STORAGE_CORRUPT", "not a kingbus metadata file (bad magic)", { file: path, offset: 0 });
  }
  const version = bytes.readUInt16LE(4);
  if (version !== META_FORMAT_VERSION) {
    throw new StorageError("STORAGE_CORRUPT", `metadata format version ${version}, this kingbus reads ${META_FORMAT_VERSION}`, { file: path, offset: 4 });
  }
  const length = bytes.readUInt32LE(8);
  const payload = bytes.subarray(HEADER);
  if (payload.length !== length || crc32(payload) !== bytes.readUInt32LE(12)) {
    throw new StorageError("STORAGE_CORRUPT", "metadata file fails its length or CRC32 check", { file: path, offset: HEADER });
  }
  try {
    return JSON.parse(payload.toString("utf8")) as unknown;
  } catch (cause) {
    throw new StorageError("STORAGE_CORRUPT", "metadata file does not hold JSON", { file: path, offset: HEADER, cause });
  }
}
