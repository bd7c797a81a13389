/**
 * A keyed work queue, with the guarantees of client-go's workqueue that controllers rely on:
 * - a key is processed by one worker at a time: added while it is being processed, it runs again
 *   once the current run ends (never twice at once);
 * - a key added while already queued is queued once (deduplication);
 * - a handler that throws is retried after an exponential per-key delay (base * 2^failures, capped),
 *   reset when the key succeeds; a handler may ask to come back later ({ requeueAfterMs });
 * - addAfter(key, ms) keeps the earliest of several pending delays;
 * - resync: every resyncMs all keys `resyncKeys()` names are added (missed events heal).
 * Keys are processed in the order they became ready.
 */
/** What a handler may return: nothing, or when to process the key again. */
export type WorkResult = undefined | { requeueAfterMs?: number };

export interface WorkQueueOptions<K extends string> {
  handler: (key: K) => Promise<WorkResult> | Promise<void>;
  /** Workers (default 1); one key still never runs on two at once. */
  concurrency?: number;
  /** Retry delays: baseMs * 2^(failures-1), at most maxMs (default 100 ms to 60 s). */
  backoff?: { baseMs: number; maxMs: number };
  resyncMs?: number;
  resyncKeys?: () => Iterable<K>;
  /** A handler failure (it is retried); for logs and metrics. */
  onError?: (key: K, error: unknown, failures: number) => void;
}

export class WorkQueue<K extends string = string> {
  readonly #options: WorkQueueOptions<K>;
  readonly #queue: K[] = [];
  readonly #dirty = new Set<K>();
  readonly #processing = new Set<K>();
  readonly #failures = new Map<K, number>();
  readonly #timers = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  readonly #idleWaiters: (() => void)[] = [];
  #running = 0;
  #started = false;
  #stopped = false;
  #resync: NodeJS.Timeout | undefined;
  #inFlight = new Set<Promise<void>>();

  constructor(options: WorkQueueOptions<K>) {
    this.#options = options;
  }

  /** Keys waiting to be processed (not counting delayed ones). */
  get length(): number {
    return this.#queue.length;
  }

  /** Keys being processed now. */
  get processing(): number {
    return this.#processing.size;
  }

  /** Keys waiting for a delay (retries, addAfter). */
  get delayed(): number {
    return this.#timers.size;
  }

  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    const { resyncMs, resyncKeys } = this.#options;
    if (resyncMs !== undefined && resyncKeys !== undefined) {
      this.#resync = setInterval(() => { for (const k of resyncKeys()) this.add(k); }, resyncMs);
    }
    this.#pump();
  }

  /** Stops taking work and waits for the handlers running now. Delayed keys are dropped. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#resync !== undefined) clearInterval(this.#resync);
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await Promise.all([...this.#inFlight]);
    this.#notifyIdle();
  }

  add(key: K): void {
    if (this.#stopped || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (!this.#processing.has(key)) this.#queue.push(key);
    this.#pump();
  }

  /** Adds key after delayMs; of several pending delays for a key, the earliest wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.#stopped) return;
    if (delayMs <= 0) { this.add(key); return; }
    const at = Date.now() + delayMs;
    const pending = this.#timers.get(key);
    if (pending !== undefined) {
      if (pending.at <= at) return;
      clearTimeout(pending.timer);
    }
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
      this.#notifyIdle();
    }, delayMs);
    this.#timers.set(key, { at, timer });
  }

  /** Adds key after its backoff delay, counting a failure. */
  addRateLimited(key: K): void {
    const n = (this.#failures.get(key) ?? 0) + 1;
    this.#failures.set(key, n);
    this.addAfter(key, this.backoffFor(n));
  }

  /** The delay before retry number `failures` (1-based). */
  backoffFor(failures: number): number {
    const { baseMs, maxMs } = this.#options.backoff ?? { baseMs: 100, maxMs: 60_000 };
    return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  }

  /** Clears key's failure count (its next failure starts the backoff again). */
  forget(key: K): void {
    this.#failures.delete(key);
  }

  /**
   * Resolves when nothing is queued or running (and, unless ignoreDelayed, nothing is waiting
   * for a delay): for tests.
   */
  idle(options: { ignoreDelayed?: boolean } = {}): Promise<void> {
    const check = (): boolean => this.#queue.length === 0 && this.#running === 0 && (options.ignoreDelayed === true || this.#timers.size === 0);
    if (check() || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = (): void => {
        if (check() || this.#stopped) resolve();
        else this.#idleWaiters.push(waiter);
      };
      this.#idleWaiters.push(waiter);
    });
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters.splice(0);
    for (const w of waiters) w();
  }

  #pump(): void {
    if (!this.#started || this.#stopped) return;
    const concurrency = this.#options.concurrency ?? 1;
    while (this.#running < concurrency && this.#queue.length > 0) {
      const key = this.#queue.shift()!;
      this.#dirty.delete(key);
      this.#processing.add(key);
      this.#running++;
      const run = this.#process(key);
      this.#inFlight.add(run);
      void run.finally(() => this.#inFlight.delete(run));
    }
    if (this.#running === 0 && this.#queue.length === 0) this.#notifyIdle();
  }

  async #process(key: K): Promise<void> {
    try {
      const result = (await this.#options.handler(key)) as WorkResult;
      this.forget(key);
      if (result !== undefined && result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (e) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      try { this.#options.onError?.(key, e, failures); } catch { /* the queue outlives its observers */ }
      this.addRateLimited(key);
    } finally {
      this.#processing.delete(key);
      this.#running--;
      if (this.#dirty.has(key) && !this.#stopped) this.#queue.push(key);
      this.#pump();
      this.#notifyIdle();
    }
  }
}
