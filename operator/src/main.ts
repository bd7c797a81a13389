/**
 * `kingbus operator`: the configuration from flags and the environment the Helm chart sets
 * (docs/operator.md), then the controller until SIGTERM or SIGINT.
 *
 * | flag | environment | default |
 * | --- | --- | --- |
 * | `--namespace` | `KINGBUS_OPERATOR_NAMESPACE` | the service account's namespace, else `default`: where the Lease lives |
 * | `--pod-name` | `KINGBUS_OPERATOR_POD_NAME` | the host name: the Lease holder identity |
 * | `--watch-namespaces` | `KINGBUS_OPERATOR_WATCH_NAMESPACES` | empty: every namespace (comma-separated) |
 * | `--image` | `KINGBUS_OPERATOR_IMAGE` | required: the pods' image when spec.image is unset |
 * | `--http` | `KINGBUS_OPERATOR_HTTP` | `0.0.0.0:8080` (`/healthz`, `/readyz`, `/metrics`) |
 * | `--leader-election` | `KINGBUS_OPERATOR_LEADER_ELECTION` | `true` |
 * | `--log-level` | `KINGBUS_OPERATOR_LOG_LEVEL` | `info` |
 * | `--cluster-domain` | `KINGBUS_OPERATOR_CLUSTER_DOMAIN` | unset: member names end in `.svc` |
 * | `--lease-name` | `KINGBUS_OPERATOR_LEASE_NAME` | `kingbus-operator` |
 * | `--resync` | `KINGBUS_OPERATOR_RESYNC` | `60s` |
 * | `--kubeconfig` | `KUBECONFIG` | in-cluster service account, else `~/.kube/config` |
 * | | `KINGBUS_OPERATOR_FAILPOINT` | unset; tests: exit 1 right after the named step (controller/failpoints.ts) |
 */
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { KubeConfig } from "@kubernetes/client-node";
import { pino, type Logger } from "pino";
import { KingbusError } from "../../node/src/errors.ts";
import { REDACT_CENSOR, REDACT_PATHS } from "../../node/src/admin/logger.ts";
import { parseDurationMs } from "./api/units.ts";
import { LOG_LEVELS } from "./api/kingbus-cluster.ts";
import { OperatorController, DEFAULT_LEASE_NAME } from "./controller/controller.ts";
import { exitingFailpoints, parseFailpoints, FailpointConfigError, type FailpointName } from "./controller/failpoints.ts";
import type { AdminConnector, PodNetwork } from "./controller/pod-admin.ts";
import { FIELD_MANAGER } from "./desired/names.ts";
import { KubeClient } from "./kube/client.ts";

/** Exit status of a configuration `kingbus operator` refuses. */
export const EXIT_OPERATOR_CONFIG = 2;
const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export class OperatorConfigError extends KingbusError {
  declare readonly code: "OPERATOR_CONFIG_INVALID";

  constructor(message: string) {
    super("OPERATOR_CONFIG_INVALID", message);
  }
}

/** Flags as commander gives them (camelCase), all optional. */
export interface OperatorFlags {
  readonly namespace?: string;
  readonly podName?: string;
  readonly watchNamespaces?: string;
  readonly image?: string;
  readonly http?: string;
  readonly leaderElection?: string | boolean;
  readonly logLevel?: string;
  readonly clusterDomain?: string;
  readonly leaseName?: string;
  readonly resync?: string;
  readonly kubeconfig?: string;
}

export interface OperatorConfig {
  readonly namespace: string;
  readonly podName: string;
  /** Empty: every namespace. */
  readonly watchNamespaces: readonly string[];
  readonly image: string;
  /** Undefined: no HTTP server (`--http off`). */
  readonly http: { readonly host: string; readonly port: number } | undefined;
  readonly leaderElection: boolean;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly clusterDomain: string | undefined;
  readonly leaseName: string;
  readonly resyncMs: number;
  readonly kubeconfig: string | undefined;
  readonly failpoints: ReadonlySet<FailpointName>;
}

