import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { startFakeApiServer, type FakeApiServer } from "../../test-support/apiserver/index.ts";
import { KubeClient, LeaderElector, Leases, type LeaderElectionOptions } from "./index.ts";

let api: FakeApiServer;

before(async () => {
  api = await startFakeApiServer();
  await api.createNamespace("le");
});
after(() => api.close());

const TIMING = { leaseDurationMs: 1_000, renewDeadlineMs: 600, retryPeriodMs: 100 };

interface Candidate {
  elector: LeaderElector;
  log: { what: "started" | "stopped"; at: number }[];
  signals: AbortSignal[];
  leaders: string[];
}

function candidate(client: KubeClient, name: string, identity: string, extra: Partial<LeaderElectionOptions> = {}): Candidate {
  const c: Candidate = { elector: undefined as unknown as LeaderElector, log: [], signals: [], leaders: [] };
  c.elector = new LeaderElector(client, {
    namespace: "le", name, identity, ...TIMING,
    onStartedLeading: (signal) => { c.log.push({ what: "started", at: Date.now() }); c.signals.push(signal); },
    onStoppedLeading: () => c.log.push({ what: "stopped", at: Date.now() }),
    onNewLeader: (id) => c.leaders.push(id),
    ...extra,
  });
  return c;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function client(url = api.url): KubeClient {
  const kc = api.kubeConfig();
  kc.clusters[0] = { ...kc.clusters[0]!, server: url };
  return new KubeClient(kc, { fieldManager: "leader-election", timeoutMs: 300 });
}

/** A TCP relay to the API server that a test can cut, as a network partition would. */
async function partitionable(): Promise<{ url: string; cut(): void; heal(): void; close(): Promise<void> }> {
  let open = true;
  const sockets = new Set<Socket>();
  const target = new URL(api.url);
  const server: Server = createServer((inbound) => {
    if (!open) { inbound.destroy(); return; }
    const outbound = createConnection(Number(target.port), target.hostname);
    sockets.add(inbound); sockets.add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    const drop = (): void => { inbound.destroy(); outbound.destroy(); sockets.delete(inbound); sockets.delete(outbound); };
    inbound.on("error", drop); outbound.on("error", drop); inbound.on("close", drop); outbound.on("close", drop);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() { open = false; for (const s of sockets) s.destroy(); sockets.clear(); },
    heal() { open = true; },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

test("a lone candidate creates the lease, leads, and renews it with MicroTime stamps", async () => {
  const a = candidate(client(), "solo", "pod-a");
  a.elector.start();
  await eventually(() => a.elector.isLeader, "leading");
  const lease = api.object("Lease", "le", "solo")!;
  const spec = lease.spec as Record<string, unknown>;
  assert.equal(spec.holderIdentity, "pod-a");
  assert.equal(spec.leaseDurationSeconds, 1);
  assert.equal(spec.leaseTransitions, 0);
  assert.match(String(spec.renewTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const firstRenew = spec.renewTime;
  await eventually(() => (api.object("Lease", "le", "solo")!.spec as Record<string, unknown>).renewTime !== firstRenew, "renewed");
  assert.deepEqual(a.leaders, ["pod-a"]);
  await a.elector.stop();
  assert.equal((api.object("Lease", "le", "solo")!.spec as Record<string, unknown>).holderIdentity, "", "released on stop");
  assert.deepEqual(a.log.map((e) => e.what), ["started", "stopped"]);
  assert.ok(a.signals[0]!.aborted);
});

test("two candidates: one leads; when it stops and releases, the other takes over at once", async () => {
  const a = candidate(client(), "pair", "pod-a");
  const b = candidate(client(), "pair", "pod-b");
  a.elector.start();
  b.elector.start();
  await eventually(() => a.elector.isLeader || b.elector.isLeader, "a leader");
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(a.elector.isLeader !== b.elector.isLeader, "exactly one leads");
  const [leader, follower] = a.elector.isLeader ? [a, b] : [b, a];
  assert.equal(follower.elector.leader, leader === a ? "pod-a" : "pod-b");
  const released = Date.now();
  await leader.elector.stop();
  await eventually(() => follower.elector.isLeader, "takeover after release");
  assert.ok(Date.now() - released < TIMING.leaseDurationMs, "no need to wait for the lease to expire");
  const spec = api.object("Lease", "le", "pair")!.spec as Record<string, unknown>;
  assert.equal(spec.leaseTransitions, 1);
  await follower.elector.stop();
});

test("when the holder crashes (stops renewing), the other takes over only after the lease duration", async () => {
  const a = candidate(client(), "crash", "pod-a");
  a.elector.start();
  await eventually(() => a.elector.isLeader, "a leads");
  const b = candidate(client(), "crash", "pod-b");
  b.elector.start();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(b.elector.isLeader, false);
  const crashed = Date.now();
  await a.elector.stop({ release: false });
  assert.equal((api.object("Lease", "le", "crash")!.spec as Record<string, unknown>).holderIdentity, "pod-a", "not released");
  await eventually(() => b.elector.isLeader, "b takes over", 5_000);
  const waited = Date.now() - crashed;
  assert.ok(waited >= TIMING.leaseDurationMs - 150, `took over after ${waited} ms`);
  assert.ok(waited < TIMING.leaseDurationMs + 1_000, `took over after ${waited} ms`);
  assert.deepEqual(b.leaders, ["pod-a", "pod-b"]);
  assert.equal((api.object("Lease", "le", "crash")!.spec as Record<string, unknown>).leaseTransitions, 1);
  await b.elector.stop();
});

test("a leader cut off from the API server steps down before anyone else can lead", async () => {
  const relay = await partitionable();
  try {
    const a = candidate(client(relay.url), "part", "pod-a");
    a.elector.start();
    await eventually(() => a.elector.isLeader, "a leads");
    const b = candidate(client(), "part", "pod-b");
    b.elector.start();
    await new Promise((r) => setTimeout(r, 200));
    relay.cut();
    await eventually(() => b.elector.isLeader, "b takes over", 5_000);
    const aStopped = a.log.find((e) => e.what === "stopped");
    const bStarted = b.log.find((e) => e.what === "started")!;
    assert.ok(aStopped !== undefined, "a stopped leading");
    assert.ok(aStopped.at <= bStarted.at, `a stopped at ${aStopped.at}, b started at ${bStarted.at}: no overlap`);
    assert.ok(a.signals[0]!.aborted);
    // a comes back as a candidate and does not steal the lease.
    relay.heal();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(a.elector.isLeader, false);
    assert.equal(a.elector.leader, "pod-b");
    await a.elector.stop();
    await b.elector.stop();
  } finally {
    await relay.close();
  }
});

test("candidates racing for a missing lease: the create conflict leaves exactly one leader", async () => {
  const cs = ["x", "y", "z"].map((id) => candidate(client(), "race", `pod-${id}`));
  for (const c of cs) c.elector.start();
  await eventually(() => cs.some((c) => c.elector.isLeader), "a leader");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(cs.filter((c) => c.elector.isLeader).length, 1);
  assert.equal(cs.flatMap((c) => c.log).filter((e) => e.what === "started").length, 1, "nobody led even briefly besides the winner");
  const creates = api.requests.filter((r) => r.kind === "Lease" && r.verb === "create" && r.namespace === "le" && r.status !== 0);
  assert.ok(creates.some((r) => r.status === 201));
  for (const c of cs) await c.elector.stop();
  assert.equal(((await client().get(Leases, "le", "race"))!.spec!.holderIdentity), "");
});

test("timings are checked: the renew deadline must be below the lease duration", () => {
  assert.throws(() => new LeaderElector(client(), { namespace: "le", name: "bad", identity: "x", leaseDurationMs: 1_000, renewDeadlineMs: 1_000, onStartedLeading: () => undefined }), /renewDeadlineMs/);
  assert.throws(() => new LeaderElector(client(), { namespace: "le", name: "bad", identity: "x", leaseDurationMs: 1_500, onStartedLeading: () => undefined }), /whole number/);
});
