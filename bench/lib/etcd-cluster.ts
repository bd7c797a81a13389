/**
 * A 3-member etcd cluster on 127.0.0.1 for the Raft benchmark: the Debian `etcd-server` binary
 * (installed here when missing and running as root), one data directory each under a fresh
 * temporary folder, free ports (never etcd's 2379/2380, where a system etcd may listen). Every
 * member is killed and every directory removed by stop(), and on process exit.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Etcd3 } from "etcd3";
import { progress } from "./report.ts";
import { freePort } from "../../node/test-support/ports.ts";

export const ETCD_PACKAGE = "etcd-server";

const running = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGKILL");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export { freePort };

/** Whether something accepts connections on 127.0.0.1:port (a system etcd on 2379, say). */
export function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

function findEtcd(): string | undefined {
  for (const dir of ["/usr/bin", "/usr/local/bin", "/usr/sbin"]) if (existsSync(join(dir, "etcd"))) return join(dir, "etcd");
  try {
    return execFileSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The etcd binary and its version line. Installs the Debian package when it is missing and this
 * process runs as root; otherwise throws a message naming the package.
 */
export function ensureEtcd(): { path: string; version: string } {
  let path = findEtcd();
  if (path === undefined) {
    if (process.getuid?.() !== 0) throw new Error(`etcd is not installed: install the Debian package ${ETCD_PACKAGE} (apt-get install ${ETCD_PACKAGE}) or run as root`);
    progress(`installing the Debian package ${ETCD_PACKAGE}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    execFileSync("sh", ["-c", `apt-get update -qq && apt-get install -y -qq ${ETCD_PACKAGE}`], { stdio: ["ignore", "ignore", "inherit"], env });
    path = findEtcd();
    if (path === undefined) throw new Error(`installed ${ETCD_PACKAGE} but found no etcd binary`);
  }
  const line = execFileSync(path, ["--version"], { encoding: "utf8", env: etcdEnv() }).split("\n")[0]!.trim();
  // "etcd Version: 3.4.23"
  const version = `etcd ${line.replace(/^etcd Version:\s*/i, "")}`;
  return { path, version };
}

/** etcd 3.4 refuses to start on architectures other than amd64 and ppc64le unless told. */
function etcdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  // Only the few variables etcd needs: an ETCD_* setting in the caller's environment must not leak in.
  for (const k of ["PATH", "HOME", "LANG"]) if (process.env[k] !== undefined) env[k] = process.env[k];
  const goarch: Record<string, string> = { arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", ia32: "386" };
  if (process.arch !== "x64" && goarch[process.arch] !== undefined) env.ETCD_UNSUPPORTED_ARCH = goarch[process.arch];
  return env;
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 1000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess;
  stderr: string[];
}

export class EtcdCluster {
  readonly members: EtcdMember[];
  private readonly root: string;

  private constructor(root: string, members: EtcdMember[]) {
    this.root = root;
    this.members = members;
  }

  /** Starts `size` members with fsync on (etcd's default) and waits until every one is healthy. */
  static async create(binary: string, size = 3): Promise<EtcdCluster> {
    const root = mkdtempSync(join(tmpdir(), "kingbus-bench-etcd-"));
    dirs.add(root);
    const ports: Array<{ client: number; peer: number }> = [];
    for (let i = 0; i < size; i++) ports.push({ client: await freePort(), peer: await freePort() });
    const initialCluster = ports.map((p, i) => `e${i + 1}=http://127.0.0.1:${p.peer}`).join(",");
    const members: EtcdMember[] = ports.map((p, i) => {
      const name = `e${i + 1}`;
      const clientUrl = `http://127.0.0.1:${p.client}`;
      const peerUrl = `http://127.0.0.1:${p.peer}`;
      const dataDir = join(root, name);
      const args = [
        "--name", name, "--data-dir", dataDir,
        "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
        "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl,
        "--initial-cluster", initialCluster, "--initial-cluster-state", "new", "--initial-cluster-token", `bench-${process.pid}`,
        // The history of every put stays until compacted: room for a whole run without compaction.
        "--quota-backend-bytes", String(8 * 2 ** 30),
        "--logger", "zap", "--log-level", "warn",
      ];
      const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"], env: etcdEnv() });
      const stderr: string[] = [];
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr.push(chunk.toString());
        if (stderr.length > 200) stderr.shift();
      });
      running.add(child);
      child.on("exit", () => running.delete(child));
      return { name, clientUrl, peerUrl, dataDir, child, stderr };
    });
    const cluster = new EtcdCluster(root, members);
    try {
      await cluster.waitHealthy(20_000);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const m of this.members) {
      for (;;) {
        if (m.child.exitCode !== null || m.child.signalCode !== null) throw new Error(`etcd ${m.name} exited: ${m.stderr.join("").slice(-2000)}`);
        const r = await httpGet(`${m.clientUrl}/health`).catch(() => undefined);
        if (r?.status === 200 && r.body.includes('"true"')) break;
        if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy within ${timeoutMs} ms: ${m.stderr.join("").slice(-2000)}`);
        await sleep(50);
      }
    }
  }

  /** The leader's client URL, once every member names the same leader. */
  async leader(timeoutMs = 10_000): Promise<EtcdMember> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = await Promise.all(
        this.members.map(async (m) => {
          const client = new Etcd3({ hosts: m.clientUrl, dialTimeout: 2000 });
          try {
            const s = await client.maintenance.status();
            return { member: m, id: s.header.member_id, leader: s.leader };
          } catch {
            return undefined;
          } finally {
            client.close();
          }
        }),
      );
      const lead = seen[0]?.leader;
      if (lead !== undefined && lead !== "0" && seen.every((s) => s?.leader === lead)) {
        const m = seen.find((s) => s?.id === lead);
        if (m) return m.member;
      }
      if (Date.now() > deadline) throw new Error(`etcd: no agreed leader within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  pids(): number[] {
    return this.members.map((m) => m.child.pid).filter((p): p is number => p !== undefined);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const c = m.child;
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGTERM");
        const t = setTimeout(() => c.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }),
    );
    rmSync(this.root, { recursive: true, force: true });
    dirs.delete(this.root);
  }
}
