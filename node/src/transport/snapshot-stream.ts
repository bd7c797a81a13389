/**
 * Snapshot transfer over the Raft service's SendSnapshot stream.
 *
 * Format: one header (the MsgSnap and the list of files with their sizes), then each file in the
 * header's order as chunks at consecutive offsets followed by a FileEnd carrying the file's size
 * and CRC32, then the sender half-closes.
 *
 * The receiver writes into a fresh hidden directory `.incoming-*` under its snapshot directory:
 * each file under a temporary name, fsynced, checked (size and CRC32), renamed; then the directory
 * is fsynced and renamed to `snap-<index>-<term>-<random>` and the parent fsynced. Only a directory
 * of that name is a snapshot; any failure removes the incoming directory, and one left by a crash
 * is removed by `removeIncompleteSnapshots`. Both sides hold one chunk at a time (plus what gRPC
 * buffers: 16 messages on the receiving side), whatever the file sizes.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { Client, ClientWritableStream, Metadata, ServiceError } from "@grpc/grpc-js";
import { MessageType, type Message, type SnapshotMessage } from "../raft/messages.ts";
import { TransportError } from "./errors.ts";
import { kingbusProto } from "./proto.ts";
import { decodeMessage, encodeMessage } from "./raft-codec.ts";
import type { WireSnapshotChunk, WireSnapshotHeader, WireSnapshotResponse } from "./wire-types.ts";

export const DEFAULT_CHUNK_BYTES = 256 * 1024;
const INCOMING_PREFIX = ".incoming-";
const PART_SUFFIX = ".part";
const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/;

/** The files of a snapshot: plain names inside `dir`. They must not change while being sent. */
export interface SnapshotSource {
  dir: string;
  files: readonly string[];
}

export interface SendSnapshotOptions {
  client: Client;
  metadata: Metadata;
  message: SnapshotMessage;
  source: SnapshotSource;
  chunkBytes?: number;
  /** The transfer is abandoned when a chunk has not been taken by the peer for this long. */
  stallTimeoutMs?: number;
  signal?: AbortSignal;
  /** Test hook: changes a chunk after its bytes went into the file's CRC32. */
  tamper?: (file: string, offset: number, data: Buffer) => Buffer;
}

export interface SnapshotTransferResult {
  bytes: number;
  files: number;
}

function checkName(name: string): void {
  if (!SAFE_NAME.test(name) || name.endsWith(PART_SUFFIX)) {
    throw new TransportError("SNAPSHOT_INVALID", `snapshot file name ${JSON.stringify(name)} is not a plain file name`);
  }
}

function statusError(error: ServiceError): TransportError {
  return new TransportError("SNAPSHOT_FAILED", `the peer ended the snapshot stream: ${error.details || error.message}`, { cause: error });
}

