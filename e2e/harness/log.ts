/** Progress lines on stderr, stamped with the time since the process started. */
import { performance } from "node:perf_hooks";

let quiet = false;

/** Silences progress lines (the demo draws its own screen). */
export function setQuiet(on: boolean): void {
  quiet = on;
}

export function log(message: string): void {
  if (quiet) return;
  process.stderr.write(`[e2e ${(performance.now() / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every `everyMs` until it returns a value other than undefined; throws `what` on timeout. */
export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, everyMs = 50): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (performance.now() > deadline) {
      throw new Error(`${what}: not within ${(timeoutMs / 1000).toFixed(0)} s${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})` : ""}`);
    }
    await sleep(everyMs);
  }
}
