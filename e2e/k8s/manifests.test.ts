/**
 * Offline checks of the Kubernetes end-to-end suite (e2e/k8s/README.md). The suite itself needs a
 * real cluster (kind, docker, helm) and is not part of make test; this test is, and shows what can
 * be shown without one:
 *
 * - every manifest in e2e/k8s/manifests/ passes the Kubernetes schemas with no unknown field
 *   (operator/src/desired/testing/manifest-checks.ts; the Job through kubernetes-models' batch/v1
 *   the same way), and the KingbusCluster the operator's own parse with no field the CRD lacks;
 * - what the manifests name exists: Secrets and their keys, ConfigMaps and their keys, the
 *   StatefulSets' headless Services, the scripts the probes and the Job run; the primary's binlog
 *   settings; distinct server ids; the replica pointed at the cluster's client Service and port;
 * - run.sh parses (bash -n), agrees with the manifests on every name it uses, passes the chart
 *   only values its schema has (and helm renders them into the operator's image), and never hands
 *   a shell function to `timeout`; the ConfigMap's scripts parse (sh -n).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Job } from "kubernetes-models/batch/v1";
import { parse, parseAllDocuments } from "yaml";
import { clusterNames } from "../../operator/src/desired/names.ts";
import { parseKingbusCluster } from "../../operator/src/api/index.ts";
import { manifestProblems, unknownFieldPaths } from "../../operator/src/desired/testing/manifest-checks.ts";
import { requireHelm, runHelm } from "../../operator/test-support/helm.ts";

const HERE = import.meta.dirname;
const ROOT = join(HERE, "..", "..");
const MANIFEST_DIR = join(HERE, "manifests");
const RUN_SH = readFileSync(join(HERE, "run.sh"), "utf8");

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  readinessProbe?: { exec?: { command: string[] } };
}
interface Volume {
  name: string;
  configMap?: { name: string; items?: Array<{ key: string; path: string }> };
}
interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    serviceName?: string;
    clusterIP?: string;
    template?: { spec: PodSpec };
    [key: string]: unknown;
  };
}
interface Loaded {
  readonly file: string;
  readonly manifest: Manifest;
}

const loaded: Loaded[] = readdirSync(MANIFEST_DIR)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(MANIFEST_DIR, file), "utf8"))
      .map((d) => {
        assert.deepEqual(d.errors, [], `${file}: YAML errors`);
        return d.toJS() as Manifest | null;
      })
      .filter((m): m is Manifest => m !== null)
      .map((manifest) => ({ file, manifest })),
  );
const all = loaded.map((l) => l.manifest);

function find(kind: string, name: string): Manifest {
  const m = all.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(m, `no ${kind} named ${name} in e2e/k8s/manifests/`);
  return m;
}
function ofKind(kind: string): Manifest[] {
  return all.filter((m) => m.kind === kind);
}
function podSpecs(): Array<{ owner: string; spec: PodSpec }> {
  return all.filter((m) => m.spec?.template !== undefined).map((m) => ({ owner: `${m.kind} ${m.metadata.name}`, spec: m.spec!.template!.spec }));
}
function argValue(container: Container, flag: string): string | undefined {
  const prefix = `${flag}=`;
  return container.args?.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}
/** A shell variable run.sh assigns at the start of a line, e.g. CLUSTER_NAME=e2e. */
function runShVariable(name: string): string {
  const m = new RegExp(`^${name}=([^\\s#]+)`, "m").exec(RUN_SH);
  assert.ok(m, `run.sh does not set ${name}`);
  return m[1]!.replace(/^"|"$/g, "");
}

/** Fields of `value` that the CRD's OpenAPI schema has no place for (the operator's zod parse drops them silently). */
interface OpenApiSchema {
  properties?: Record<string, OpenApiSchema>;
  items?: OpenApiSchema;
  additionalProperties?: OpenApiSchema | boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
}
function fieldsOutsideSchema(value: unknown, schema: OpenApiSchema, path: string, out: string[] = []): string[] {
  if (schema["x-kubernetes-preserve-unknown-fields"] === true) return out;
  if (Array.isArray(value)) {
    if (schema.items !== undefined) value.forEach((v: unknown, i) => fieldsOutsideSchema(v, schema.items!, `${path}[${i}]`, out));
    return out;
  }
  if (value === null || typeof value !== "object") return out;
  for (const [key, v] of Object.entries(value)) {
    const here = `${path}.${key}`;
    const sub = schema.properties?.[key] ?? (typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined);
    if (sub === undefined) out.push(here);
    else fieldsOutsideSchema(v, sub, here, out);
  }
  return out;
}
const crd = parse(readFileSync(join(ROOT, "crds", "kingbus.io_kingbusclusters.yaml"), "utf8")) as {
  spec: { versions: Array<{ name: string; schema: { openAPIV3Schema: OpenApiSchema } }> };
};
const specSchema = crd.spec.versions.find((v) => v.name === "v1alpha1")!.schema.openAPIV3Schema.properties!.spec!;

