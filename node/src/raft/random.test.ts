import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SeededRandom } from "./random.ts";

describe("seeded random source", () => {
  test("the same seed gives the same sequence, different seeds different ones", () => {
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const c = new SeededRandom(8);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    assert.deepEqual(sa, Array.from({ length: 20 }, () => b.nextUint32()));
    assert.notDeepEqual(sa, Array.from({ length: 20 }, () => c.nextUint32()));
  });

  test("nextInt stays in range and covers it", () => {
    const r = new SeededRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = r.nextInt(10);
      assert.ok(Number.isInteger(v) && v >= 0 && v < 10);
      seen.add(v);
    }
    assert.equal(seen.size, 10);
    assert.throws(() => r.nextInt(0), RangeError);
  });

  test("forks are deterministic and independent of later draws of the parent", () => {
    const a = new SeededRandom(3);
    const b = new SeededRandom(3);
    const fa = a.fork();
    const fb = b.fork();
    a.nextUint32();
    assert.equal(fa.nextUint32(), fb.nextUint32());
  });
});
