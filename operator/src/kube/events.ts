/**
 * An event recorder for controllers: core/v1 Events about objects, aggregated as client-go's
 * recorder aggregates them: the same event (object, type, reason, message) repeated within ten
 * minutes bumps the first one's count and lastTimestamp instead of creating another object.
 * Recording never throws: events are advice, and a failure goes to onError.
 */
import type { EventSpec, KubeClient } from "./client.ts";
import { isNotFound } from "./errors.ts";
import { Events, time, type KubeObject } from "./types.ts";

export interface EventRecorderOptions {
  /** The reporting component ("kingbus-operator"). */
  component: string;
  /** The reporting instance (the operator pod's name). */
  instance: string;
  /** Repeats within this window are aggregated (default 10 minutes). */
  windowMs?: number;
  onError?: (error: unknown) => void;
}

interface Seen {
  namespace: string;
  name: string;
  count: number;
  first: number;
}

export class EventRecorder {
  readonly #client: KubeClient;
  readonly #options: EventRecorderOptions;
  readonly #seen = new Map<string, Seen>();

  constructor(client: KubeClient, options: EventRecorderOptions) {
    this.#client = client;
    this.#options = options;
  }

  normal(involved: KubeObject, reason: string, message: string, action?: string): Promise<void> {
    return this.record(involved, "Normal", reason, message, action);
  }

  warning(involved: KubeObject, reason: string, message: string, action?: string): Promise<void> {
    return this.record(involved, "Warning", reason, message, action);
  }

  async record(involved: KubeObject, type: EventSpec["type"], reason: string, message: string, action?: string): Promise<void> {
    const m = involved.metadata ?? {};
    const key = JSON.stringify([m.uid ?? `${m.namespace ?? ""}/${m.name ?? ""}`, type, reason, message]);
    const now = Date.now();
    const seen = this.#seen.get(key);
    const windowMs = this.#options.windowMs ?? 600_000;
    try {
      if (seen !== undefined && now - seen.first < windowMs) {
        seen.count++;
        try {
          await this.#client.patch(Events, seen.namespace, seen.name, { count: seen.count, lastTimestamp: time(new Date(now)) });
          return;
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      const created = await this.#client.createEvent(involved, { type, reason, message, action, component: this.#options.component, instance: this.#options.instance });
      this.#seen.set(key, { namespace: created.metadata?.namespace ?? "default", name: created.metadata?.name ?? "", count: 1, first: now });
      if (this.#seen.size > 4096) {
        for (const [k, v] of this.#seen) if (now - v.first >= windowMs) this.#seen.delete(k);
      }
    } catch (e) {
      this.#options.onError?.(e);
    }
  }
}