function problems(m: Manifest): string[] {
  if (m.apiVersion === "batch/v1" && m.kind === "Job") {
    const out: string[] = [];
    try {
      new Job(m as never).validate();
    } catch (e) {
      out.push(`Job ${m.metadata.name}: ${(e as Error).message}`);
    }
    for (const p of unknownFieldPaths(m, "V1Job")) out.push(`Job ${m.metadata.name}: unknown field ${p}`);
    return out;
  }
  const out = manifestProblems(m);
  if (m.kind === "KingbusCluster") {
    for (const key of Object.keys(m)) if (!["apiVersion", "kind", "metadata", "spec"].includes(key)) out.push(`KingbusCluster: unexpected top-level field ${key}`);
    for (const p of fieldsOutsideSchema(m.spec, specSchema, "spec")) out.push(`KingbusCluster ${m.metadata.name}: ${p} is not in the CRD`);
  }
  return out;
}

const cluster = parseKingbusCluster({ ...find("KingbusCluster", runShVariable("CLUSTER_NAME")), metadata: { name: runShVariable("CLUSTER_NAME"), namespace: "kingbus-e2e", uid: "e2e" } });

describe("e2e/k8s manifests", () => {
  it("are the objects the suite needs", () => {
    assert.deepEqual(
      loaded.map((l) => `${l.file}: ${l.manifest.kind} ${l.manifest.metadata.name}`),
      [
        "kingbus-cluster.yaml: KingbusCluster e2e",
        "mariadb-primary.yaml: Service mariadb-primary",
        "mariadb-primary.yaml: StatefulSet mariadb-primary",
        "mariadb-replica.yaml: Service mariadb-replica",
        "mariadb-replica.yaml: StatefulSet mariadb-replica",
        "mariadb-scripts.yaml: ConfigMap mariadb-scripts",
        "secrets.yaml: Secret mariadb-root",
        "secrets.yaml: Secret replication",
        "secrets.yaml: Secret binlog-readers",
        "workload-job.yaml: Job workload",
      ],
    );
    // Namespace-free: run.sh applies them to its own namespace.
    for (const m of all) assert.equal(m.metadata.namespace, undefined, `${m.kind} ${m.metadata.name} names a namespace`);
  });

  for (const { file, manifest } of loaded) {
    it(`${file}: ${manifest.kind} ${manifest.metadata.name} passes the Kubernetes schemas offline`, () => {
      assert.deepEqual(problems(manifest), []);
    });
  }

  it("the checks catch a misspelt field (the KingbusCluster against the CRD, a Job against batch/v1)", () => {
    const kbc = structuredClone(find("KingbusCluster", cluster.metadata.name));
    (kbc.spec!.syncer as Record<string, unknown>).sourse = { host: "x" };
    assert.match(problems(kbc).join("\n"), /spec\.syncer\.sourse is not in the CRD/);
    const job = structuredClone(find("Job", "workload"));
    (job.spec!.template!.spec.containers[0] as unknown as Record<string, unknown>).comand = ["x"];
    assert.match(problems(job).join("\n"), /unknown field spec\.template\.spec\.containers\[0\]\.comand/);
  });

  it("the KingbusCluster: 3 members, syncer from the primary's Service, server with its users Secret", () => {
    const spec = cluster.spec;
    assert.equal(spec.replicas, 3);
    assert.equal(spec.syncer.enabled, true);
    assert.equal(spec.server.enabled, true);
    const primaryService = find("Service", spec.syncer.source!.host);
    assert.ok(primaryService.spec?.["ports"] !== undefined);
    const ports = primaryService.spec!["ports"] as Array<{ port: number }>;
    assert.ok(ports.some((p) => p.port === spec.syncer.source!.port), "the primary's Service has the syncer's port");
    for (const ref of [spec.syncer.credentialsSecret!, spec.server.usersSecret!]) {
      const secret = find("Secret", ref.name);
      assert.ok(secret.stringData?.[ref.usernameKey], `Secret ${ref.name} lacks ${ref.usernameKey}`);
      assert.ok(secret.stringData?.[ref.passwordKey], `Secret ${ref.name} lacks ${ref.passwordKey}`);
    }
  });

  it("the primary writes a GTID binlog in ROW format; server ids are distinct", () => {
    const primary = find("StatefulSet", "mariadb-primary").spec!.template!.spec.containers[0]!;
    const replica = find("StatefulSet", "mariadb-replica").spec!.template!.spec.containers[0]!;
    assert.ok(argValue(primary, "--log-bin"));
    assert.equal(argValue(primary, "--binlog-format"), "ROW");
    assert.match(argValue(primary, "--gtid-domain-id") ?? "", /^[0-9]+$/);
    assert.equal(argValue(primary, "--rpl-semi-sync-master-enabled"), "ON", "the cluster asks for semi-sync");
    const ids = [argValue(primary, "--server-id"), argValue(replica, "--server-id"), String(cluster.spec.syncer.serverId)];
    assert.equal(new Set(ids).size, 3, `server ids ${ids.join(", ")}`);
    // The primary's settings run.sh checks after start-up.
    assert.match(RUN_SH, new RegExp(`"1 ROW ${argValue(primary, "--gtid-domain-id")} ${argValue(primary, "--server-id")} 1"`));
  });

  it("the replica replicates from the cluster's client Service, as a user of the server's users Secret", () => {
    const env = find("StatefulSet", "mariadb-replica").spec!.template!.spec.containers[0]!.env ?? [];
    const value = (name: string) => env.find((e) => e.name === name);
    assert.equal(value("KINGBUS_HOST")?.value, clusterNames(cluster).clientService);
    assert.equal(value("KINGBUS_PORT")?.value, String(cluster.spec.server.port));
    assert.deepEqual(value("KINGBUS_USER")?.valueFrom?.secretKeyRef, { name: cluster.spec.server.usersSecret!.name, key: cluster.spec.server.usersSecret!.usernameKey });
    assert.deepEqual(value("KINGBUS_PASSWORD")?.valueFrom?.secretKeyRef, { name: cluster.spec.server.usersSecret!.name, key: cluster.spec.server.usersSecret!.passwordKey });
    const attach = find("ConfigMap", "mariadb-scripts").data!["attach-replica.sh"]!;
    assert.match(attach, /MASTER_USE_GTID=slave_pos/);
  });

  it("every Secret, ConfigMap, key, headless Service and script the pods name exists", () => {
    const scripts = find("ConfigMap", "mariadb-scripts").data!;
    for (const { owner, spec } of podSpecs()) {
      for (const c of spec.containers) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref !== undefined) assert.ok(find("Secret", ref.name).stringData?.[ref.key] !== undefined, `${owner}: Secret ${ref.name} has no key ${ref.key}`);
        }
        const commands = [c.command ?? [], c.readinessProbe?.exec?.command ?? []];
        for (const command of commands) {
          for (const word of command) {
            const script = /^\/scripts\/(.+)$/.exec(word)?.[1];
            if (script !== undefined) assert.ok(scripts[script] !== undefined, `${owner}: no script ${script} in ConfigMap mariadb-scripts`);
          }
        }
      }
      for (const v of spec.volumes ?? []) {
        if (v.configMap === undefined) continue;
        const data = find("ConfigMap", v.configMap.name).data ?? {};
        for (const item of v.configMap.items ?? []) assert.ok(data[item.key] !== undefined, `${owner}: ConfigMap ${v.configMap.name} has no key ${item.key}`);
      }
    }
    for (const sts of ofKind("StatefulSet")) {
      const service = find("Service", sts.spec!.serviceName!);
      assert.equal(service.spec!.clusterIP, "None", `${service.metadata.name} is headless`);
    }
  });

  it("the scripts of the ConfigMap parse (sh -n)", () => {
    for (const [name, text] of Object.entries(find("ConfigMap", "mariadb-scripts").data!)) {
      const run = spawnSync("sh", ["-n"], { input: text, encoding: "utf8" });
      assert.equal(run.status, 0, `${name}: ${run.stderr}`);
    }
  });
});

