/**
 * Real `kingbus node` processes standing in for the pods of one KingbusCluster's StatefulSet in
 * the in-process API server: a kubelet for controller tests.
 *
 * - It watches the cluster's Pods (created and deleted by the StatefulSet simulator) and runs one
 *   `bin/kingbus node` per pod, with the configuration the ConfigMap and the start-up script give
 *   a real pod (docs/operator.md, "Pods: identity and start-up"): id = ordinal + 1, name = pod
 *   name, the shared node.json (retention, log level), the admin token from the token Secret,
 *   `initialCluster` for ordinals below `bootstrap-members`, `join` through member 0 for the
 *   others. Only the addresses differ: each ordinal has a fixed pair of loopback ports (as each
 *   ordinal has a fixed DNS name), which the runner also offers as the operator's PodNetwork.
 * - The data directory belongs to the pod's volume claim (by the claim's uid): a pod recreated
 *   over the same claim finds its data, a new claim starts empty, a deleted claim's data goes.
 * - Readiness: it polls each process's /readyz and sets the pod Ready or not (the simulator must
 *   run with `podReady: false`), as the kubelet's readiness probe does.
 * - A process that exits by itself is restarted after a second while its pod exists.
 * Every process is killed and every directory removed by stop(), and on process exit.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeApiServer, Obj, StatefulSetSimulator } from "./apiserver/index.ts";
import { repoRoot } from "../../node/test-support/requirements.ts";
import { freePort } from "../../node/test-support/ports.ts";
import { AdminGrpcClient } from "../../node/src/admin/grpc-admin.ts";
import type { KingbusCluster } from "../src/api/kingbus-cluster.ts";
import type { PodNetwork } from "../src/controller/pod-admin.ts";

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});

export interface PodPorts {
  readonly peer: number;
  readonly http: number;
}

export interface PodRunnerOptions {
  readonly api: FakeApiServer;
  readonly sim: StatefulSetSimulator;
  readonly namespace: string;
  /** The KingbusCluster's name (the StatefulSet is kingbus-<name>). */
  readonly cluster: string;
  /** Ordinals that may ever run (default 7). */
  readonly maxOrdinals?: number;
  /** Raft timing of the processes (default 50 ms ticks, 10 election ticks: fast tests). */
  readonly tickMs?: number;
  readonly electionTicks?: number;
}

interface Proc {
  readonly ordinal: number;
  readonly podUid: string;
  readonly claimUid: string;
  child: ChildProcess | undefined;
  stopped: boolean;
  readonly stderr: string[];
  ready: boolean | undefined;
}

export interface WriteAck {
  readonly index: number;
  readonly sha256: string;
}

function sha256(data: string): string {
  return createHash("sha256").update(data).digest("hex");
}

export class PodRunner implements PodNetwork {
  readonly ports: ReadonlyMap<number, PodPorts>;
  readonly #o: PodRunnerOptions;
  readonly #root: string;
  readonly #procs = new Map<number, Proc>();
  readonly #stopWatch: () => void;
  #syncing: Promise<void> = Promise.resolve();
  #probe: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Every process start, by ordinal, for assertions. */
  readonly starts: Array<{ ordinal: number; claimUid: string; mode: "bootstrap" | "join" }> = [];