function parseBool(text: string | boolean, what: string): boolean {
  if (typeof text === "boolean") return text;
  if (/^(true|1|yes|on)$/i.test(text)) return true;
  if (/^(false|0|no|off)$/i.test(text)) return false;
  throw new OperatorConfigError(`${what}: must be true or false (got ${JSON.stringify(text)})`);
}

function parseListen(text: string): { host: string; port: number } | undefined {
  if (text === "off" || text === "") return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw new OperatorConfigError(`http: must be host:port, e.g. 0.0.0.0:8080, or off (got ${JSON.stringify(text)})`);
  return { host: m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]!), port };
}

/** The configuration from flags (first) and the environment; throws OperatorConfigError naming the setting. */
export function operatorConfig(flags: OperatorFlags, env: NodeJS.ProcessEnv, readNamespace: () => string | undefined = defaultNamespace): OperatorConfig {
  const pick = (flag: string | undefined, variable: string): string | undefined => flag ?? (env[variable] === undefined ? undefined : env[variable]);
  const image = pick(flags.image, "KINGBUS_OPERATOR_IMAGE");
  if (image === undefined || image.trim() === "") throw new OperatorConfigError("image: required (--image or KINGBUS_OPERATOR_IMAGE): the image of the pods when a cluster sets none");
  const logLevel = pick(flags.logLevel, "KINGBUS_OPERATOR_LOG_LEVEL") ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new OperatorConfigError(`log level: one of ${LOG_LEVELS.join(", ")} (got ${JSON.stringify(logLevel)})`);
  const resyncText = pick(flags.resync, "KINGBUS_OPERATOR_RESYNC") ?? "60s";
  const resyncMs = parseDurationMs(resyncText);
  if (resyncMs === undefined || resyncMs < 1000) throw new OperatorConfigError(`resync: a duration of at least 1s, e.g. 60s or 5m (got ${JSON.stringify(resyncText)})`);
  let failpoints: Set<FailpointName>;
  try {
    failpoints = parseFailpoints(env.KINGBUS_OPERATOR_FAILPOINT);
  } catch (e) {
    if (e instanceof FailpointConfigError) throw new OperatorConfigError(`KINGBUS_OPERATOR_FAILPOINT: ${e.message}`);
    throw e;
  }
  const watch = (pick(flags.watchNamespaces, "KINGBUS_OPERATOR_WATCH_NAMESPACES") ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const ns of watch) if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)) throw new OperatorConfigError(`watch namespaces: ${JSON.stringify(ns)} is not a namespace name`);
  const domain = pick(flags.clusterDomain, "KINGBUS_OPERATOR_CLUSTER_DOMAIN");
  return {
    namespace: pick(flags.namespace, "KINGBUS_OPERATOR_NAMESPACE") ?? readNamespace() ?? "default",
    podName: pick(flags.podName, "KINGBUS_OPERATOR_POD_NAME") ?? hostname(),
    watchNamespaces: [...new Set(watch)],
    image: image.trim(),
    http: parseListen(pick(flags.http, "KINGBUS_OPERATOR_HTTP") ?? "0.0.0.0:8080"),
    leaderElection: parseBool(flags.leaderElection ?? env.KINGBUS_OPERATOR_LEADER_ELECTION ?? "true", "leader election"),
    logLevel: logLevel as OperatorConfig["logLevel"],
    clusterDomain: domain === undefined || domain === "" ? undefined : domain,
    leaseName: pick(flags.leaseName, "KINGBUS_OPERATOR_LEASE_NAME") ?? DEFAULT_LEASE_NAME,
    resyncMs,
    kubeconfig: flags.kubeconfig,
    failpoints,
  };
}

function defaultNamespace(): string | undefined {
  try {
    return existsSync(SERVICE_ACCOUNT_NAMESPACE) ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim() || undefined : undefined;
  } catch {
    return undefined;
  }
}