/** Streams the snapshot; resolves once the receiver has verified, stored and taken it. */
export async function sendSnapshot(options: SendSnapshotOptions): Promise<SnapshotTransferResult> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  const { dir, files } = options.source;
  const header: WireSnapshotHeader = { message: encodeMessage(options.message), files: [] };
  for (const name of files) {
    checkName(name);
    try {
      header.files.push({ name, size: (await stat(join(dir, name))).size });
    } catch (cause) {
      throw new TransportError("SNAPSHOT_FAILED", `cannot read snapshot file ${name} in ${dir}`, { cause });
    }
  }

  const { sendSnapshot: method } = kingbusProto();
  let call!: ClientWritableStream<WireSnapshotChunk>;
  const response = new Promise<WireSnapshotResponse>((resolve, reject) => {
    call = options.client.makeClientStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, options.metadata, {},
      (error, value) => (error ? reject(statusError(error)) : resolve(value!)));
  });
  call.on("error", () => undefined);
  const endedEarly = response.then(() => {
    throw new TransportError("SNAPSHOT_FAILED", "the peer answered before the snapshot was complete");
  });
  endedEarly.catch(() => undefined);
  const aborted = new Promise<never>((_, reject) => {
    const fail = (): void => reject(new TransportError("SNAPSHOT_FAILED", "snapshot transfer cancelled"));
    if (options.signal?.aborted === true) fail();
    options.signal?.addEventListener("abort", fail, { once: true });
  });
  aborted.catch(() => undefined);

  const write = async (chunk: WireSnapshotChunk): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TransportError("SNAPSHOT_FAILED", `the peer took no chunk for ${stallTimeoutMs} ms`)), stallTimeoutMs);
    });
    try {
      await Promise.race([new Promise<void>((resolve) => call.write(chunk, () => resolve())), endedEarly, aborted, stalled]);
    } finally {
      clearTimeout(timer);
    }
  };

  let total = 0;
  try {
    await write({ header });
    for (const { name, size } of header.files) {
      const fh = await open(join(dir, name), "r");
      try {
        let crc = 0;
        let offset = 0;
        while (offset < size) {
          const data = Buffer.allocUnsafe(Math.min(chunkBytes, size - offset));
          const { bytesRead } = await fh.read(data, 0, data.length, offset);
          if (bytesRead === 0) throw new TransportError("SNAPSHOT_FAILED", `${name} shrank below ${size} bytes while being sent`);
          const chunk = data.subarray(0, bytesRead);
          crc = crc32(chunk, crc);
          await write({ data: { name, offset, data: options.tamper?.(name, offset, chunk) ?? chunk } });
          offset += bytesRead;
        }
        await write({ fileEnd: { name, size, crc32: crc } });
        total += size;
      } finally {
        await fh.close();
      }
    }
    call.end();
    const result = await Promise.race([response, aborted]);
    return { bytes: result.bytes, files: result.files };
  } catch (e) {
    call.cancel();
    throw e instanceof TransportError ? e : new TransportError("SNAPSHOT_FAILED", `sending the snapshot failed after ${total} bytes`, { cause: e });
  }
}

export interface ReceivedSnapshot {
  message: SnapshotMessage;
  /** The complete snapshot directory (`snap-*`), every file fsynced and verified. */
  dir: string;
  bytes: number;
  files: number;
}

/**
 * Reads one snapshot stream into a fresh directory under `parentDir`. Resolves only when every
 * file announced was received whole and matches its size and CRC32; on any failure nothing but
 * a removed incoming directory is left behind.
 */
export async function receiveSnapshot(chunks: AsyncIterable<WireSnapshotChunk>, parentDir: string, expect: { from: number; to: number }): Promise<ReceivedSnapshot> {
  await mkdir(parentDir, { recursive: true });
  const suffix = randomBytes(6).toString("hex");
  const incoming = join(parentDir, `${INCOMING_PREFIX}${suffix}`);
  await mkdir(incoming);
  try {
    return await receiveInto(chunks, parentDir, incoming, suffix, expect);
  } catch (e) {
    await rm(incoming, { recursive: true, force: true });
    throw e;
  }
}

interface OpenFile {
  name: string;
  size: number;
  fh: FileHandle;
  received: number;
  crc: number;
}

