/**
 * The pods' start-up: the generated script runs under a real /bin/sh with the ConfigMap's files,
 * a stand-in `kingbus` records what it would run, and the real `kingbus node` configuration
 * loader (node/src/config) must accept the result for every ordinal.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { loadNodeConfig, type NodeConfig } from "../../../node/src/config/index.ts";
import type { KingbusCluster } from "../api/kingbus-cluster.ts";
import { ADMIN_TOKEN_FILE, CONFIG_DIR, configData, KEY_START_SCRIPT } from "./config.ts";
import { FULL_SPEC, testCluster } from "./testing/fixtures.ts";

const root = mkdtempSync(join(tmpdir(), "kingbus-start-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface Started {
  readonly status: number;
  readonly stderr: string;
  readonly argv: string[];
  readonly env: Record<string, string>;
}

let runs = 0;
function start(cluster: KingbusCluster, podName: string, options: { bootstrapMembers?: number; clusterDomain?: string; dropKey?: string } = {}): Started {
  const dir = join(root, String(runs++));
  const etc = join(dir, "etc");
  const bin = join(dir, "bin");
  mkdirSync(etc, { recursive: true });
  mkdirSync(bin);
  const tokenFile = join(dir, "admin-token");
  writeFileSync(tokenFile, "s3cret-token\n");
  for (const [key, value] of Object.entries(configData(cluster, options))) {
    if (key === options.dropKey) continue;
    writeFileSync(join(etc, key), value.split(CONFIG_DIR).join(etc).split(ADMIN_TOKEN_FILE).join(tokenFile));
  }
  writeFileSync(join(bin, "kingbus"), `#!/bin/sh\nenv -0 > "${dir}/env"\nprintf '%s\\0' "$@" > "${dir}/argv"\n`);
  chmodSync(join(bin, "kingbus"), 0o755);
  const run = spawnSync("/bin/sh", [join(etc, KEY_START_SCRIPT)], { env: { PATH: `${bin}:/usr/bin:/bin`, POD_NAME: podName }, encoding: "utf8" });
  const read = (name: string): string[] => {
    try {
      return readFileSync(join(dir, name), "utf8").split("\0").slice(0, -1);
    } catch {
      return [];
    }
  };
  const env = Object.fromEntries(read("env").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  return { status: run.status ?? -1, stderr: run.stderr, argv: read("argv"), env };
}

function nodeConfigOf(started: Started): NodeConfig {
  assert.equal(started.status, 0, started.stderr);
  assert.equal(started.argv[0], "node");
  const kingbusEnv = Object.fromEntries(Object.entries(started.env).filter(([k]) => k.startsWith("KINGBUS_")));
  return loadNodeConfig({ argv: started.argv.slice(1), env: kingbusEnv });
}

describe("the pods' start-up script", () => {
  const cluster = testCluster("orders", FULL_SPEC, "data");

  it("bootstrap members: id = ordinal + 1, name = pod name, initialCluster of the bootstrap members", () => {
    for (const ordinal of [0, 1, 2]) {
      const config = nodeConfigOf(start(cluster, `kingbus-orders-${ordinal}`, { bootstrapMembers: 3 }));
      const host = `kingbus-orders-${ordinal}.kingbus-orders-peers.data.svc`;
      assert.equal(config.id, ordinal + 1);
      assert.equal(config.name, `kingbus-orders-${ordinal}`);
      assert.deepEqual(config.advertise, { peerUrl: `http://${host}:9696`, adminUrl: `http://${host}:9595` });
      assert.equal(config.join, undefined);
      assert.deepEqual(config.initialCluster?.map((m) => [m.id, m.name]), [[1, "kingbus-orders-0"], [2, "kingbus-orders-1"], [3, "kingbus-orders-2"]]);
      assert.equal(config.dataDir, "/var/lib/kingbus/data");
      assert.deepEqual([config.listen.peer, config.listen.http], [{ host: "0.0.0.0", port: 9696 }, { host: "0.0.0.0", port: 9595 }]);
      assert.equal(config.adminToken?.reveal(), "s3cret-token");
      assert.deepEqual(config.storage, { segmentBytes: 64 * 1024 * 1024, retentionMaxBytes: 50 * 2 ** 30, retentionMaxAgeMs: 7 * 86_400_000, syncMode: "dsync", verifyServedRecords: "auto" });
      assert.equal(config.logLevel, "debug");
    }
  });

  it("members past the bootstrap join through member 0 with their own URLs", () => {
    for (const ordinal of [3, 4]) {
      const config = nodeConfigOf(start(cluster, `kingbus-orders-${ordinal}`, { bootstrapMembers: 3, clusterDomain: "cluster.local" }));
      assert.equal(config.id, ordinal + 1);
      assert.equal(config.initialCluster, undefined);
      assert.equal(config.join, "http://kingbus-orders-0.kingbus-orders-peers.data.svc.cluster.local:9595");
      assert.equal(config.advertise.peerUrl, `http://kingbus-orders-${ordinal}.kingbus-orders-peers.data.svc.cluster.local:9696`);
    }
  });

  it("a new cluster bootstraps every member (bootstrap count = spec.replicas)", () => {
    const config = nodeConfigOf(start(testCluster("demo"), "kingbus-demo-2"));
    assert.equal(config.initialCluster?.length, 3);
    assert.deepEqual(config.storage, { segmentBytes: 64 * 1024 * 1024, retentionMaxBytes: undefined, retentionMaxAgeMs: undefined, syncMode: "dsync", verifyServedRecords: "auto" });
  });

  it("refuses to start a pod that is not one of the cluster's", () => {
    const other = start(cluster, "kingbus-other-0");
    assert.equal(other.status, 2);
    assert.match(other.stderr, /pod kingbus-other-0 is not a member of kingbus-orders/);
    const noOrdinal = start(cluster, "kingbus-orders-x");
    assert.equal(noOrdinal.status, 2);
    assert.match(noOrdinal.stderr, /does not end in an ordinal/);
    assert.deepEqual(noOrdinal.argv, [], "kingbus never ran");
  });

  it("stops when the ConfigMap lacks the bootstrap count, instead of joining by mistake", () => {
    const c = testCluster("demo");
    const started = start(c, "kingbus-demo-0", { dropKey: "bootstrap-members" });
    assert.notEqual(started.status, 0);
    assert.deepEqual(started.argv, []);
  });
});
