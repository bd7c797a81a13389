/**
 * Real `kingbus node` processes on 127.0.0.1 for cluster tests: free ports, one data directory
 * each, the test-only write API on. Every process is killed and every directory removed by
 * stop(), and on process exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "./requirements.ts";
import { freePort } from "./ports.ts";

export interface NodeProcess {
  id: number;
  name: string;
  peerPort: number;
  httpPort: number;
  dataDir: string;
  configFile: string;
  child: ChildProcess | undefined;
  stderr: string[];
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});

export interface Envelope<T> {
  status: number;
  message: string;
  data: T;
}

export interface DebugStatus {
  id: number;
  term: number;
  lead: number;
  role: string;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  voters: number[];
  learners: number[];
}

export class KingbusCluster {
  readonly nodes: NodeProcess[];
  private readonly root: string;

  private constructor(root: string, nodes: NodeProcess[]) {
    this.root = root;
    this.nodes = nodes;
  }

  static async create(size: number, options: { tickMs?: number; electionTicks?: number } = {}): Promise<KingbusCluster> {
    const root = mkdtempSync(join(tmpdir(), "kingbus-cluster-"));
    const nodes: NodeProcess[] = [];
    for (let i = 1; i <= size; i++) {
      nodes.push({ id: i, name: `kingbus_${i}`, peerPort: await freePort(), httpPort: await freePort(), dataDir: join(root, `node-${i}`), configFile: join(root, `node-${i}.json`), child: undefined, stderr: [] });
    }
    const initialCluster = nodes.map((n) => ({ id: n.id, name: n.name, peerUrl: `http://127.0.0.1:${n.peerPort}`, adminUrl: `http://127.0.0.1:${n.httpPort}` }));
    for (const n of nodes) {
      const config = {
        id: n.id,
        name: n.name,
        dataDir: n.dataDir,
        listen: { peer: `127.0.0.1:${n.peerPort}`, http: `127.0.0.1:${n.httpPort}` },
        initialCluster,
        raft: { tickMs: options.tickMs ?? 50, electionTicks: options.electionTicks ?? 10, heartbeatTicks: 1 },
        testWriteApi: true,
        logLevel: process.env.KINGBUS_TEST_LOG_LEVEL ?? "warn",
      };
      writeFileSync(n.configFile, JSON.stringify(config, null, 2));
    }
    const cluster = new KingbusCluster(root, nodes);
    for (const n of nodes) cluster.start(n.id);
    return cluster;
  }

  /** A new node, not in the initial cluster, that joins through `via`'s admin API. */
  async addJoiner(id: number, via: number): Promise<NodeProcess> {
    const n: NodeProcess = { id, name: `kingbus_${id}`, peerPort: await freePort(), httpPort: await freePort(), dataDir: join(this.root, `node-${id}`), configFile: join(this.root, `node-${id}.json`), child: undefined, stderr: [] };
    const model = JSON.parse(readFileSync(this.nodes[0]!.configFile, "utf8")) as Record<string, unknown>;
    const config = {
      ...model,
      id,
      name: n.name,
      dataDir: n.dataDir,
      listen: { peer: `127.0.0.1:${n.peerPort}`, http: `127.0.0.1:${n.httpPort}` },
      advertise: { peerUrl: `http://127.0.0.1:${n.peerPort}`, adminUrl: `http://127.0.0.1:${n.httpPort}` },
      initialCluster: undefined,
      join: `http://127.0.0.1:${this.node(via).httpPort}`,
    };
    writeFileSync(n.configFile, JSON.stringify(config, null, 2));
    this.nodes.push(n);
    this.start(id);
    return n;
  }

  node(id: number): NodeProcess {
    return this.nodes.find((n) => n.id === id)!;
  }

  start(id: number): void {
    const n = this.node(id);
    const child = spawn(join(repoRoot, "bin", "kingbus"), ["node", "--config", n.configFile], { stdio: ["ignore", process.env.KINGBUS_TEST_STDOUT ? "inherit" : "ignore", "pipe"] });
    child.stderr!.on("data", (chunk: Buffer) => {
      n.stderr.push(chunk.toString());
      if (n.stderr.length > 200) n.stderr.shift();
    });
    running.add(child);
    child.on("exit", () => running.delete(child));
    n.child = child;
  }

  async kill(id: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const n = this.node(id);
    const child = n.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
    n.child = undefined;
  }

  isRunning(id: number): boolean {
    const c = this.node(id).child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  async call<T>(id: number, method: string, path: string, body?: Buffer | string): Promise<Envelope<T>> {
    const res = await fetch(`http://127.0.0.1:${this.node(id).httpPort}${path}`, { method, body, signal: AbortSignal.timeout(5000) });
    const json = (await res.json()) as { message: string; data: T };
    return { status: res.status, message: json.message, data: json.data };
  }

  async status(id: number): Promise<DebugStatus | undefined> {
    try {
      const r = await this.call<DebugStatus>(id, "GET", "/debug/status");
      return r.status === 200 ? r.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** The leader all running nodes agree on, once they do. */
  async waitForLeader(timeoutMs = 10_000, exclude: number[] = []): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ids = this.nodes.filter((n) => this.isRunning(n.id) && !exclude.includes(n.id)).map((n) => n.id);
      const statuses = await Promise.all(ids.map((id) => this.status(id)));
      const leaders = statuses.filter((s) => s?.role === "leader");
      const lead = statuses[0]?.lead;
      if (leaders.length === 1 && lead && statuses.every((s) => s?.lead === lead) && !exclude.includes(lead)) return lead;
      if (Date.now() > deadline) throw new Error(`no agreed leader within ${timeoutMs} ms: ${JSON.stringify(statuses)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async write(leader: number, data: string): Promise<{ index: number; term: number }> {
    const r = await this.call<{ index: number; term: number }>(leader, "POST", "/debug/write", data);
    if (r.status !== 200) throw new Error(`write to ${leader}: ${r.status} ${r.message}`);
    return r.data;
  }

  /** Entries from `from` (default: the node's first retained index) through its applied index. */
  async entries(id: number, from?: number): Promise<Array<{ index: number; term: number; type: number; sha256: string }>> {
    const r = await this.call<Array<{ index: number; term: number; type: number; sha256: string }>>(id, "GET", from === undefined ? "/debug/entries" : `/debug/entries?from=${from}`);
    if (r.status !== 200) throw new Error(`entries of node ${id}: ${r.status} ${r.message}`);
    return r.data;
  }

  async waitForApplied(id: number, index: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (((await this.status(id))?.applied ?? 0) < index) {
      if (Date.now() > deadline) throw new Error(`node ${id} did not apply ${index} within ${timeoutMs} ms: ${JSON.stringify(await this.status(id))}\n${this.node(id).stderr.join("")}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await this.kill(n.id, "SIGTERM");
    rmSync(this.root, { recursive: true, force: true });
  }
}