async function receiveInto(chunks: AsyncIterable<WireSnapshotChunk>, parentDir: string, incoming: string, suffix: string,
  expect: { from: number; to: number }): Promise<ReceivedSnapshot> {
  let message: SnapshotMessage | undefined;
  let files: { name: string; size: number }[] = [];
  let next = 0;
  let current: OpenFile | undefined;
  try {
    for await (const chunk of chunks) {
      if (chunk.part === "header") {
        if (message !== undefined) throw new TransportError("SNAPSHOT_INVALID", "a second snapshot header");
        message = snapshotMessage(chunk.header!, expect);
        files = checkFiles(chunk.header!);
        continue;
      }
      if (message === undefined) throw new TransportError("SNAPSHOT_INVALID", `snapshot stream starts with ${chunk.part ?? "an unknown part"}, not a header`);
      if (chunk.part === "data") {
        const { name, offset, data } = chunk.data!;
        if (current === undefined) {
          const file = files[next];
          if (file === undefined || file.name !== name) throw new TransportError("SNAPSHOT_INVALID", `chunk of ${JSON.stringify(name)} where ${file === undefined ? "no more files" : file.name} was expected`);
          current = { ...file, fh: await open(join(incoming, name + PART_SUFFIX), "wx"), received: 0, crc: 0 };
        }
        if (name !== current.name || offset !== current.received || current.received + data.length > current.size) {
          throw new TransportError("SNAPSHOT_INVALID", `chunk of ${JSON.stringify(name)} at ${offset} (+${data.length}) while ${current.name} has ${current.received} of ${current.size} bytes`);
        }
        await current.fh.write(data, 0, data.length, offset);
        current.received += data.length;
        current.crc = crc32(data, current.crc);
      } else if (chunk.part === "fileEnd") {
        const end = chunk.fileEnd!;
        const file = files[next];
        if (file === undefined || file.name !== end.name) throw new TransportError("SNAPSHOT_INVALID", `end of ${JSON.stringify(end.name)} where ${file === undefined ? "no more files" : file.name} was expected`);
        current ??= { ...file, fh: await open(join(incoming, file.name + PART_SUFFIX), "wx"), received: 0, crc: 0 };
        if (end.size !== file.size || current.received !== file.size) {
          throw new TransportError("SNAPSHOT_CORRUPT", `${file.name}: received ${current.received} bytes, header says ${file.size}, end says ${end.size}`);
        }
        if (end.crc32 !== current.crc) {
          throw new TransportError("SNAPSHOT_CORRUPT", `${file.name}: CRC32 of the received bytes is ${current.crc.toString(16)}, the sender's is ${end.crc32.toString(16)}`);
        }
        await current.fh.sync();
        await current.fh.close();
        await rename(join(incoming, file.name + PART_SUFFIX), join(incoming, file.name));
        current = undefined;
        next++;
      } else {
        throw new TransportError("SNAPSHOT_INVALID", "a snapshot chunk of a kind this kingbus does not know");
      }
    }
  } finally {
    await current?.fh.close().catch(() => undefined);
  }
  if (message === undefined) throw new TransportError("SNAPSHOT_INVALID", "snapshot stream without a header");
  if (next !== files.length) throw new TransportError("SNAPSHOT_INVALID", `snapshot stream ended after ${next} of ${files.length} files`);
  await fsyncDir(incoming);
  const dir = join(parentDir, `snap-${message.snapshot.index}-${message.snapshot.term}-${suffix}`);
  await rename(incoming, dir);
  await fsyncDir(parentDir);
  return { message, dir, bytes: files.reduce((sum, f) => sum + f.size, 0), files: files.length };
}

function snapshotMessage(header: WireSnapshotHeader, expect: { from: number; to: number }): SnapshotMessage {
  if (header.message === null) throw new TransportError("SNAPSHOT_INVALID", "snapshot header without its message");
  const message: Message = decodeMessage(header.message);
  if (message.type !== MessageType.Snap || message.from !== expect.from || message.to !== expect.to) {
    throw new TransportError("SNAPSHOT_INVALID", `snapshot header carries ${message.type} ${message.from}->${message.to}, expected MsgSnap ${expect.from}->${expect.to}`);
  }
  return message;
}

function checkFiles(header: WireSnapshotHeader): { name: string; size: number }[] {
  const seen = new Set<string>();
  return header.files.map(({ name, size }) => {
    checkName(name);
    if (seen.has(name)) throw new TransportError("SNAPSHOT_INVALID", `snapshot file ${name} listed twice`);
    seen.add(name);
    if (!Number.isSafeInteger(size) || size < 0) throw new TransportError("SNAPSHOT_INVALID", `snapshot file ${name} has size ${size}`);
    return { name, size };
  });
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Removes incoming directories a crash left behind; complete snapshots (`snap-*`) are kept. */
export async function removeIncompleteSnapshots(parentDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(parentDir);
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return;
    throw e;
  }
  await Promise.all(names.filter((n) => n.startsWith(INCOMING_PREFIX)).map((n) => rm(join(parentDir, n), { recursive: true, force: true })));
}