/** What tests replace: where the pods are, how to call them, the logger's destination. */
export interface OperatorOverrides {
  readonly network?: PodNetwork;
  readonly admin?: AdminConnector;
  readonly logger?: Logger;
  /** Reconciler and queue timings (tests run faster). */
  readonly progressIntervalMs?: number;
  readonly retryIntervalMs?: number;
  readonly refreshIntervalMs?: number;
}

export interface RunningOperator {
  readonly controller: OperatorController;
  readonly logger: Logger;
  stop(): Promise<void>;
}

/** Builds and starts the controller; returns once it runs (leading or campaigning). */
export async function startOperator(config: OperatorConfig, overrides: OperatorOverrides = {}): Promise<RunningOperator> {
  const logger = overrides.logger ?? pino({ level: config.logLevel, redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR }, base: { component: "kingbus-operator", pod: config.podName } }, pino.destination(2));
  const kubeConfig = new KubeConfig();
  try {
    if (config.kubeconfig !== undefined) kubeConfig.loadFromFile(config.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (e) {
    throw new OperatorConfigError(`kubeconfig: cannot load ${config.kubeconfig ?? "the default configuration"}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (kubeConfig.getCurrentCluster() === null) throw new OperatorConfigError("kubeconfig: no current cluster (in-cluster service account, KUBECONFIG or ~/.kube/config)");
  const client = new KubeClient(kubeConfig, { fieldManager: FIELD_MANAGER, userAgent: `kingbus-operator/${config.podName}` });
  const failpoint = exitingFailpoints(config.failpoints, (name) => {
    logger.fatal({ failpoint: name }, "failpoint reached: exiting with status 1");
    logger.flush();
  });
  const controller = new OperatorController({
    client,
    namespaces: config.watchNamespaces,
    defaultImage: config.image,
    identity: config.podName,
    ...(config.leaderElection ? { leaderElection: { namespace: config.namespace, name: config.leaseName } } : {}),
    ...(config.http === undefined ? {} : { http: config.http }),
    ...(config.clusterDomain === undefined ? {} : { clusterDomain: config.clusterDomain }),
    ...(overrides.network === undefined ? {} : { network: overrides.network }),
    ...(overrides.admin === undefined ? {} : { admin: overrides.admin }),
    ...(overrides.progressIntervalMs === undefined ? {} : { progressIntervalMs: overrides.progressIntervalMs }),
    ...(overrides.retryIntervalMs === undefined ? {} : { retryIntervalMs: overrides.retryIntervalMs }),
    ...(overrides.refreshIntervalMs === undefined ? {} : { refreshIntervalMs: overrides.refreshIntervalMs }),
    failpoint,
    logger,
    resyncMs: config.resyncMs,
  });
  await controller.start();
  logger.info({ namespace: config.namespace, watch: config.watchNamespaces.length === 0 ? "all" : config.watchNamespaces, leaderElection: config.leaderElection, failpoints: [...config.failpoints] }, "kingbus operator started");
  return { controller, logger, stop: () => controller.stop() };
}

/** The command: runs until SIGTERM or SIGINT; a configuration it refuses exits with status 2. */
export async function runOperatorCommand(flags: OperatorFlags, env: NodeJS.ProcessEnv, overrides: OperatorOverrides = {}): Promise<void> {
  let running: RunningOperator;
  try {
    running = await startOperator(operatorConfig(flags, env), overrides);
  } catch (e) {
    if (!(e instanceof OperatorConfigError)) throw e;
    process.stderr.write(`kingbus operator: invalid configuration: ${e.message}\n`);
    process.exitCode = EXIT_OPERATOR_CONFIG;
    return;
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    running.stop().then(
      () => process.exit(process.exitCode ?? 0),
      (e: unknown) => {
        process.stderr.write(`kingbus operator: stopping failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
