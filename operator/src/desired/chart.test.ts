/**
 * The Helm chart (charts/kingbus-operator) with a real helm: `helm lint --strict`, and every
 * manifest `helm template` renders (CRD included) through the Kubernetes schemas offline, for the
 * default values and for values that turn every option on. Also: the operator's RBAC covers what
 * the desired-state functions apply and prune, and nothing wider.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse, parseAllDocuments, stringify } from "yaml";
import { requireHelm, runHelm } from "../../test-support/helm.ts";
import { chartValuesSchema } from "../api/chart-values.ts";
import { CHART_DIR } from "../api/generated-files.ts";
import { desiredAdminTokenSecret } from "./admin.ts";
import { desiredResources } from "./resources.ts";
import { FULL_SPEC, TEST_IMAGE, testCluster } from "./testing/fixtures.ts";
import { manifestProblems } from "./testing/manifest-checks.ts";

const helm = requireHelm();
const tmp = mkdtempSync(join(tmpdir(), "kingbus-chart-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
  [key: string]: unknown;
}

let files = 0;
function valuesFile(values: unknown): string {
  const path = join(tmp, `values-${files++}.yaml`);
  writeFileSync(path, stringify(values));
  return path;
}

function render(path: string, values?: unknown): Manifest[] {
  const args = ["template", "kb", CHART_DIR, "--namespace", "kingbus-system", "--include-crds"];
  if (values !== undefined) args.push("-f", valuesFile(values));
  const run = runHelm(path, args);
  assert.equal(run.status, 0, run.stderr);
  return parseAllDocuments(run.stdout)
    .map((d) => d.toJS() as Manifest | null)
    .filter((d): d is Manifest => d !== null);
}

const EVERYTHING_ON = {
  image: { repository: "registry.example/kingbus", tag: "1.2.3", pullPolicy: "Always" },
  imagePullSecrets: [{ name: "registry" }],
  replicaCount: 2,
  watchNamespaces: ["team-a", "team-b"],
  podAnnotations: { "example.com/a": "b" },
  podLabels: { team: "data" },
  nodeSelector: { pool: "system" },
  tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }],
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["system"] }] }] } } },
  serviceMonitor: { enabled: true, interval: "15s", labels: { release: "prometheus" } },
  example: { enabled: true, name: "orders", spec: FULL_SPEC },
};

describe("the Helm chart", { skip: helm.skip }, () => {
  const path = helm.path!;

  it("passes helm lint --strict, with defaults and with every option on", () => {
    for (const extra of [[], ["-f", valuesFile(EVERYTHING_ON)]]) {
      const run = runHelm(path, ["lint", "--strict", CHART_DIR, ...extra]);
      assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    }
  });

  it("values.schema.json refuses bad values (the schema is enforced)", () => {
    for (const bad of [{ replicaCount: 0 }, { unknownKey: true }, { example: { enabled: true, name: "x", spec: { replicas: 2 } } }, { image: { pullPolicy: "Sometimes" } }]) {
      const run = runHelm(path, ["lint", "--strict", CHART_DIR, "-f", valuesFile(bad)]);
      assert.notEqual(run.status, 0, `accepted ${JSON.stringify(bad)}`);
    }
  });

  it("values.yaml is what the chart's values schema (operator/src/api/chart-values.ts) takes", () => {
    const values = parse(readFileSync(join(CHART_DIR, "values.yaml"), "utf8")) as unknown;
    assert.equal(chartValuesSchema.safeParse(values).success, true, JSON.stringify(chartValuesSchema.safeParse(values).error?.issues));
    assert.equal(chartValuesSchema.safeParse({ ...(values as object), example: { enabled: true, name: "x", spec: { replicas: 4 } } }).success, false);
  });

  for (const [what, values] of [
    ["default values", undefined],
    ["every option on", EVERYTHING_ON],
    ["no RBAC, an existing service account", { rbac: { create: false }, serviceAccount: { create: false, name: "existing", annotations: {} } }],
  ] as const) {
    it(`every manifest rendered with ${what} passes the Kubernetes schemas`, () => {
      const docs = render(path, values);
      assert.ok(docs.some((d) => d.kind === "CustomResourceDefinition"));
      assert.ok(docs.some((d) => d.kind === "Deployment"));
      for (const doc of docs) assert.deepEqual(manifestProblems(doc), [], `${doc.kind} ${doc.metadata.name}`);
    });
  }

  it("the operator runs the image as non-root, knows its image and its namespaces", () => {
    const docs = render(path, EVERYTHING_ON);
    const deployment = docs.find((d) => d.kind === "Deployment") as unknown as {
      spec: { template: { spec: { securityContext: { runAsNonRoot: boolean }; containers: Array<{ image: string; args: string[]; env: Array<{ name: string; value?: string }> }> } } };
    };
    const pod = deployment.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    const container = pod.containers[0]!;
    assert.equal(container.image, "registry.example/kingbus:1.2.3");
    assert.deepEqual(container.args, ["operator"]);
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
    assert.equal(env.KINGBUS_OPERATOR_IMAGE, "registry.example/kingbus:1.2.3");
    assert.equal(env.KINGBUS_OPERATOR_WATCH_NAMESPACES, "team-a,team-b");
    const defaults = render(path).find((d) => d.kind === "Deployment") as unknown as typeof deployment;
    assert.equal(defaults.spec.template.spec.containers[0]!.image, "kingbus/kingbus:0.1.0", "the tag defaults to the chart's appVersion");
  });

  it("watching namespaces grants Roles there and nothing cluster-wide", () => {
    const docs = render(path, EVERYTHING_ON);
    assert.deepEqual(docs.filter((d) => d.kind.startsWith("Cluster")), []);
    const roles = docs.filter((d) => d.kind === "Role").map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
    assert.deepEqual(roles.sort(), ["kingbus-system/kb-kingbus-operator-leader-election", "team-a/kb-kingbus-operator", "team-b/kb-kingbus-operator"]);
  });

  it("the operator's rights cover what the desired state applies, prunes and creates, and no more", () => {
    const role = render(path).find((d) => d.kind === "ClusterRole")!;
    const rules = role.rules!;
    const allowed = (group: string, resource: string, verb: string): boolean =>
      rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    const plural = (kind: string): string => `${kind.toLowerCase()}s`;
    const group = (apiVersion: string): string => (apiVersion.includes("/") ? apiVersion.split("/")[0]! : "");
    const cluster = testCluster("orders", FULL_SPEC, "data");
    const everything = desiredResources(cluster, { defaultImage: TEST_IMAGE });
    const single = desiredResources(testCluster("solo", { replicas: 1 }), { defaultImage: TEST_IMAGE });
    for (const m of everything.apply) {
      for (const verb of ["get", "list", "watch", "create", "patch"]) assert.ok(allowed(group(m.apiVersion), plural(m.kind), verb), `${verb} ${m.kind}`);
    }
    for (const r of [...everything.prune, ...single.prune]) assert.ok(allowed(group(r.apiVersion), plural(r.kind), "delete"), `delete ${r.kind}`);
    assert.ok(allowed("", "secrets", "create") && allowed("", "secrets", "get"), "the admin token Secret and the credentials");
    assert.ok(allowed("", "persistentvolumeclaims", "list"), "replaced volumes are noticed by their claims' uids");
    assert.equal(desiredAdminTokenSecret(cluster, "t").kind, "Secret");
    assert.ok(allowed("kingbus.io", "kingbusclusters/status", "patch"));
    // Least privilege: no wildcards, Secrets never changed or deleted, nothing on nodes, RBAC or CRDs.
    for (const r of rules) {
      assert.ok(!r.verbs.includes("*") && !r.resources.includes("*") && !r.apiGroups.includes("*"), JSON.stringify(r));
    }
    for (const verb of ["update", "patch", "delete"]) assert.ok(!allowed("", "secrets", verb), `${verb} secrets`);
    assert.ok(!rules.some((r) => r.apiGroups.includes("rbac.authorization.k8s.io") || r.apiGroups.includes("apiextensions.k8s.io") || r.resources.includes("nodes")));
  });
});
