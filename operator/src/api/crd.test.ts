import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { manifestProblems } from "../desired/testing/manifest-checks.ts";
import { FULL_SPEC } from "../desired/testing/fixtures.ts";
import { kingbusClusterCrd, kingbusClusterOpenApiSchema, PRINTER_COLUMNS } from "./crd.ts";
import { generatedFiles, REPO_ROOT } from "./generated-files.ts";
import { CLUSTER_NAME_PATTERN, MAX_CLUSTER_NAME_LENGTH, parseKingbusClusterSpec, type KingbusClusterSpecInput } from "./kingbus-cluster.ts";
import type { JsonSchema } from "./structural.ts";

function child(node: JsonSchema, key: string): JsonSchema {
  const next = (node.properties as Record<string, JsonSchema> | undefined)?.[key];
  assert.ok(next !== undefined, `no property ${key}`);
  return next;
}

/** Defaulting as the API server does it: absent properties with a default get it, then recurse. */
function applyDefaults(schema: JsonSchema, value: unknown): unknown {
  if (Array.isArray(value) && schema.items !== undefined) return value.map((v: unknown) => applyDefaults(schema.items as JsonSchema, v));
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [key, sub] of Object.entries(props)) {
    if (out[key] === undefined && sub.default !== undefined) out[key] = structuredClone(sub.default);
    if (out[key] !== undefined) out[key] = applyDefaults(sub, out[key]);
  }
  return out;
}

describe("the KingbusCluster CRD", () => {
  it("the committed generated files are what the schemas generate (scripts/generate-crds.ts)", () => {
    for (const file of generatedFiles()) {
      const path = join(REPO_ROOT, file.path);
      assert.ok(existsSync(path), `${file.path} is missing: run scripts/generate-crds.ts`);
      assert.equal(readFileSync(path, "utf8"), file.content, `${file.path} is out of date: run scripts/generate-crds.ts`);
    }
  });

  it("is a valid apiextensions.k8s.io/v1 CRD with a structural schema and no unknown fields", () => {
    const committed = parse(readFileSync(join(REPO_ROOT, "crds", "kingbus.io_kingbusclusters.yaml"), "utf8")) as unknown;
    assert.deepEqual(manifestProblems(committed), []);
    assert.deepEqual(committed, JSON.parse(JSON.stringify(kingbusClusterCrd())));
  });

  it("the offline checks catch a broken CRD (they are not vacuous)", () => {
    const crd = structuredClone(kingbusClusterCrd()) as unknown as { spec: { versions: Array<{ schema: { openAPIV3Schema: JsonSchema } }>; scoop?: string } };
    const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;
    delete child(child(schema, "spec"), "replicas").type;
    child(child(schema, "spec"), "image").exclusiveMinimum = 3;
    crd.spec.scoop = "Namespaced";
    const problems = manifestProblems(crd).join("\n");
    assert.match(problems, /spec\.properties\.replicas: type is missing/);
    assert.match(problems, /exclusiveMinimum must be boolean/);
    assert.match(problems, /unknown field spec\.scoop/);
  });

  it("has the status subresource and the printer columns, each pointing at a field of the schema", () => {
    const version = kingbusClusterCrd().spec.versions[0]!;
    assert.deepEqual(version.subresources, { status: {} });
    assert.deepEqual(
      version.additionalPrinterColumns.map((c) => c.name),
      ["Replicas", "Ready", "Leader", "Syncer", "GTID", "Behind", "Available", "Age"],
    );
    const schema = kingbusClusterOpenApiSchema();
    for (const column of PRINTER_COLUMNS) {
      if (column.jsonPath.startsWith(".metadata.")) continue;
      let node = schema;
      for (const part of column.jsonPath.slice(1).split(/\.(?![^[]*\])/)) {
        const filter = /^(\w+)\[\?\(@\.(\w+)=="\w+"\)\]$/.exec(part);
        if (filter) {
          node = child(node, filter[1]!).items as JsonSchema;
          child(node, filter[2]!);
        } else {
          node = child(node, part);
        }
      }
      const type = column.type === "date" ? "string" : column.type;
      assert.equal(node.type, type, column.jsonPath);
    }
  });

  it("the API server's defaults are the operator's defaults", () => {
    const spec = child(kingbusClusterOpenApiSchema(), "spec");
    const inputs: KingbusClusterSpecInput[] = [
      {},
      { replicas: 5, syncer: { enabled: false } },
      { server: { usersSecret: { name: "readers", usernameKey: "u" } }, monitoring: {} },
      { syncer: { enabled: true, source: { host: "db" }, credentialsSecret: { name: "c" }, serverId: 1 } },
      FULL_SPEC,
    ];
    for (const input of inputs) assert.deepEqual(applyDefaults(spec, input), parseKingbusClusterSpec(input), JSON.stringify(input));
    assert.deepEqual(applyDefaults({ type: "object", properties: { spec } }, {}), { spec: parseKingbusClusterSpec({}) });
  });

  it("carries the rules zod checks in code as CEL, and the name rule as a pattern", () => {
    const schema = kingbusClusterOpenApiSchema();
    const spec = child(schema, "spec");
    const rules = (node: JsonSchema): string[] => ((node["x-kubernetes-validations"] ?? []) as Array<{ rule: string }>).map((r) => r.rule);
    assert.deepEqual(rules(child(spec, "replicas")), ["self % 2 == 1"]);
    assert.deepEqual(child(spec, "replicas").not, { multipleOf: 2 });
    assert.deepEqual(rules(child(spec, "syncer")), ["!self.enabled || (has(self.source) && has(self.credentialsSecret) && has(self.serverId))"]);
    assert.deepEqual(rules(child(spec, "server")), ["!self.enabled || has(self.usersSecret)"]);
    assert.deepEqual(rules(child(child(spec, "server"), "port")), ["self != 9696 && self != 9595"]);
    assert.deepEqual(rules(child(spec, "storage")), ["self == oldSelf"]);
    const name = child(child(schema, "metadata"), "name");
    assert.equal(name.maxLength, MAX_CLUSTER_NAME_LENGTH);
    assert.equal(name.pattern, CLUSTER_NAME_PATTERN);
    // Embedded Kubernetes types are kept whole, typed as objects.
    const affinity = child(child(spec, "placement"), "affinity");
    assert.deepEqual([affinity.type, affinity["x-kubernetes-preserve-unknown-fields"]], ["object", true]);
  });
});
