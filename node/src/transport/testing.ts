/** Helpers for the transport's tests: transports on 127.0.0.1 that record what they receive. */
import { connect, createServer, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { MessageType, type Message } from "../raft/messages.ts";
import { EntryType } from "../raft/types.ts";
import { PeerTransport, type PeerTransportOptions } from "./peer-transport.ts";
import type { TransportError } from "./errors.ts";

/** Polls `check` until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
  return performance.now() - start;
}

/** A port that was free a moment ago (for a peer that starts later at a known address). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export function heartbeat(from: number, to: number, commit: number): Message {
  return { type: MessageType.Heartbeat, from, to, term: 1, commit };
}

export function append(from: number, to: number, index: number, dataBytes: number): Message {
  const data = new Uint8Array(dataBytes).fill(index & 0xff);
  return { type: MessageType.App, from, to, term: 2, prevIndex: index - 1, prevTerm: 2, entries: [{ index, term: 2, type: EntryType.Normal, data }], commit: index - 1 };
}

export interface Recorder {
  transport: PeerTransport;
  address: string;
  /** Every message received, per sender, in arrival order. */
  received: Map<number, Message[]>;
  /** Size of every batch delivered, in arrival order. */
  batches: number[];
  reachability: { peer: number; reachable: boolean; cause?: TransportError }[];
  errors: Error[];
  count(from: number): number;
}

export async function startRecorder(id: number, options: Partial<PeerTransportOptions> = {}): Promise<Recorder> {
  const received = new Map<number, Message[]>();
  const batches: number[] = [];
  const reachability: Recorder["reachability"] = [];
  const errors: Error[] = [];
  const transport = new PeerTransport({
    id,
    listen: "127.0.0.1:0",
    backoff: { initialMs: 20, maxMs: 200 },
    onMessages: (messages, from) => {
      batches.push(messages.length);
      let list = received.get(from);
      if (list === undefined) received.set(from, (list = []));
      list.push(...messages);
    },
    onReachability: (peer, reachable, cause) => reachability.push({ peer, reachable, cause }),
    onError: (e) => errors.push(e),
    ...options,
  });
  const address = await transport.start();
  return { transport, address, received, batches, reachability, errors, count: (from) => received.get(from)?.length ?? 0 };
}

/** Transports 1..n, each a peer of every other. */
export async function startCluster(n: number, options: Partial<PeerTransportOptions> = {}): Promise<Recorder[]> {
  const nodes: Recorder[] = [];
  for (let id = 1; id <= n; id++) nodes.push(await startRecorder(id, options));
  for (const a of nodes) for (const b of nodes) if (a !== b) a.transport.addPeer(nodes.indexOf(b) + 1, `http://${b.address}`);
  return nodes;
}

export async function closeAll(nodes: readonly Recorder[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.transport.close()));
}

const tempDirs: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kingbus-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Resources that would keep the process alive: sockets, servers, timers. */
export function liveHandles(): string[] {
  return process.getActiveResourcesInfo().filter((r) => /TCP|Timeout|Immediate|Http2|TLS/i.test(r));
}

/**
 * A full garbage collection on demand, without starting node with --expose-gc: memory tests
 * measure what is retained, not garbage the collector has not got round to yet.
 */
export function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

/**
 * A TCP relay to 127.0.0.1:`port` that can go silent: while frozen it keeps every connection open
 * and accepts new ones, but passes no byte either way, like a peer behind a partition.
 */
export async function startRelay(port: number): Promise<{ address: string; freeze(): void; thaw(): void; close(): Promise<void> }> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on("data", (data) => {
        if (!frozen) to.write(data);
      });
      from.on("error", () => to.destroy());
      from.on("close", () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    address: `127.0.0.1:${address.port}`,
    freeze: () => void (frozen = true),
    thaw: () => void (frozen = false),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