describe("e2e/k8s/run.sh", () => {
  it("parses (bash -n)", () => {
    const run = spawnSync("bash", ["-n", join(HERE, "run.sh")], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
  });

  it("uses the manifests' names and image", () => {
    assert.equal(runShVariable("CLUSTER_NAME"), cluster.metadata.name);
    assert.equal(RUN_SH.includes('KINGBUS_STS="kingbus-$CLUSTER_NAME"'), true);
    assert.equal(`kingbus-${cluster.metadata.name}`, clusterNames(cluster).statefulSet);
    assert.equal(runShVariable("PRIMARY_POD"), `${find("StatefulSet", "mariadb-primary").metadata.name}-0`);
    assert.equal(runShVariable("REPLICA_POD"), `${find("StatefulSet", "mariadb-replica").metadata.name}-0`);
    assert.equal(runShVariable("WORKLOAD_JOB"), ofKind("Job")[0]!.metadata.name);
    const image = runShVariable("DEFAULT_MARIADB_IMAGE");
    for (const { owner, spec } of podSpecs()) for (const c of spec.containers) assert.equal(c.image, image, `${owner}: run.sh replaces "image: ${image}" with MARIADB_IMAGE`);
    for (const [, file] of RUN_SH.matchAll(/apply_manifest ([-a-z]+\.yaml)/g)) assert.ok(loaded.some((l) => l.file === file), `run.sh applies ${file}, which does not exist`);
    for (const [, script] of RUN_SH.matchAll(/\/scripts\/([-a-z]+\.sh)/g)) assert.ok(find("ConfigMap", "mariadb-scripts").data![script!] !== undefined, `run.sh runs /scripts/${script}, not in the ConfigMap`);
    const kind = parse(readFileSync(join(HERE, "kind.yaml"), "utf8")) as { nodes: Array<{ role: string }> };
    assert.equal(kind.nodes.filter((n) => n.role === "worker").length, 3);
  });

  it("hands `timeout` (bounded) programs only, never its own shell functions", () => {
    const functions = new Set([...RUN_SH.matchAll(/^([a-z_]+)\(\) \{/gm)].map((m) => m[1]!));
    const joined = RUN_SH.replace(/\\\n\s*/g, " ");
    const calls = [...joined.matchAll(/^[ \t]*bounded[ \t]+[0-9]+[ \t]+"(?:[^"\\]|\\.)*"[ \t]+(\S+)/gm)].map((m) => m[1]!);
    assert.ok(calls.length > 10, `found ${calls.length} bounded steps`);
    for (const program of calls) assert.ok(!functions.has(program), `bounded runs the shell function ${program}`);
  });

  it("passes the chart only values its schema has, and helm renders them into the operator's image", (t) => {
    const schema = JSON.parse(readFileSync(join(ROOT, "charts", "kingbus-operator", "values.schema.json"), "utf8")) as OpenApiSchema;
    const keys = [...RUN_SH.matchAll(/--set ([A-Za-z.]+)=/g)].map((m) => m[1]!);
    assert.deepEqual(keys, ["image.repository", "image.tag", "image.pullPolicy", "logLevel"]);
    for (const key of keys) {
      let node: OpenApiSchema | undefined = schema;
      for (const part of key.split(".")) node = node?.properties?.[part];
      assert.ok(node, `values.schema.json has no ${key}`);
    }
    const helm = requireHelm();
    if (helm.skip !== undefined) {
      t.skip(helm.skip);
      return;
    }
    const args = ["template", "kingbus-operator", join(ROOT, "charts", "kingbus-operator"), "--namespace", "kingbus-system"];
    for (const [k, v] of [["image.repository", "kingbus"], ["image.tag", "e2e-20250101000000"], ["image.pullPolicy", "IfNotPresent"], ["logLevel", "info"]]) args.push("--set", `${k}=${v}`);
    const run = runHelm(helm.path, args);
    assert.equal(run.status, 0, run.stderr);
    const docs = parseAllDocuments(run.stdout).map((d) => d.toJS() as Manifest | null).filter((d): d is Manifest => d !== null);
    const deployment = docs.find((d) => d.kind === "Deployment");
    assert.equal(deployment?.metadata.name, runShVariable("RELEASE"), "run.sh waits for deployment/$RELEASE");
    const container = deployment!.spec!.template!.spec.containers[0]!;
    assert.equal(container.image, "kingbus:e2e-20250101000000");
    assert.equal(container.env?.find((e) => e.name === "KINGBUS_OPERATOR_IMAGE")?.value, "kingbus:e2e-20250101000000", "the pods get the image run.sh built");
  });
});
