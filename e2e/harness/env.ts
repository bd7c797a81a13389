/**
 * One end-to-end environment, as users run kingbus, all on 127.0.0.1:
 *
 *   MariaDB primary ──binlog──> 3 kingbus pods (real processes, Raft) ──> "Service" proxy ──> 2 MariaDB replicas
 *     (sysbench + the mix)        syncer on the leader, binlog server      round robin over        one by GTID,
 *                                 on every pod                             ready pods              one by file and position
 *
 * start() brings it up (the primary and the pods in parallel), seeds the primary with the
 * project's checked mixed workload (node/test-support/workload.ts), prepares sysbench, attaches
 * the replicas and starts the lag probe; startLoad()/stopLoad() drive sysbench and the mix;
 * verify() is what every scenario ends with:
 *
 *  1. the load stops; every pod reaches the primary's @@gtid_binlog_pos, and so does every replica;
 *  2. GTID positions are equal: primary, each pod's executed set, each replica's gtid_slave_pos;
 *  3. every replica's data equals the primary's: CHECKSUM TABLE ... EXTENDED on every table;
 *  4. each pod's stored files are the primary's byte for byte, with no duplicate or missing GTID
 *     (store-checks.ts);
 *  5. no kingbus process died that the scenario did not kill, and no replica thread broke.
 *
 * Replicas need the binlog server (PUT /binlog/server/start). With replicas off (E2E_REPLICAS=0,
 * or { replicas: false }), the replica checks are reported as skipped and the rest still runs.
 */
import { performance } from "node:perf_hooks";
import { createReplicationUser, debugBinlog, REPL_PASSWORD, REPL_USER, startSyncer, waitForPosition } from "../../node/test-support/syncer-harness.ts";
import { startMariadb, type MariadbServer } from "../../node/test-support/mariadb.ts";
import { freePort } from "../../node/test-support/ports.ts";
import { runMixedWorkload } from "../../node/test-support/workload.ts";
import { MariadbGtidPosition } from "../../node/src/binlog/gtid-mariadb.ts";
import { E2eCluster, type E2eClusterOptions } from "./cluster.ts";
import { furthest, KINGBUS, Lag } from "./lag.ts";
import { log, sleep, waitUntil } from "./log.ts";
import { TcpProxy } from "./proxy.ts";
import { KingbusReplica, SERVER_PASSWORD, SERVER_USER, tableChecksums } from "./replicas.ts";
import { checkStore, StoreMismatch } from "./store-checks.ts";
import { MixLoad, prepareSysbench, SysbenchLoad, type SysbenchOptions } from "./workload.ts";

export interface EnvOptions {
  name: string;
  /** Attach the replicas (default: E2E_REPLICAS, else true). */
  replicas?: boolean;
  /** How the replicas attach; default one by GTID and one by file and position. */
  replicaModes?: Array<"gtid" | "file">;
  cluster?: E2eClusterOptions;
  /** A second MariaDB that replicates the primary and can take over as the source (scenario 6). */
  standby?: boolean;
  /** sysbench's settings; false: the mix alone. */
  sysbench?: Partial<SysbenchOptions> | false;
  /** Pause between two operations of the mix, ms (default 100). */
  mixPauseMs?: number;
}

export interface Check {
  name: string;
  ok: boolean | "skipped";
  detail: string;
}

export function replicasWanted(o: { replicas?: boolean }): boolean {
  if (o.replicas !== undefined) return o.replicas;
  return process.env.E2E_REPLICAS !== "0";
}

export class Environment {
  readonly name: string;
  readonly options: EnvOptions;
  /** The current source of kingbus. */
  primary!: MariadbServer;
  /** Every primary kingbus pulled from, in order (the store holds their files). */
  readonly primaries: MariadbServer[] = [];
  standby: MariadbServer | undefined;
  cluster!: E2eCluster;
  service!: TcpProxy;
  /** Each pod's binlog server port (a pod's server listens on the same port after a restart). */
  readonly serverPorts = new Map<number, number>();
  readonly replicas: KingbusReplica[] = [];
  sysbench: SysbenchLoad | undefined;
  mix!: MixLoad;
  lag!: Lag;
  private readonly ready = new Set<number>();
  private readiness: NodeJS.Timeout | undefined;
  private kingbusPosition = "";
  readonly startedAt = performance.now();
  /** Whether replicas are attached (the binlog server answered). */
  withReplicas = false;
  private serverRequired = true;
  /** Seconds start() took. */
  setupSeconds = 0;
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  private constructor(o: EnvOptions) {
    this.name = o.name;
    this.options = o;
  }

