/**
 * The syncer from the spec, end to end: a real MariaDB primary, real `kingbus node` processes as the
 * pods, `kingbus operator` as a process. The cluster is created with the syncer enabled and the
 * replication user in a Secret; the first operator crashes right after starting the syncer
 * (failpoint after-syncer), the next one reports it. The status follows the primary's GTID
 * position as it moves; disabling the syncer in the spec stops it (the cluster stores nothing
 * more) and the status says Disabled; enabling it again resumes from the stored position.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer, type FakeApiServer, type Obj } from "../../test-support/apiserver/index.ts";
import { eventually } from "../../test-support/apiserver/testing.ts";
import { PodRunner } from "../../test-support/pods.ts";
import { expectCrashAt, spawnOperator, type OperatorProcess } from "../../test-support/operators.ts";
import { mariadbSkip, startMariadb, stopAllMariadb, type MariadbServer } from "../../../node/test-support/mariadb.ts";
import { REPL_PASSWORD, REPL_USER, createReplicationUser } from "../../../node/test-support/syncer-harness.ts";
import { MariadbGtidPosition } from "../../../node/src/binlog/gtid-mariadb.ts";
import { kingbusClusterCrd } from "../api/crd.ts";
import { findCondition } from "../api/conditions.ts";
import { kingbusClusterStatusSchema, type KingbusClusterStatus } from "../api/kingbus-cluster.ts";

const NS = "sync";
const skip = mariadbSkip();

describe("the syncer follows the spec against a real MariaDB primary", { skip }, () => {
  let api: FakeApiServer;
  let runner: PodRunner;
  let primary: MariadbServer;
  let dir: string;
  let kubeconfig: string;
  const operators: OperatorProcess[] = [];

  before(async () => {
    [primary, api] = await Promise.all([startMariadb({ name: "operator-syncer-primary" }), startFakeApiServer({ bookmarkIntervalMs: 500 })]);
    await createReplicationUser(primary);
    await primary.query("CREATE DATABASE kb_op; CREATE TABLE kb_op.t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB");
    api.registerCrd(kingbusClusterCrd() as unknown as Obj);
    const sim = api.simulateStatefulSets({ podReady: false });
    api.createNamespace(NS);
    runner = await PodRunner.start({ api, sim, namespace: NS, cluster: "orders", maxOrdinals: 3 });
    dir = mkdtempSync(join(tmpdir(), "kingbus-operator-syncer-"));
    kubeconfig = join(dir, "kubeconfig.json");
    writeFileSync(kubeconfig, api.kubeConfig({ namespace: NS }).exportConfig());
  });
  after(async () => {
    for (const o of operators) o.kill();
    await runner?.stop();
    await api?.close();
    await stopAllMariadb();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  function status(): KingbusClusterStatus | undefined {
    const raw = api.object("KingbusCluster", NS, "orders")?.status;
    return raw === undefined ? undefined : kingbusClusterStatusSchema.parse(raw);
  }

  /** The status's executed GTID set equals the primary's position now. */
  async function statusAtPrimary(): Promise<boolean> {
    const s = status()?.syncer?.executedGtidSet;
    if (s === undefined || s === "") return false;
    return MariadbGtidPosition.parse(s).equals(MariadbGtidPosition.parse(await primary.gtidBinlogPos()));
  }

  async function insert(from: number, count: number): Promise<void> {
    for (let i = from; i < from + count; i++) await primary.query(`INSERT INTO kb_op.t VALUES (${i}, 'row ${i}')`);
  }

  /** What every member applied, from its own binlog state. */
  async function storedPositions(): Promise<string[]> {
    return Promise.all([0, 1, 2].map(async (o) => (await runner.debug<{ executed: string }>(o, "/debug/binlog"))?.executed ?? "?"));
  }

  it("starts with the cluster, crash after the start included; the status follows the primary; stop and start from the spec", { timeout: 180_000 }, async () => {
    const t0 = Date.now();
    const lap = (what: string): void => {
      process.stderr.write(`# ${what}: ${Date.now() - t0} ms\n`);
    };
    await insert(1, 20);
    api.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "repl", namespace: NS }, stringData: { user: REPL_USER, pass: REPL_PASSWORD } });
    api.create({
      apiVersion: "kingbus.io/v1alpha1", kind: "KingbusCluster", metadata: { name: "orders", namespace: NS },
      spec: {
        replicas: 3, logLevel: "warn",
        syncer: { enabled: true, source: { host: "127.0.0.1", port: primary.port }, credentialsSecret: { name: "repl", usernameKey: "user", passwordKey: "pass" }, serverId: 4101, heartbeatPeriodSeconds: 0.5 },
      },
    });
    const first = spawnOperator({ kubeconfig, runner, namespace: NS, podName: "operator-1", failpoint: "after-syncer" });
    operators.push(first);
    await expectCrashAt(first, "after-syncer", 90_000);
    lap("the first operator started the syncer and crashed");

    const op = spawnOperator({ kubeconfig, runner, namespace: NS, podName: "operator-2" });
    operators.push(op);
    await eventually(async () => status()?.syncer?.state === "Running" && (await statusAtPrimary()), 60_000, "the status shows the syncer running at the primary's position")
      .catch((e: unknown) => assert.fail(`${String(e)}\n${JSON.stringify(status())}\n${op.stderr.join("").slice(-3000)}`));
    lap("status Running at the primary's position");
    let s = status()!;
    assert.equal(findCondition(s.conditions, "SyncerRunning")?.status, "True");
    assert.equal(findCondition(s.conditions, "Available")?.status, "True");
    assert.equal(s.syncer?.secondsBehind !== null && s.syncer?.secondsBehind !== undefined && s.syncer.secondsBehind >= 0, true);
    const started = api.objects("Event", NS).filter((e) => e.reason === "SyncerStarted");
    assert.equal(started.length, 1, "started once: the second operator found it running");
    assert.match(String(started[0]!.message), new RegExp(`127\\.0\\.0\\.1:${primary.port} as server_id 4101`));

    // The status follows the primary.
    await insert(100, 15);
    await eventually(() => statusAtPrimary(), 30_000, "the status follows new transactions");
    lap("status followed 15 more transactions");

    // Disabled in the spec: stopped; the cluster stores nothing more.
    api.mergePatch("KingbusCluster", NS, "orders", { spec: { syncer: { enabled: false } } });
    await eventually(() => status()?.syncer?.state === "Disabled", 30_000, "the status says Disabled");
    s = status()!;
    assert.equal(findCondition(s.conditions, "SyncerRunning")?.status, "False");
    assert.equal(findCondition(s.conditions, "SyncerRunning")?.reason, "SyncerDisabled");
    const stoppedAt = await storedPositions();
    await insert(200, 10);
    await new Promise((r) => setTimeout(r, 2_000));
    assert.deepEqual(await storedPositions(), stoppedAt, "nothing stored while the syncer is disabled");
    assert.ok(!(await statusAtPrimary()), "the status no longer matches the moving primary");
    assert.ok(api.objects("Event", NS).some((e) => e.reason === "SyncerStopped"));
    lap("disabled: stopped, nothing stored");

    // Enabled again: resumes from the stored position and catches up.
    api.mergePatch("KingbusCluster", NS, "orders", { spec: { syncer: { enabled: true } } });
    await eventually(async () => status()?.syncer?.state === "Running" && (await statusAtPrimary()), 30_000, "resumed and caught up");
    const target = MariadbGtidPosition.parse(await primary.gtidBinlogPos());
    await eventually(async () => (await storedPositions()).every((p) => p !== "?" && MariadbGtidPosition.parse(p).equals(target)), 20_000, "every member stores the primary's position");
    lap("enabled again: caught up on every member");
    for (const o of [0, 1, 2]) assert.ok(!runner.stderrOf(o).includes(REPL_PASSWORD), `pod ${o} never logged the password`);
    assert.ok(!op.stderr.join("").includes(REPL_PASSWORD) && !first.stderr.join("").includes(REPL_PASSWORD), "the operator never logged the password");
    assert.ok(!JSON.stringify(api.objects("Event", NS)).includes(REPL_PASSWORD));
    op.child.kill("SIGTERM");
    assert.equal(await op.exited, 0);
  });
});
