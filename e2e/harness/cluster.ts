/**
 * The 3-pod kingbus cluster of the end-to-end suite: real `kingbus node` processes on 127.0.0.1
 * (node/test-support/kingbus-cluster.ts spawns them), configured the way the suite needs:
 *
 * - production-like Raft timing by default (100 ms ticks, a 1 s election timeout) rather than the
 *   unit tests' 50 ms ticks, so that a loaded 2-core machine does not hold spurious elections;
 * - optionally every directed peer link through a TcpProxy (node A's configuration names node B's
 *   peer URL as the proxy A->B), so a scenario can cut a node off from its peers and heal it;
 * - every process is watched: an exit the suite did not ask for is recorded with the end of the
 *   process's log, and fails the scenario (`unexpectedExits`).
 *
 * KingbusCluster.create starts the processes with its own configuration; this module stops them
 * at once, rewrites the configuration files, clears the data directories and starts them again,
 * so the first election happens under the suite's configuration.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { KingbusCluster, type DebugStatus } from "../../node/test-support/kingbus-cluster.ts";
import { debugBinlog, type DebugBinlog } from "../../node/test-support/syncer-harness.ts";
import { TcpProxy, type CutMode } from "./proxy.ts";
import { log } from "./log.ts";

export interface E2eClusterOptions {
  /** Default 3. */
  size?: number;
  /** Route every directed peer link through a TcpProxy (scenario 4). */
  proxiedPeers?: boolean;
  /** Default 100. */
  tickMs?: number;
  /** Default 10. */
  electionTicks?: number;
  /** storage.segmentBytes; default 8 MiB (small segments: snapshots and a small tmpfs work). */
  segmentBytes?: number;
}

export interface ExitRecord {
  id: number;
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  log: string;
}

interface NodeConfigFile {
  id: number;
  initialCluster: Array<{ id: number; name: string; peerUrl: string; adminUrl: string }>;
  raft: Record<string, number>;
  storage?: Record<string, number>;
  [key: string]: unknown;
}

export class E2eCluster {
  readonly kc: KingbusCluster;
  readonly ids: number[];
  /** "from->to" -> the proxy node `from` dials node `to` through. */
  readonly links = new Map<string, TcpProxy>();
  readonly unexpectedExits: ExitRecord[] = [];
  /** Exits the suite asked for or allowed (kills, and nodes a scenario expects to fail). */
  readonly expectedExits: ExitRecord[] = [];
  private readonly expecting = new Set<number>();
  private readonly tolerated = new Map<number, RegExp>();

  private constructor(kc: KingbusCluster) {
    this.kc = kc;
    this.ids = kc.nodes.map((n) => n.id);
  }

  static async create(o: E2eClusterOptions = {}): Promise<E2eCluster> {
    const kc = await KingbusCluster.create(o.size ?? 3);
    const c = new E2eCluster(kc);
    try {
      for (const n of kc.nodes) await kc.kill(n.id, "SIGKILL");
      if (o.proxiedPeers) {
        for (const from of kc.nodes) {
          for (const to of kc.nodes) {
            if (from.id !== to.id) c.links.set(`${from.id}->${to.id}`, await TcpProxy.start(`peer ${from.id}->${to.id}`, to.peerPort));
          }
        }
      }
      for (const n of kc.nodes) {
        const config = JSON.parse(readFileSync(n.configFile, "utf8")) as NodeConfigFile;
        config.raft = { tickMs: o.tickMs ?? 100, electionTicks: o.electionTicks ?? 10, heartbeatTicks: 1 };
        config.storage = { ...config.storage, segmentBytes: o.segmentBytes ?? 8 * 1024 * 1024 };
        if (o.proxiedPeers) {
          config.initialCluster = config.initialCluster.map((m) => (m.id === n.id ? m : { ...m, peerUrl: `http://127.0.0.1:${c.links.get(`${n.id}->${m.id}`)!.port}` }));
        }
        writeFileSync(n.configFile, JSON.stringify(config, null, 2));
        rmSync(n.dataDir, { recursive: true, force: true });
        n.stderr.length = 0;
      }
      for (const n of kc.nodes) c.start(n.id);
      return c;
    } catch (e) {
      await c.stop();
      throw e;
    }
  }

