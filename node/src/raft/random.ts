/**
 * Randomness for the core comes only from outside: the node loop hands it a source (seeded from
 * the node id and a clock in production, from the simulator's seed in tests), so a run can be
 * replayed exactly.
 */
export interface RandomSource {
  /** A uniformly chosen integer in [0, bound). */
  nextInt(bound: number): number;
}

/**
 * A small, fast generator (sfc32, seeded through splitmix32) that is not cryptographic and does
 * not need to be: it spreads election timeouts and drives the simulator.
 */
export class SeededRandom implements RandomSource {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    // splitmix32 turns neighbouring seeds into unrelated states.
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    // The first outputs of a freshly seeded sfc32 are poorly mixed.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** In [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  nextInt(bound: number): number {
    if (!Number.isInteger(bound) || bound <= 0) throw new RangeError(`nextInt bound must be a positive integer, got ${bound}`);
    return Math.floor(this.nextFloat() * bound);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.nextInt(items.length)]!;
  }

  /** An independent generator whose sequence depends only on this one's state. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }
}
