import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { RaftError } from "./errors.ts";
import { Inflights } from "./inflights.ts";

describe("inflights", () => {
  test("the window fills up to its capacity and refuses more", () => {
    const w = new Inflights(3);
    for (const i of [5, 7, 9]) w.add(i);
    assert.equal(w.full(), true);
    assert.throws(() => w.add(10), (err: unknown) => err instanceof RaftError && err.code === "RAFT_INVARIANT");
  });

  test("an acknowledgement frees every message up to its index, wrapping around the ring", () => {
    const w = new Inflights(3);
    for (const i of [1, 2, 3]) w.add(i);
    w.freeLE(2);
    assert.equal(w.size, 1);
    w.add(4);
    w.add(5);
    assert.equal(w.full(), true);
    w.freeLE(4);
    assert.equal(w.size, 1);
    w.freeFirstOne();
    assert.equal(w.size, 0);
    w.freeFirstOne();
    assert.equal(w.size, 0);
  });

  test("with a byte limit the window is full once its messages carry that many bytes, and frees them on acknowledgement", () => {
    const w = new Inflights(10, 100);
    w.add(1, 60);
    assert.equal(w.full(), false);
    w.add(2, 40);
    assert.equal(w.full(), true, "100 bytes in a 100-byte window");
    assert.equal(w.bytes, 100);
    assert.throws(() => w.add(3, 1), /full/);
    w.freeLE(1);
    assert.equal(w.bytes, 40);
    w.add(3, 500);
    assert.equal(w.full(), true, "one message may exceed the limit alone");
    w.freeFirstOne();
    w.freeFirstOne();
    assert.equal(w.bytes, 0);
    w.add(4, 10);
    w.reset();
    assert.equal(w.bytes, 0);
    assert.throws(() => new Inflights(4, -1), (err: unknown) => err instanceof RaftError && err.code === "RAFT_INVALID_CONFIG");
  });

  test("indexes must not go backwards", () => {
    const w = new Inflights(4);
    w.add(5);
    assert.throws(() => w.add(4), /below/);
  });

  test("the window behaves like a sorted queue", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.oneof(fc.constant(-1), fc.nat(5)), { maxLength: 60 }), (capacity, ops) => {
        const w = new Inflights(capacity);
        const model: number[] = [];
        let next = 1;
        for (const op of ops) {
          if (op === -1) {
            if (model.length < capacity) {
              w.add(next);
              model.push(next);
            }
            next++;
          } else {
            const upTo = next - 1 - op;
            w.freeLE(upTo);
            while (model.length > 0 && model[0]! <= upTo) model.shift();
          }
          assert.equal(w.size, model.length);
          assert.equal(w.full(), model.length === capacity);
        }
      }),
    );
  });
});