  node(id: number) {
    return this.kc.node(id);
  }

  pid(id: number): number | undefined {
    return this.kc.isRunning(id) ? this.kc.node(id).child?.pid : undefined;
  }

  isRunning(id: number): boolean {
    return this.kc.isRunning(id);
  }

  running(): number[] {
    return this.ids.filter((id) => this.kc.isRunning(id));
  }

  /** Starts a node's process and watches it for exits nobody asked for. */
  start(id: number): void {
    // The log of this run only: an exit record then quotes what this run wrote.
    this.kc.node(id).stderr.length = 0;
    this.kc.start(id);
    const child = this.kc.node(id).child!;
    child.once("exit", (code, signal) => {
      const rec: ExitRecord = { id, at: Date.now(), code, signal, log: this.logTail(id) };
      const allowed = this.tolerated.get(id);
      if (this.expecting.has(id) || (allowed !== undefined && allowed.test(rec.log))) this.expectedExits.push(rec);
      else {
        this.unexpectedExits.push(rec);
        log(`kingbus node ${id} exited on its own (code ${code}, signal ${signal}):\n${rec.log.split("\n").slice(-8).join("\n")}`);
      }
      this.expecting.delete(id);
    });
  }

  /** Kills a node on purpose (default SIGKILL) and waits for it to exit. */
  async kill(id: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (!this.kc.isRunning(id)) return;
    this.expecting.add(id);
    await this.kc.kill(id, signal);
  }

  /** A node exiting with a log that matches `pattern` is expected (a full disk, say). */
  tolerateExit(id: number, pattern: RegExp | undefined): void {
    if (pattern) this.tolerated.set(id, pattern);
    else this.tolerated.delete(id);
  }

  logTail(id: number): string {
    return this.kc.node(id).stderr.join("").split("\n").slice(-40).join("\n");
  }

  async status(id: number): Promise<DebugStatus | undefined> {
    return this.kc.status(id);
  }

  /** The leader every running node (but `exclude`) agrees on. */
  waitForLeader(timeoutMs = 20_000, exclude: number[] = []): Promise<number> {
    return this.kc.waitForLeader(timeoutMs, exclude);
  }

  /** The applied binlog state of a node, or undefined when it does not answer. */
  async binlog(id: number): Promise<DebugBinlog | undefined> {
    if (!this.kc.isRunning(id)) return undefined;
    return debugBinlog(this.kc, id).catch(() => undefined);
  }

  /** The node whose syncer is dumping from the primary, and when it was first seen so. */
  async pullingNode(): Promise<number | undefined> {
    const states = await Promise.all(this.running().map(async (id) => ({ id, s: await this.binlog(id) })));
    return states.find((x) => x.s?.syncer.phase === "running")?.id;
  }

  /** Waits until a node other than `exclude` runs its syncer against the primary; returns it. */
  async waitForPulling(timeoutMs: number, exclude: number[] = []): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.running().filter((id) => !exclude.includes(id)).map(async (id) => ({ id, s: await this.binlog(id) })));
      const pulling = states.find((x) => x.s?.syncer.phase === "running");
      if (pulling) return pulling.id;
      if (Date.now() > deadline) throw new Error(`no node is pulling from the primary within ${timeoutMs} ms: ${JSON.stringify(states.map((x) => ({ id: x.id, syncer: x.s?.syncer })))}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Cuts every peer link to and from `id` (needs proxiedPeers). */
  isolate(id: number, mode: CutMode = "blackhole"): void {
    if (this.links.size === 0) throw new Error("the cluster was created without proxied peer links");
    for (const [key, proxy] of this.links) {
      const [from, to] = key.split("->").map(Number);
      if (from === id || to === id) proxy.cut(mode);
    }
  }

  healAll(): void {
    for (const proxy of this.links.values()) proxy.heal();
  }

  async stop(): Promise<void> {
    for (const id of this.ids) this.expecting.add(id);
    await this.kc.stop();
    await Promise.all([...this.links.values()].map((p) => p.close()));
  }
}
