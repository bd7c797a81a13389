/**
 * `kingbus operator`: the Kubernetes operator (operator/src/main.ts). Flags override the
 * environment the Helm chart sets (KINGBUS_OPERATOR_*); see docs/operator.md.
 *
 * The operator and its Kubernetes client load only when this command runs: imported up front they
 * cost every `kingbus node` process about 35 MiB of resident memory (22 MiB of V8 heap) for code
 * it never runs (docs/raft.md, "Memory").
 */
import type { Command } from "commander";
import type { OperatorFlags, OperatorOverrides } from "../../../operator/src/main.ts";

/** `overrides` are for tests that run the command against loopback pods (operator/test-support). */
export function registerOperator(program: Command, overrides: OperatorOverrides = {}): Command {
  const command = program
    .command("operator")
    .description("run the Kubernetes operator: reconcile KingbusCluster resources into StatefulSets of kingbus pods")
    .option("--namespace <name>", "the operator's own namespace, where the leader election Lease lives (KINGBUS_OPERATOR_NAMESPACE)")
    .option("--pod-name <name>", "this replica's identity in the Lease (KINGBUS_OPERATOR_POD_NAME; default: the host name)")
    .option("--watch-namespaces <list>", "comma-separated namespaces to watch; empty for all (KINGBUS_OPERATOR_WATCH_NAMESPACES)")
    .option("--image <image>", "image of the pods when a cluster sets none (KINGBUS_OPERATOR_IMAGE; required)")
    .option("--http <host:port>", "/healthz, /readyz and /metrics, or off (KINGBUS_OPERATOR_HTTP; default 0.0.0.0:8080)")
    .option("--leader-election <bool>", "campaign for a Lease; only the leader reconciles (KINGBUS_OPERATOR_LEADER_ELECTION; default true)")
    .option("--log-level <level>", "fatal, error, warn, info, debug, trace or silent (KINGBUS_OPERATOR_LOG_LEVEL; default info)")
    .option("--cluster-domain <domain>", "DNS domain of the cluster for member addresses, e.g. cluster.local (KINGBUS_OPERATOR_CLUSTER_DOMAIN)")
    .option("--lease-name <name>", "the leader election Lease (KINGBUS_OPERATOR_LEASE_NAME; default kingbus-operator)")
    .option("--resync <duration>", "reconcile every cluster at least this often (KINGBUS_OPERATOR_RESYNC; default 60s)")
    .option("--kubeconfig <path>", "a kubeconfig file (default: in-cluster, KUBECONFIG, ~/.kube/config)");
  command.action(async (options: OperatorFlags) => {
    const { runOperatorCommand } = await import("../../../operator/src/main.ts");
    await runOperatorCommand(options, process.env, overrides);
  });
  return command;
}
