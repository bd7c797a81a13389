/**
 * `kingbus node` as a process: an invalid configuration stops it with status 2 and a message naming
 * the field; SIGTERM stops a running node cleanly (status 0), its data intact for the next start.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../test-support/requirements.ts";
import { freePort } from "../../test-support/ports.ts";

const scratch = mkdtempSync(join(tmpdir(), "kingbus-node-cli-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const kingbus = join(repoRoot, "bin", "kingbus");

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => execFile(kingbus, args, (e, _out, stderr) => resolve({ code: e ? Number((e as { code?: number }).code) : 0, stderr })));
}

test("an invalid configuration exits with status 2 and names the field and the reason", async () => {
  const r = await run(["node", "--id", "0", "--name", "a", "--data-dir", join(scratch, "x")]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^kingbus node: invalid configuration: .*\bid\b/m);
  const file = join(scratch, "bad.json");
  writeFileSync(file, JSON.stringify({ id: 1, name: "a", dataDir: join(scratch, "y"), raft: { electionTicks: 2, heartbeatTicks: 5 }, initialCluster: [{ id: 1, name: "a", peerUrl: "http://127.0.0.1:1", adminUrl: "http://127.0.0.1:2" }] }));
  const r2 = await run(["node", "--config", file]);
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /raft\.electionTicks/);
});

test("SIGTERM stops a running node cleanly and it starts again from its data", { timeout: 60_000 }, async () => {
  const peer = await freePort();
  const http = await freePort();
  const config = join(scratch, "one.json");
  writeFileSync(config, JSON.stringify({
    id: 1, name: "solo", dataDir: join(scratch, "solo"), listen: { peer: `127.0.0.1:${peer}`, http: `127.0.0.1:${http}` },
    initialCluster: [{ id: 1, name: "solo", peerUrl: `http://127.0.0.1:${peer}`, adminUrl: `http://127.0.0.1:${http}` }],
    raft: { tickMs: 20 }, testWriteApi: true, logLevel: "warn",
  }));
  const start = async (): Promise<{ stop: () => Promise<number | null>; write: (d: string) => Promise<number> }> => {
    const child = spawn(kingbus, ["node", "--config", config], { stdio: "ignore" });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const write = async (data: string): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${http}/debug/write`, { method: "POST", body: data });
      const body = (await res.json()) as { data: { index: number } };
      if (res.status !== 200) throw new Error(`write: ${res.status}`);
      return body.data.index;
    };
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await write("hello");
        break;
      } catch {
        if (Date.now() > deadline) throw new Error("the node never accepted a write");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return { stop: async () => (child.kill("SIGTERM"), exited), write };
  };
  const first = await start();
  const before = await first.write("before restart");
  assert.equal(await first.stop(), 0, "a clean stop exits 0");
  const second = await start();
  const after = await second.write("after restart");
  assert.ok(after > before, `the log continued (${before} then ${after})`);
  const entries = (await (await fetch(`http://127.0.0.1:${http}/debug/entries?from=1`)).json()) as { data: Array<{ index: number }> };
  assert.ok(entries.data.some((e) => e.index === before), "the entry written before the restart is still there");
  assert.equal(await second.stop(), 0);
});
