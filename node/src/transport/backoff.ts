/**
 * Reconnection delays: doubling from `initialMs` up to `maxMs`, each drawn at random from the upper
 * half of its step so that nodes that lost a peer at the same moment do not all retry in step.
 */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A number in [0, 1); tests pass a fixed one. */
  random?: () => number;
}

export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    this.#initialMs = options.initialMs;
    this.#maxMs = options.maxMs;
    this.#random = options.random ?? Math.random;
  }

  /** The delay before the next attempt. */
  next(): number {
    // The exponent stops growing once the cap is reached, so it never overflows to Infinity.
    const step = Math.min(this.#maxMs, this.#initialMs * 2 ** this.#attempt);
    if (step < this.#maxMs) this.#attempt++;
    return Math.round(step / 2 + (this.#random() * step) / 2);
  }

  reset(): void {
    this.#attempt = 0;
  }
}
