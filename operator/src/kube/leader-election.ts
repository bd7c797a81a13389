/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * - a candidate tries every retryPeriod (with up to 20% jitter) to acquire the lease: it creates
 *   it when missing, or takes it over when it is free (holderIdentity "") or when its holder has
 *   not renewed for leaseDurationSeconds *as observed locally* (the time this candidate last saw
 *   the lease record change, not the renewTime written in it, so clock skew between machines
 *   cannot cut a leader's term short). A takeover bumps leaseTransitions and sets acquireTime;
 * - every write is a PUT carrying the resourceVersion read, so two candidates racing for the
 *   same lease cannot both win: the loser gets 409 and tries again later;
 * - the leader renews every retryPeriod; if it cannot renew for renewDeadline (shorter than the
 *   lease duration) it stops leading (onStoppedLeading, its AbortSignal aborts) before anyone
 *   else may take over, then becomes a candidate again;
 * - stop() releases the lease (holderIdentity "", leaseDurationSeconds 1) so that a successor
 *   need not wait; stop({ release: false }) just stops, like a crash.
 * Times are written as metav1.MicroTime (six fraction digits), which the API server requires.
 */
import { isAlreadyExists, isConflict, KubeApiError } from "./errors.ts";
import type { KubeClient } from "./client.ts";
import { Leases, microTime, type Lease } from "./types.ts";

export interface LeaderElectionOptions {
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This candidate (the pod name): must differ between candidates. */
  identity: string;
  /** Whole seconds (default 15 s). */
  leaseDurationMs?: number;
  /** Default 10 s; must be below leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Default 2 s. */
  retryPeriodMs?: number;
  /** Called on becoming leader; the signal aborts when leadership ends. */
  onStartedLeading: (signal: AbortSignal) => void;
  onStoppedLeading?: () => void;
  /** Called when the observed holder changes (including to this candidate). */
  onNewLeader?: (identity: string) => void;
  /** Failed attempts (API errors), for logs. */
  onError?: (error: unknown) => void;
}

interface Record {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string | undefined;
  renewTime: string | undefined;
  leaseTransitions: number;
}

function recordOf(lease: Lease): Record {
  const s = lease.spec ?? {};
  return {
    holderIdentity: s.holderIdentity ?? "",
    leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
    acquireTime: s.acquireTime,
    renewTime: s.renewTime,
    leaseTransitions: s.leaseTransitions ?? 0,
  };
}

function sameRecord(a: Record | undefined, b: Record): boolean {
  return a !== undefined && a.holderIdentity === b.holderIdentity && a.renewTime === b.renewTime &&
    a.acquireTime === b.acquireTime && a.leaseTransitions === b.leaseTransitions && a.leaseDurationSeconds === b.leaseDurationSeconds;
}

export class LeaderElector {
  readonly #client: KubeClient;
  readonly #o: Required<Omit<LeaderElectionOptions, "onStoppedLeading" | "onNewLeader" | "onError">> & LeaderElectionOptions;
  #observed: Record | undefined;
  #observedAt = 0;
  #leading = false;
  #abort: AbortController | undefined;
  #stopped = true;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #lastLeader: string | undefined;

  constructor(client: KubeClient, options: LeaderElectionOptions) {
    const leaseDurationMs = options.leaseDurationMs ?? 15_000;
    const renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    const retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (leaseDurationMs % 1000 !== 0 || leaseDurationMs < 1000) throw new KubeApiError("KUBE_CONFIG", "leaseDurationMs must be a whole number of seconds");
    if (renewDeadlineMs >= leaseDurationMs) throw new KubeApiError("KUBE_CONFIG", "renewDeadlineMs must be below leaseDurationMs");
    if (retryPeriodMs * 1.2 >= renewDeadlineMs) throw new KubeApiError("KUBE_CONFIG", "retryPeriodMs (with jitter) must be below renewDeadlineMs");
    this.#client = client;
    this.#o = { ...options, leaseDurationMs, renewDeadlineMs, retryPeriodMs };
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** The holder last observed in the lease ("" when free, undefined before the first read). */
  get leader(): string | undefined {
    return this.#observed?.holderIdentity;
  }

  /** Starts campaigning; returns at once. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#run();
  }

  /** Stops; releases the lease if held (unless release is false, which behaves like a crash). */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    const wasLeading = this.#leading;
    this.#loseLeadership();
    if (wasLeading && options.release !== false) {
      try { await this.#release(); } catch (e) { this.#o.onError?.(e); }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#wake = undefined; resolve(); }, ms);
      this.#wake = () => { clearTimeout(timer); this.#wake = undefined; resolve(); };
    });
  }

  #jittered(): number {
    return this.#o.retryPeriodMs * (1 + Math.random() * 0.2);
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      // Candidate: try until acquired.
      while (!this.#stopped && !(await this.#attempt())) await this.#sleep(this.#jittered());
      if (this.#stopped) break;
      this.#leading = true;
      this.#abort = new AbortController();
      try { this.#o.onStartedLeading(this.#abort.signal); } catch (e) { this.#o.onError?.(e); }
      // Leader: renew until a renewal deadline passes without success.
      let lastRenew = Date.now();
      while (!this.#stopped) {
        await this.#sleep(this.#o.retryPeriodMs);
        if (this.#stopped) break;
        if (await this.#attempt()) lastRenew = Date.now();
        else if (Date.now() - lastRenew >= this.#o.renewDeadlineMs) break;
      }
      if (!this.#stopped) this.#loseLeadership();
    }
  }

  #loseLeadership(): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#abort?.abort();
    this.#abort = undefined;
    try { this.#o.onStoppedLeading?.(); } catch (e) { this.#o.onError?.(e); }
  }

  #observe(record: Record, rv: string | undefined, now: number): void {
    if (!sameRecord(this.#observed, record)) {
      this.#observed = record;
      this.#observedAt = now;
    }
    void rv;
    if (record.holderIdentity !== this.#lastLeader) {
      this.#lastLeader = record.holderIdentity;
      if (record.holderIdentity !== "") {
        try { this.#o.onNewLeader?.(record.holderIdentity); } catch (e) { this.#o.onError?.(e); }
      }
    }
  }

  /** One tryAcquireOrRenew; true when this candidate holds the lease afterwards. */
  async #attempt(): Promise<boolean> {
    const { namespace, name, identity } = this.#o;
    const leaseSeconds = this.#o.leaseDurationMs / 1000;
    try {
      const now = new Date();
      const lease = await this.#client.get(Leases, namespace, name);
      if (lease === undefined) {
        const created = await this.#client.create(Leases, {
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: leaseSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
        this.#observe(recordOf(created), created.metadata?.resourceVersion, Date.now());
        return true;
      }
      const record = recordOf(lease);
      this.#observe(record, lease.metadata?.resourceVersion, now.getTime());
      const heldByOther = record.holderIdentity !== "" && record.holderIdentity !== identity;
      if (heldByOther && this.#observedAt + record.leaseDurationSeconds * 1000 > now.getTime()) return false;
      const mine = record.holderIdentity === identity;
      const updated = await this.#client.replace(Leases, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: identity,
          leaseDurationSeconds: leaseSeconds,
          acquireTime: mine && record.acquireTime !== undefined ? record.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: mine ? record.leaseTransitions : record.leaseTransitions + 1,
        },
      });
      this.#observe(recordOf(updated), updated.metadata?.resourceVersion, Date.now());
      return true;
    } catch (e) {
      if (!isConflict(e) && !isAlreadyExists(e)) this.#o.onError?.(e);
      return false;
    }
  }

  async #release(): Promise<void> {
    const lease = await this.#client.get(Leases, this.#o.namespace, this.#o.name);
    if (lease === undefined || lease.spec?.holderIdentity !== this.#o.identity) return;
    const now = microTime();
    const released = await this.#client.replace(Leases, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
    });
    this.#observe(recordOf(released), released.metadata?.resourceVersion, Date.now());
  }
}
