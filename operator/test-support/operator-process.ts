/**
 * `kingbus operator` as its own process for tests, through the command's real registration and
 * configuration (flags, KINGBUS_OPERATOR_* variables, failpoints), with one difference: the pods
 * are the loopback processes of a PodRunner, whose ports KINGBUS_TEST_POD_NETWORK gives as JSON
 * (PodRunner.portsJson(): {"<namespace>/<cluster>": {"<ordinal>": {"peer": p, "http": h}}}).
 *
 *   node operator/test-support/operator-process.ts operator --kubeconfig ... --image ...
 */
import { Command } from "commander";
import { registerOperator } from "../../node/src/cli/operator.ts";
import type { KingbusCluster } from "../src/api/kingbus-cluster.ts";
import type { PodNetwork } from "../src/controller/pod-admin.ts";

const table = JSON.parse(process.env.KINGBUS_TEST_POD_NETWORK ?? "{}") as Record<string, Record<string, { peer: number; http: number }>>;

function ports(cluster: KingbusCluster, ordinal: number): { peer: number; http: number } {
  const p = table[`${cluster.metadata.namespace}/${cluster.metadata.name}`]?.[String(ordinal)];
  if (p === undefined) throw new Error(`KINGBUS_TEST_POD_NETWORK has no ports for ${cluster.metadata.namespace}/${cluster.metadata.name} ordinal ${ordinal}`);
  return p;
}

const network: PodNetwork = {
  adminTarget: (cluster, ordinal) => `127.0.0.1:${ports(cluster, ordinal).peer}`,
  memberUrls: (cluster, ordinal) => ({ peerUrl: `http://127.0.0.1:${ports(cluster, ordinal).peer}`, adminUrl: `http://127.0.0.1:${ports(cluster, ordinal).http}` }),
};

const program = new Command("kingbus").exitOverride((e) => process.exit(e.exitCode));
registerOperator(program, { network, progressIntervalMs: 300, retryIntervalMs: 1_000, refreshIntervalMs: 2_000 });
await program.parseAsync(process.argv);
