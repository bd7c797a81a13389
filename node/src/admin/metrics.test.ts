import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { AdminHttpServer } from "./http-server.ts";
import { createNodeMetrics, NODE_METRIC_NAMES } from "./metrics.ts";
import { FakeBackend } from "./testing/fake-backend.ts";

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The Prometheus text format: TYPE lines and samples (HELP is checked for presence only). */
function parseExposition(text: string): { types: Map<string, string>; helps: Set<string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (help) {
      helps.add(help[1]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample, `not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    samples.push({ name: sample[1]!, labels, value: Number(sample[3] === "+Inf" ? Infinity : sample[3]) });
  }
  return { types, helps, samples };
}

function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

const EXPECTED_TYPES: Record<(typeof NODE_METRIC_NAMES)[number], string> = {
  kingbus_raft_term: "gauge",
  kingbus_raft_is_leader: "gauge",
  kingbus_raft_leader_id: "gauge",
  kingbus_raft_commit_index: "gauge",
  kingbus_raft_applied_index: "gauge",
  kingbus_storage_append_duration_seconds: "histogram",
  kingbus_storage_fsync_duration_seconds: "histogram",
  kingbus_raft_replicated_entries_total: "counter",
  kingbus_raft_replicated_bytes_total: "counter",
  kingbus_raft_peer_lag_entries: "gauge",
};

describe("/metrics", () => {
  it("exposes every kingbus metric with its type, the values the node set, and prefixed process metrics", async () => {
    const metrics = createNodeMetrics();
    metrics.raftTerm.set(7);
    metrics.raftIsLeader.set(1);
    metrics.raftLeaderId.set(3);
    metrics.raftCommitIndex.set(120);
    metrics.raftAppliedIndex.set(118);
    metrics.storageAppendSeconds.observe(0.0042);
    metrics.storageAppendSeconds.observe(0.0007);
    metrics.storageFsyncSeconds.observe(0.003);
    metrics.raftReplicatedEntries.inc({ direction: "sent" }, 40);
    metrics.raftReplicatedBytes.inc({ direction: "sent" }, 4096);
    metrics.raftPeerLagEntries.set({ peer: "2" }, 5);
    metrics.raftPeerLagEntries.set({ peer: "18446744073709551615" }, 0);

    // /metrics stays open when a token guards the admin API.
    const server = new AdminHttpServer({ backend: new FakeBackend(), metrics, token: "secret-token" });
    const { url } = await server.listen(0, "127.0.0.1");
    try {
      const res = await fetch(`${url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
      const { types, helps, samples } = parseExposition(await res.text());

      for (const name of NODE_METRIC_NAMES) {
        assert.equal(types.get(name), EXPECTED_TYPES[name], name);
        assert.ok(helps.has(name), `${name} has HELP`);
      }
      for (const name of types.keys()) assert.ok(name.startsWith("kingbus_"), `${name} is prefixed`);

      assert.equal(value(samples, "kingbus_raft_term"), 7);
      assert.equal(value(samples, "kingbus_raft_is_leader"), 1);
      assert.equal(value(samples, "kingbus_raft_leader_id"), 3);
      assert.equal(value(samples, "kingbus_raft_commit_index"), 120);
      assert.equal(value(samples, "kingbus_raft_applied_index"), 118);
      assert.equal(value(samples, "kingbus_storage_append_duration_seconds_count"), 2);
      assert.ok(Math.abs(value(samples, "kingbus_storage_append_duration_seconds_sum")! - 0.0049) < 1e-9);
      assert.equal(value(samples, "kingbus_storage_append_duration_seconds_bucket", { le: "0.0008" }), 1);
      assert.equal(value(samples, "kingbus_storage_append_duration_seconds_bucket", { le: "+Inf" }), 2);
      assert.equal(value(samples, "kingbus_storage_fsync_duration_seconds_count"), 1);
      assert.equal(value(samples, "kingbus_raft_replicated_entries_total", { direction: "sent" }), 40);
      assert.equal(value(samples, "kingbus_raft_replicated_entries_total", { direction: "received" }), 0, "both directions exist from the start");
      assert.equal(value(samples, "kingbus_raft_replicated_bytes_total", { direction: "sent" }), 4096);
      assert.equal(value(samples, "kingbus_raft_peer_lag_entries", { peer: "2" }), 5);
      assert.equal(value(samples, "kingbus_raft_peer_lag_entries", { peer: "18446744073709551615" }), 0);

      for (const name of ["kingbus_process_cpu_user_seconds_total", "kingbus_process_resident_memory_bytes", "kingbus_nodejs_heap_size_used_bytes", "kingbus_nodejs_eventloop_lag_seconds"]) {
        assert.ok(types.has(name), `process metric ${name}`);
      }
    } finally {
      await server.close();
    }
  });

  it("keeps registries apart: two nodes in one process do not share values", () => {
    const a = createNodeMetrics({ processMetrics: false });
    const b = createNodeMetrics({ processMetrics: false });
    a.raftTerm.set(5);
    b.raftTerm.set(9);
    assert.notEqual(a.registry, b.registry);
    assert.equal(a.registry.getSingleMetric("kingbus_raft_term"), a.raftTerm);
  });

  it("every metric is documented in docs/admin-api.md", () => {
    const doc = readFileSync(new URL("../../../docs/admin-api.md", import.meta.url), "utf8");
    for (const name of NODE_METRIC_NAMES) assert.ok(doc.includes(`\`${name}\``), `${name} is missing from docs/admin-api.md`);
  });
});
