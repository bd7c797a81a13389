/**
 * TCP proxies on 127.0.0.1, written with node:net, for faults the suite injects between processes:
 *
 * - a link proxy sits on one directed peer link (node A dials node B through it); `cut()` stops
 *   forwarding in both directions, as a network partition does: bytes already sent stay in the
 *   kernel's buffers (the sockets are paused, so TCP flow control stalls the sender), connections
 *   made meanwhile are accepted and held; `heal()` lets everything through again, in order. With
 *   `cut("reset")` the connections are reset instead, and new ones refused.
 * - a service proxy stands for a Kubernetes Service in front of the pods: each new connection goes
 *   to the next backend in turn among those `candidates()` names, skipping any that refuses it.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

export type CutMode = "blackhole" | "reset";

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

export interface ProxyStats {
  connections: number;
  bytesForward: number;
  bytesBack: number;
}

export class TcpProxy {
  readonly name: string;
  port = 0;
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private readonly candidates: () => number[];
  private next = 0;
  private mode: CutMode | undefined;
  /** Connections accepted while cut in blackhole mode: connected upstream on heal. */
  private held: Pair[] = [];
  readonly stats: ProxyStats = { connections: 0, bytesForward: 0, bytesBack: 0 };

  private constructor(name: string, candidates: () => number[]) {
    this.name = name;
    this.candidates = candidates;
    this.server = createServer({ pauseOnConnect: true }, (client) => this.accept(client));
    this.server.on("error", () => undefined);
  }

  /** A proxy to one port, or to whichever of `candidates()` accepts (in turn). */
  static async start(name: string, target: number | (() => number[]), port = 0): Promise<TcpProxy> {
    const p = new TcpProxy(name, typeof target === "number" ? () => [target] : target);
    await new Promise<void>((resolve, reject) => {
      p.server.once("error", reject);
      p.server.listen(port, "127.0.0.1", () => {
        p.server.off("error", reject);
        resolve();
      });
    });
    p.port = (p.server.address() as AddressInfo).port;
    return p;
  }

  get isCut(): boolean {
    return this.mode !== undefined;
  }

  get openConnections(): number {
    return this.pairs.size;
  }

  cut(mode: CutMode = "blackhole"): void {
    this.mode = mode;
    for (const pair of this.pairs) {
      if (mode === "reset") {
        pair.client.resetAndDestroy();
        pair.upstream?.resetAndDestroy();
      } else {
        pair.client.pause();
        pair.upstream?.pause();
      }
    }
  }

  heal(): void {
    if (this.mode === undefined) return;
    this.mode = undefined;
    for (const pair of this.pairs) {
      if (pair.upstream) {
        pair.client.resume();
        pair.upstream.resume();
      }
    }
    const held = this.held;
    this.held = [];
    for (const pair of held) if (!pair.client.destroyed) this.dial(pair, this.candidates(), 0);
  }

  /** Resets every open connection (the proxy keeps accepting). */
  resetAll(): void {
    for (const pair of this.pairs) {
      pair.client.resetAndDestroy();
      pair.upstream?.resetAndDestroy();
    }
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.stats.connections++;
    client.on("error", () => undefined);
    if (this.mode === "reset") {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined };
    this.pairs.add(pair);
    client.once("close", () => {
      this.pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (this.mode === "blackhole") {
      this.held.push(pair);
      return;
    }
    const candidates = this.candidates();
    const start = this.next++;
    this.dial(pair, candidates.map((_, i) => candidates[(start + i) % candidates.length]!), 0);
  }

  private dial(pair: Pair, order: number[], attempt: number): void {
    const port = order[attempt];
    if (port === undefined) {
      pair.client.destroy();
      return;
    }
    const upstream = connect({ host: "127.0.0.1", port });
    upstream.setNoDelay(true);
    pair.client.setNoDelay(true);
    let connected = false;
    upstream.once("connect", () => {
      connected = true;
      pair.upstream = upstream;
      if (pair.client.destroyed) {
        upstream.destroy();
        return;
      }
      pair.client.on("data", (chunk: Buffer) => {
        this.stats.bytesForward += chunk.length;
        if (!upstream.write(chunk)) pair.client.pause();
      });
      upstream.on("drain", () => this.mode === undefined && pair.client.resume());
      upstream.on("data", (chunk: Buffer) => {
        this.stats.bytesBack += chunk.length;
        if (!pair.client.write(chunk)) upstream.pause();
      });
      pair.client.on("drain", () => this.mode === undefined && upstream.resume());
      pair.client.once("end", () => upstream.end());
      upstream.once("end", () => pair.client.end());
      upstream.once("close", () => pair.client.destroy());
      if (this.mode === "blackhole") upstream.pause();
      else pair.client.resume();
    });
    upstream.on("error", () => {
      if (!connected) this.dial(pair, order, attempt + 1);
      else pair.client.destroy();
    });
  }
}