  static async start(o: EnvOptions): Promise<Environment> {
    const env = new Environment(o);
    try {
      await env.setUp();
    } catch (e) {
      await env.stop();
      throw e;
    }
    return env;
  }

  /** A callback run by stop(), last registered first (unmounting a tmpfs, say). */
  onStop(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  private async setUp(): Promise<void> {
    const began = performance.now();
    const withReplicas = replicasWanted(this.options);
    const modes = this.options.replicaModes ?? ["gtid", "file"];
    // Everything that takes seconds to start, at once; whatever started is stopped if any failed.
    const started = await Promise.allSettled([
      startMariadb({ name: `${this.name}-primary`, extraArgs: ["--max-connections=200"] }),
      E2eCluster.create(this.options.cluster),
      this.options.standby ? startMariadb({ name: `${this.name}-standby`, extraArgs: ["--log-bin=standby-bin", "--max-connections=200"] }) : Promise.resolve(undefined),
      ...(withReplicas ? modes.map((m) => KingbusReplica.create(`${this.name}-replica-${m}`)) : []),
    ]);
    const value = <T>(r: PromiseSettledResult<T> | undefined): T | undefined => (r?.status === "fulfilled" ? r.value : undefined);
    const failed = started.find((r) => r.status === "rejected");
    if (failed) {
      const servers = [started[0], started[2]].map((r) => value(r as PromiseSettledResult<MariadbServer | undefined>));
      await Promise.all(servers.map((x) => x?.stop().catch(() => undefined)));
      await value(started[1] as PromiseSettledResult<E2eCluster>)?.stop().catch(() => undefined);
      await Promise.all(started.slice(3).map((r) => value(r as PromiseSettledResult<KingbusReplica>)?.stop().catch(() => undefined)));
      throw (failed as PromiseRejectedResult).reason;
    }
    const primary = value(started[0] as PromiseSettledResult<MariadbServer>)!;
    const cluster = value(started[1] as PromiseSettledResult<E2eCluster>)!;
    const standby = value(started[2] as PromiseSettledResult<MariadbServer | undefined>);
    const replicaServers = started.slice(3).map((r) => value(r as PromiseSettledResult<KingbusReplica>)!);
    this.replicas.push(...replicaServers);
    this.primary = primary;
    this.primaries.push(primary);
    this.cluster = cluster;
    this.standby = standby;
    log(`${this.name}: primary on port ${primary.port}, kingbus pods ${cluster.ids.map((id) => `${id} (http ${cluster.node(id).httpPort})`).join(", ")}${standby ? `, standby on port ${standby.port}` : ""}`);

    await createReplicationUser(primary);
    if (standby) {
      await standby.query(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=${primary.port}, MASTER_USER='${REPL_USER}', MASTER_PASSWORD='${REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`);
      await standby.query("START SLAVE");
    }
    const leader = await cluster.waitForLeader(30_000);
    await startSyncer(cluster.kc, leader, primary, { heartbeat_period: 1 });
    for (const id of cluster.ids) this.serverPorts.set(id, await freePort());
    this.serverRequired = withReplicas;
    for (const id of cluster.ids) await this.startServer(id);
    this.readiness = setInterval(() => void this.pollReadiness(), 200);
    this.service = await TcpProxy.start("kingbus service", () => this.serviceCandidates());

    // The project's checked mix first, alone on the primary (it verifies every GTID it adds).
    const seed = await runMixedWorkload(primary, { domains: [0, 3], database: "kb_seed" });
    log(`${this.name}: seeded the primary with ${seed.gtids.length} transactions of the project's mixed workload`);
    await MixLoad.prepare(primary);
    if (this.options.sysbench !== false) {
      const sb: SysbenchOptions = { tables: 4, tableSize: 1000, threads: 4, rate: 150, ...this.options.sysbench };
      this.sysbench = new SysbenchLoad(await prepareSysbench(primary, sb), primary, sb);
    }
    this.mix = new MixLoad(primary, { pauseMs: this.options.mixPauseMs });

    await waitForPosition(cluster.kc, cluster.ids, await primary.gtidBinlogPos(), 60_000);
    if (withReplicas) {
      const [firstFile] = await primary.binlogFiles();
      for (const [i, replica] of replicaServers.entries()) {
        await replica.attach(this.service.port, modes[i] === "gtid" ? "gtid" : { file: firstFile!.split("/").at(-1)!, position: 4 });
      }
      this.withReplicas = true;
    }
    const followers: Record<string, () => Promise<string>> = { [KINGBUS]: () => this.kingbusCommitted() };
    for (const r of this.replicas) followers[r.name] = () => r.position();
    this.lag = new Lag(() => this.primary.gtidBinlogPos(), followers);
    this.lag.start();
    this.setupSeconds = (performance.now() - began) / 1000;
    log(`${this.name}: ready in ${this.setupSeconds.toFixed(1)} s (${this.withReplicas ? `replicas ${this.replicas.map((r) => `${r.name} on port ${r.server.port}`).join(", ")}; service on port ${this.service.port}` : "no replicas"})`);
  }

  /**
   * PUT /binlog/server/start on a pod (again after its data directory was lost). Without replicas
   * a refusal is only logged: the kingbus-side checks do not need the server.
   */
  async startServer(id: number): Promise<void> {
    const body = JSON.stringify({ addr: `127.0.0.1:${this.serverPorts.get(id)}`, user: SERVER_USER, password: SERVER_PASSWORD });
    const r = await this.cluster.kc.call<string>(id, "PUT", "/binlog/server/start", body);
    if (r.status !== 200 && !(r.status === 409 && /running/.test(r.message))) {
      if (!this.serverRequired) {
        log(`PUT /binlog/server/start on pod ${id} answered ${r.status}: ${r.message} (no replicas: going on)`);
        return;
      }
      throw new Error(`PUT /binlog/server/start on pod ${id} answered ${r.status}: ${r.message} (the replicas need the binlog server; E2E_REPLICAS=0 runs without them)`);
    }
  }

  private async pollReadiness(): Promise<void> {
    await Promise.all(
      this.cluster.ids.map(async (id) => {
        if (!this.cluster.isRunning(id)) {
          this.ready.delete(id);
          return;
        }
        try {
          const r = await fetch(`http://127.0.0.1:${this.cluster.node(id).httpPort}/readyz`, { signal: AbortSignal.timeout(1000) });
          await r.arrayBuffer();
          if (r.status === 200) this.ready.add(id);
          else this.ready.delete(id);
        } catch {
          this.ready.delete(id);
        }
      }),
    );
  }

  /**
   * Ports the Service sends a new connection to: the ready pods (GET /readyz answers 200), as a
   * Kubernetes Service's endpoints; none while no pod is ready (the connection is closed and the
   * replica retries).
   */
  private serviceCandidates(): number[] {
    return this.cluster.running().filter((id) => this.ready.has(id)).map((id) => this.serverPorts.get(id)!);
  }

  /** Why a replica's replication is broken for good (a stopped IO or SQL thread), or undefined. */
  async replicasBroken(): Promise<string | undefined> {
    for (const r of this.replicas) {
      try {
        await r.check();
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
    }
    return undefined;
  }

  /** The furthest executed GTID position any running pod applied: what kingbus committed. */
  async kingbusCommitted(): Promise<string> {
    const states = await Promise.all(this.cluster.running().map((id) => this.cluster.binlog(id)));
    const texts = states.filter((s) => s !== undefined).map((s) => s.executed);
    if (texts.length === 0) return this.kingbusPosition;
    this.kingbusPosition = furthest([this.kingbusPosition, ...texts].filter((t) => t !== ""));
    return this.kingbusPosition;
  }

  /** Which pod each replica is dumping from (by server id in GET /binlog/server/status). */
  async replicaPods(): Promise<Record<string, number | null>> {
    const out: Record<string, number | null> = Object.fromEntries(this.replicas.map((r) => [r.name, null]));
    await Promise.all(
      this.cluster.running().map(async (id) => {
        const r = await this.cluster.kc.call<{ slaves?: Array<{ server_id: number }> }>(id, "GET", "/binlog/server/status").catch(() => undefined);
        for (const s of r?.data?.slaves ?? []) {
          const replica = this.replicas.find((x) => x.server.serverId === s.server_id);
          if (replica) out[replica.name] = id;
        }
      }),
    );
    return out;
  }

  /**
   * Reconnects a replica's IO thread until the Service hands it to pod `id` (so a scenario can
   * hit the pod a replica reads from). Returns false if that did not happen within 10 tries.
   */
  async placeReplica(replica: KingbusReplica, id: number): Promise<boolean> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const on = await waitUntil(`replica ${replica.name} dumping`, 10_000, async () => (await this.replicaPods())[replica.name] ?? undefined, 100).catch(() => undefined);
      if (on === id) return true;
      await replica.server.query("STOP SLAVE IO_THREAD");
      await replica.server.query("START SLAVE IO_THREAD");
    }
    return false;
  }

  /** Followers the lag is measured for: the replicas, or kingbus itself without replicas. */
  lagFollowers(): string[] {
    return this.withReplicas ? this.replicas.map((r) => r.name) : [KINGBUS];
  }

  startLoad(): void {
    this.sysbench?.start();
    this.mix.start();
  }

  async stopLoad(): Promise<void> {
    await Promise.all([this.sysbench?.stop(), this.mix.stop()]);
  }

  /** Makes `next` the source: the load and kingbus's syncer move to it (no gap: it holds everything). */
  async switchPrimary(next: MariadbServer, via: number): Promise<void> {
    this.primary = next;
    this.primaries.push(next);
    const stop = await this.cluster.kc.call<string>(via, "PUT", "/binlog/syncer/stop");
    if (stop.status !== 200) throw new Error(`PUT /binlog/syncer/stop: ${stop.status} ${stop.message}`);
    await startSyncer(this.cluster.kc, via, next, { heartbeat_period: 1 });
    this.sysbench?.retarget(next);
    this.mix.retarget(next);
  }

  /** Waits until every pod runs and applied the primary's position. */
  async waitKingbusAt(target: string, timeoutMs = 60_000): Promise<void> {
    await waitForPosition(this.cluster.kc, this.cluster.ids, target, timeoutMs);
  }

  /** The checks every scenario ends with (see the file comment). Never throws: failures are results. */
  async verify(o: { allowExits?: boolean } = {}): Promise<Check[]> {
    const checks: Check[] = [];
    const run = async (name: string, fn: () => Promise<string>): Promise<boolean> => {
      const began = performance.now();
      try {
        const detail = await fn();
        checks.push({ name, ok: true, detail });
        log(`  ✔ ${name}: ${detail} (${((performance.now() - began) / 1000).toFixed(1)} s)`);
        return true;
      } catch (e) {
        const detail = e instanceof Error ? e.message : String(e);
        checks.push({ name, ok: false, detail });
        log(`  ✘ ${name}: ${detail}`);
        return false;
      }
    };
    const skipped = (name: string, why: string): void => {
      checks.push({ name, ok: "skipped", detail: why });
      log(`  - ${name}: skipped (${why})`);
    };

    await this.stopLoad();
    let target = "";
    await run("the primary is up and the load stopped", async () => {
      target = await this.primary.gtidBinlogPos();
      return `@@gtid_binlog_pos ${target}; sysbench started ${this.sysbench?.runs ?? 0} time(s); mix: ${this.mix.stats.ops} operations, ${this.mix.stats.errors} errors`;
    });
    await run("every kingbus pod is running", async () => {
      const down = this.cluster.ids.filter((id) => !this.cluster.isRunning(id));
      if (down.length) throw new Error(`pods ${down.join(", ")} are not running at the end`);
      return `pods ${this.cluster.ids.join(", ")}`;
    });
    const kingbusAt = await run("every kingbus pod reaches the primary's GTID position", async () => {
      const began = performance.now();
      await this.waitKingbusAt(target, 90_000);
      return `${target} on pods ${this.cluster.ids.join(", ")} after ${((performance.now() - began) / 1000).toFixed(1)} s`;
    });
    if (this.withReplicas) {
      await run("every replica reaches the primary's GTID position", async () => {
        const began = performance.now();
        await Promise.all(this.replicas.map((r) => r.waitFor(target, 90_000)));
        return `${this.replicas.map((r) => r.name).join(", ")} at ${target} after ${((performance.now() - began) / 1000).toFixed(1)} s`;
      });
    } else skipped("every replica reaches the primary's GTID position", "no replicas attached");

    await run("GTID positions are equal: primary, every pod, every replica", async () => {
      const want = MariadbGtidPosition.parse(await this.primary.gtidBinlogPos());
      const seen: string[] = [];
      for (const id of this.cluster.ids) {
        const s = await debugBinlog(this.cluster.kc, id);
        if (!MariadbGtidPosition.parse(s.executed).equals(want)) throw new Error(`pod ${id} executed ${s.executed}, the primary ${want.toString()}`);
        seen.push(`pod ${id}`);
      }
      for (const r of this.replicas) {
        const p = await r.position();
        if (!MariadbGtidPosition.parse(p).equals(want)) throw new Error(`replica ${r.name} at ${p}, the primary ${want.toString()}`);
        seen.push(r.name);
      }
      return `${want.toString()} on the primary, ${seen.join(", ")}`;
    });

    if (this.withReplicas) {
      await run("every replica's data equals the primary's (CHECKSUM TABLE on every table)", async () => {
        const want = await tableChecksums(this.primary);
        for (const r of this.replicas) {
          const got = await tableChecksums(r.server);
          const missing = Object.keys(want).filter((t) => !(t in got));
          const extra = Object.keys(got).filter((t) => !(t in want));
          const differ = Object.keys(want).filter((t) => t in got && got[t] !== want[t]);
          if (missing.length || extra.length || differ.length) {
            throw new Error(`replica ${r.name}: ${[missing.length ? `missing ${missing.join(", ")}` : "", extra.length ? `extra ${extra.join(", ")}` : "", differ.length ? `different ${differ.join(", ")}` : ""].filter(Boolean).join("; ")}`);
          }
        }
        return `${Object.keys(want).length} tables equal on ${this.replicas.length} replicas`;
      });
      await run("replication threads healthy", async () => {
        const out: string[] = [];
        for (const r of this.replicas) {
          const s = await r.check();
          out.push(`${r.name}: IO ${s.io}, SQL ${s.sql}, ${s.usingGtid === "No" ? `by file ${s.masterFile}:${s.readPos}` : `by GTID (${s.usingGtid})`}`);
        }
        return out.join("; ");
      });
    } else {
      skipped("every replica's data equals the primary's (CHECKSUM TABLE on every table)", "no replicas attached");
    }

    if (kingbusAt) {
      for (const id of this.cluster.ids) {
        await run(`pod ${id} stores the primary's files byte for byte, no duplicate or missing GTID`, async () => {
          const st = await this.cluster.status(id);
          const server = await this.cluster.kc.call<{ purged_gtid_set?: string }>(id, "GET", "/binlog/server/status").catch(() => undefined);
          const purged = server?.status === 200 ? (server.data.purged_gtid_set ?? "") : "";
          const compacted = (st?.firstIndex ?? 1) > 1;
          // A Binlog_checkpoint the primary writes a moment after a rotation may still be on its way:
          // a copy that only lacks the end is compared again for a few seconds.
          let lastError: unknown;
          for (let attempt = 0; attempt < 12; attempt++) {
            try {
              const report = await checkStore(this.cluster.kc, id, { primaries: this.primaries, target, purged, compacted });
              const special = report.files.filter((f) => f.how !== "identical").map((f) => `${f.name} is a ${f.how} of the primary's`);
              return `${report.files.length} files (${report.files.reduce((a, f) => a + f.bytes, 0)} bytes)${special.length ? `, ${special.join(", ")}` : ""}; ${report.gtids} GTIDs, domains ${report.domains.join(" ")}${compacted ? `; log compacted, purged ${purged || "(unknown)"}` : ""}`;
            } catch (e) {
              lastError = e;
              if (!(e instanceof StoreMismatch && e.tail)) break;
              await sleep(250);
            }
          }
          throw lastError;
        });
      }
    }
    await run("no kingbus process died that the scenario did not kill", async () => {
      const exits = this.cluster.unexpectedExits;
      if (exits.length > 0 && !o.allowExits) {
        throw new Error(exits.map((x) => `pod ${x.id} exited (code ${x.code}, signal ${x.signal}): ${x.log.split("\n").filter(Boolean).slice(-3).join(" | ")}`).join("; "));
      }
      return `${this.cluster.expectedExits.length} exits, all caused by the scenario`;
    });
    return checks;
  }

  /** Waits until every node (default: all) runs and is ready, e.g. after restarts. */
  async waitReady(ids = this.cluster.ids, timeoutMs = 30_000): Promise<void> {
    await waitUntil(`pods ${ids.join(", ")} ready`, timeoutMs, async () => {
      await this.pollReadiness();
      return ids.every((id) => this.ready.has(id)) ? true : undefined;
    }, 100);
  }

  async stop(): Promise<void> {
    clearInterval(this.readiness);
    await this.lag?.stop().catch(() => undefined);
    await this.sysbench?.stop().catch(() => undefined);
    await this.mix?.stop().catch(() => undefined);
    await Promise.all(this.replicas.map((r) => r.stop().catch(() => undefined)));
    await this.service?.close().catch(() => undefined);
    // Pods first, then what they used (a tmpfs under a data directory), then their directories.
    for (const id of this.cluster?.ids ?? []) await this.cluster.kill(id, "SIGTERM").catch(() => undefined);
    for (const fn of this.cleanups.reverse()) await Promise.resolve(fn()).catch(() => undefined);
    await this.cluster?.stop().catch(() => undefined);
    await Promise.all(this.primaries.map((p) => p.stop().catch(() => undefined)));
    await this.standby?.stop().catch(() => undefined);
  }
}