  private constructor(o: PodRunnerOptions, ports: Map<number, PodPorts>) {
    this.#o = o;
    this.ports = ports;
    this.#root = mkdtempSync(join(tmpdir(), "kingbus-pods-"));
    this.#stopWatch = o.api.onChange("*", (c) => {
      const kind = c.object.kind;
      if ((kind === "Pod" || kind === "PersistentVolumeClaim" || kind === undefined) && (c.object.metadata as Obj | undefined)?.namespace === o.namespace) this.#sync();
    });
    this.#probe = setInterval(() => void this.#probeAll(), 200);
    this.#sync();
  }

  static async start(o: PodRunnerOptions): Promise<PodRunner> {
    const ports = new Map<number, PodPorts>();
    for (let i = 0; i < (o.maxOrdinals ?? 7); i++) ports.set(i, { peer: await freePort(), http: await freePort() });
    return new PodRunner(o, ports);
  }

  get #sts(): string {
    return `kingbus-${this.#o.cluster}`;
  }

  #port(ordinal: number): PodPorts {
    const p = this.ports.get(ordinal);
    if (p === undefined) throw new Error(`PodRunner: no ports for ordinal ${ordinal} (maxOrdinals)`);
    return p;
  }

  // PodNetwork

  adminTarget(_cluster: KingbusCluster, ordinal: number): string {
    return `127.0.0.1:${this.#port(ordinal).peer}`;
  }

  memberUrls(_cluster: KingbusCluster, ordinal: number): { peerUrl: string; adminUrl: string } {
    const p = this.#port(ordinal);
    return { peerUrl: `http://127.0.0.1:${p.peer}`, adminUrl: `http://127.0.0.1:${p.http}` };
  }

  /** The ports as JSON, for an operator in another process (operator-process.ts). */
  portsJson(): string {
    return JSON.stringify({ [`${this.#o.namespace}/${this.#o.cluster}`]: Object.fromEntries(this.ports) });
  }

  /** Ordinals whose process runs. */
  runningOrdinals(): number[] {
    return [...this.#procs.values()].filter((p) => p.child !== undefined && !p.stopped).map((p) => p.ordinal).sort((a, b) => a - b);
  }

  stderrOf(ordinal: number): string {
    return this.#procs.get(ordinal)?.stderr.join("") ?? "";
  }

  #sync(): void {
    if (this.#stopped) return;
    this.#syncing = this.#syncing.then(() => this.#syncNow()).catch((e: unknown) => {
      process.stderr.write(`# PodRunner: ${e instanceof Error ? e.stack : String(e)}\n`);
    });
  }

  async #syncNow(): Promise<void> {
    if (this.#stopped) return;
    const { api, namespace } = this.#o;
    for (let ordinal = 0; ordinal < (this.#o.maxOrdinals ?? 7); ordinal++) {
      const pod = api.object("Pod", namespace, `${this.#sts}-${ordinal}`);
      const meta = pod?.metadata as Obj | undefined;
      const alive = pod !== undefined && meta?.deletionTimestamp === undefined;
      const proc = this.#procs.get(ordinal);
      if (proc !== undefined && (!alive || proc.podUid !== meta?.uid)) {
        await this.#kill(proc);
        this.#procs.delete(ordinal);
      }
      if (alive && !this.#procs.has(ordinal)) {
        const claimUid = this.#claimUid(pod);
        if (claimUid === undefined) continue;
        this.#launch(ordinal, String(meta!.uid), claimUid);
      }
    }
    // Data of claims that no longer exist goes with them.
    const claims = new Set(api.objects("PersistentVolumeClaim", namespace).map((c) => String((c.metadata as Obj).uid)));
    for (const dir of this.#dirs) {
      if (!claims.has(dir) && ![...this.#procs.values()].some((p) => p.claimUid === dir)) {
        rmSync(join(this.#root, dir), { recursive: true, force: true });
        this.#dirs.delete(dir);
      }
    }
  }

  readonly #dirs = new Set<string>();

  #claimUid(pod: Obj): string | undefined {
    const volumes = ((pod.spec as Obj | undefined)?.volumes ?? []) as Obj[];
    const claimName = (volumes.find((v) => v.name === "data")?.persistentVolumeClaim as Obj | undefined)?.claimName;
    if (typeof claimName !== "string") return undefined;
    const claim = this.#o.api.object("PersistentVolumeClaim", this.#o.namespace, claimName);
    return claim === undefined ? undefined : String((claim.metadata as Obj).uid);
  }

  /** The node configuration a real pod gets, with loopback addresses. */
  #config(ordinal: number, dataDir: string): { config: Record<string, unknown>; mode: "bootstrap" | "join" } {
    const { api, namespace } = this.#o;
    const cm = api.object("ConfigMap", namespace, `${this.#sts}-config`);
    const data = (cm?.data ?? {}) as Record<string, string>;
    if (data["node.json"] === undefined) throw new Error("PodRunner: the ConfigMap has no node.json yet");
    const shared = JSON.parse(data["node.json"]) as Record<string, unknown>;
    const bootstrap = Number(data["bootstrap-members"]);
    const token = this.token();
    const p = this.#port(ordinal);
    const urls = (o: number): { peerUrl: string; adminUrl: string } => ({ peerUrl: `http://127.0.0.1:${this.#port(o).peer}`, adminUrl: `http://127.0.0.1:${this.#port(o).http}` });
    const initial = (JSON.parse(data["initial-cluster.json"] ?? "[]") as Array<{ id: number; name: string }>).map((m) => ({ id: m.id, name: m.name, ...urls(m.id - 1) }));
    const config: Record<string, unknown> = {
      id: ordinal + 1,
      name: `${this.#sts}-${ordinal}`,
      dataDir,
      listen: { peer: `127.0.0.1:${p.peer}`, http: `127.0.0.1:${p.http}` },
      advertise: urls(ordinal),
      adminToken: token,
      raft: { tickMs: this.#o.tickMs ?? 50, electionTicks: this.#o.electionTicks ?? 10, heartbeatTicks: 1 },
      testWriteApi: true,
      logLevel: process.env.KINGBUS_TEST_LOG_LEVEL ?? "warn",
      ...(shared.storage === undefined ? {} : { storage: shared.storage }),
    };
    if (ordinal < bootstrap) {
      config.initialCluster = initial;
      return { config, mode: "bootstrap" };
    }
    config.join = urls(0).adminUrl;
    return { config, mode: "join" };
  }

  #launch(ordinal: number, podUid: string, claimUid: string): void {
    const dir = join(this.#root, claimUid);
    this.#dirs.add(claimUid);
    mkdirSync(dir, { recursive: true });
    const { config, mode } = this.#config(ordinal, join(dir, "data"));
    const configFile = join(dir, "node.json");
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    const proc: Proc = { ordinal, podUid, claimUid, child: undefined, stopped: false, stderr: [], ready: undefined };
    this.#procs.set(ordinal, proc);
    this.starts.push({ ordinal, claimUid, mode });
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("KINGBUS_") || k === "KINGBUS_NODE_ARGS"));
    const run = (): void => {
      if (proc.stopped || this.#stopped) return;
      const child = spawn(join(repoRoot, "bin", "kingbus"), ["node", "--config", configFile], { stdio: ["ignore", process.env.KINGBUS_TEST_STDOUT ? "inherit" : "ignore", "pipe"], env });
      child.stderr!.on("data", (chunk: Buffer) => {
        proc.stderr.push(chunk.toString());
        if (proc.stderr.length > 300) proc.stderr.shift();
        if (process.env.KINGBUS_TEST_STDERR) process.stderr.write(`[pod ${ordinal}] ${chunk.toString()}`);
      });
      running.add(child);
      proc.child = child;
      child.on("exit", () => {
        running.delete(child);
        if (proc.child === child) proc.child = undefined;
        // The kubelet restarts a container that exits while its pod exists.
        if (!proc.stopped && !this.#stopped) setTimeout(run, 1_000).unref();
      });
    };
    run();
  }

  async #kill(proc: Proc, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    proc.stopped = true;
    const child = proc.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async #probeAll(): Promise<void> {
    if (this.#stopped) return;
    await Promise.all([...this.#procs.values()].map(async (proc) => {
      let ready = false;
      if (proc.child !== undefined && !proc.stopped) {
        try {
          const res = await fetch(`http://127.0.0.1:${this.#port(proc.ordinal).http}/readyz`, { signal: AbortSignal.timeout(1_000) });
          ready = res.status === 200;
          await res.body?.cancel();
        } catch {
          ready = false;
        }
      }
      if (this.#stopped || this.#procs.get(proc.ordinal) !== proc || proc.ready === ready) return;
      proc.ready = ready;
      try {
        this.#o.sim.setPodReady(this.#o.namespace, `${this.#sts}-${proc.ordinal}`, ready);
      } catch {
        // the pod went meanwhile
      }
    }));
  }

  /** Deletes the pod's volume claim and the pod: the StatefulSet recreates both, the new claim empty. */
  replaceVolume(ordinal: number): void {
    this.#o.api.delete("PersistentVolumeClaim", this.#o.namespace, `data-${this.#sts}-${ordinal}`);
    this.#o.api.delete("Pod", this.#o.namespace, `${this.#sts}-${ordinal}`);
  }

  /** The admin token of the cluster (from its Secret): the test endpoints need it too. */
  token(): string {
    const secret = this.#o.api.object("Secret", this.#o.namespace, `${this.#sts}-admin-token`);
    return Buffer.from(String(((secret?.data ?? {}) as Record<string, string>).token ?? ""), "base64").toString("utf8");
  }

  #headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token()}` };
  }

  /** GET a test endpoint of a running process. */
  async debug<T>(ordinal: number, path: string): Promise<T | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.#port(ordinal).http}${path}`, { headers: this.#headers(), signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { data: T };
      return res.status === 200 ? body.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** The ordinal every running process that answers agrees leads, if any. */
  async leader(): Promise<number | undefined> {
    const statuses = await Promise.all(this.runningOrdinals().map(async (o) => ({ o, s: await this.debug<{ role: string; lead: number }>(o, "/debug/status") })));
    const leaders = statuses.filter((x) => x.s?.role === "leader");
    return leaders.length === 1 ? leaders[0]!.o : undefined;
  }

  /** Proposes `data` on the leader through the test write API; retries across leader changes. */
  async write(data: string, timeoutMs = 10_000): Promise<WriteAck> {
    const deadline = Date.now() + timeoutMs;
    let last = "no leader";
    while (Date.now() < deadline && !this.#stopped) {
      const leader = await this.leader();
      if (leader !== undefined) {
        try {
          const res = await fetch(`http://127.0.0.1:${this.#port(leader).http}/debug/write`, { method: "POST", body: data, headers: this.#headers(), signal: AbortSignal.timeout(5_000) });
          const body = (await res.json()) as { message: string; data: { index: number } };
          if (res.status === 200) return { index: body.data.index, sha256: sha256(data) };
          last = `${res.status} ${body.message}`;
        } catch (e) {
          last = e instanceof Error ? e.message : String(e);
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`write not acknowledged within ${timeoutMs} ms: ${last}`);
  }

  /** The entries a member applied, by index. */
  async entries(ordinal: number): Promise<Map<number, string>> {
    const list = await this.debug<Array<{ index: number; sha256: string }>>(ordinal, "/debug/entries");
    if (list === undefined) throw new Error(`entries of ordinal ${ordinal}: no answer\n${this.stderrOf(ordinal)}`);
    return new Map(list.map((e) => [e.index, e.sha256]));
  }

  /** Hands Raft leadership to an ordinal through the admin gRPC service. */
  async transferLeadership(to: number, token = this.token()): Promise<void> {
    const from = await this.leader();
    if (from === undefined) throw new Error("no leader to transfer from");
    if (from === to) return;
    const client = new AdminGrpcClient(`127.0.0.1:${this.#port(from).peer}`, { token });
    try {
      await client.call("TransferLeadership", { targetId: to + 1 }, { deadlineMs: 10_000 });
    } finally {
      client.close();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#probe);
    this.#stopWatch();
    await this.#syncing;
    await Promise.all([...this.#procs.values()].map((p) => this.#kill(p)));
    this.#procs.clear();
    rmSync(this.#root, { recursive: true, force: true });
  }
}
