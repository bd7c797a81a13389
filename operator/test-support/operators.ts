/**
 * `kingbus operator` processes for tests (operator-process.ts: the real command with loopback pods),
 * pointed at an in-process API server through a kubeconfig file.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../../node/test-support/requirements.ts";
import type { PodRunner } from "./pods.ts";

const ENTRY = join(repoRoot, "operator", "test-support", "operator-process.ts");
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGKILL");
});

export interface OperatorProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit status (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  readonly stderr: string[];
  /** SIGKILL (as a crash) unless it has exited. */
  kill(): void;
}

export interface SpawnOperatorOptions {
  readonly kubeconfig: string;
  readonly runner: PodRunner;
  readonly namespace: string;
  readonly podName: string;
  readonly failpoint?: string;
  readonly leaderElection?: boolean;
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export function spawnOperator(o: SpawnOperatorOptions): OperatorProcess {
  const env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith("KINGBUS_"))),
    KINGBUS_TEST_POD_NETWORK: o.runner.portsJson(),
    KINGBUS_OPERATOR_LOG_LEVEL: "info",
    ...(o.failpoint === undefined ? {} : { KINGBUS_OPERATOR_FAILPOINT: o.failpoint }),
    ...o.env,
  };
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", ENTRY, "operator", "--kubeconfig", o.kubeconfig, "--image", "kingbus:test",
    "--http", "127.0.0.1:0", "--leader-election", String(o.leaderElection ?? false), "--namespace", o.namespace, "--pod-name", o.podName,
    "--watch-namespaces", o.namespace, ...(o.args ?? [])], { env, stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  const stderr: string[] = [];
  child.stderr!.on("data", (c: Buffer) => {
    stderr.push(c.toString());
    if (stderr.length > 2000) stderr.shift();
    if (process.env.KINGBUS_TEST_STDERR) process.stderr.write(`[${o.podName}] ${c.toString()}`);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => {
    running.delete(child);
    resolve(code);
  }));
  return { child, exited, stderr, kill: () => void child.kill("SIGKILL") };
}

/** Waits for the process to exit with status 1 at the failpoint (it logs the name first). */
export async function expectCrashAt(p: OperatorProcess, failpoint: string, timeoutMs = 60_000): Promise<void> {
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  assert.equal(code, 1, `the operator exits with status 1 at ${failpoint}\n${p.stderr.join("")}`);
  assert.match(p.stderr.join(""), new RegExp(`"failpoint":"${failpoint}"`), "it logged the failpoint");
}
