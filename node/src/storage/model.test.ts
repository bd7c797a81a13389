/**
 * Property test of the store against an in-memory model: random sequences of append (with
 * overlap), truncate, compact and reopen; after every step the store and the model agree on the
 * first and last index, every entry and every term.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { LogStore } from "./log-store.ts";
import { entries, payloadOf, removeTempStoreDirs, tempStoreDir } from "../../test-support/storage.ts";

after(removeTempStoreDirs);

type Op =
  | { kind: "append"; overlap: number; count: number; size: number }
  | { kind: "truncate"; back: number }
  | { kind: "compact"; fraction: number }
  | { kind: "reopen" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("append" as const), overlap: fc.integer({ min: 0, max: 4 }), count: fc.integer({ min: 1, max: 30 }), size: fc.integer({ min: 0, max: 700 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), back: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("compact" as const), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "reopen" as const }) },
);

class Model {
  first = 1;
  compactedTerm = 0;
  log: Array<{ term: number; size: number }> = [];
  get last(): number {
    return this.first + this.log.length - 1;
  }
}

test("property: the store agrees with an in-memory model through append, truncate, compact and reopen", async () => {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), fc.integer({ min: 400, max: 3000 }), async (ops, segmentBytes) => {
      const dir = tempStoreDir(`kingbus-model-${run++}-`);
      const open = (): Promise<LogStore> => LogStore.open(dir, { segmentBytes });
      let store = await open();
      const model = new Model();
      let term = 1;
      try {
        for (const op of ops) {
          if (op.kind === "append") {
            const from = Math.max(model.first, model.last + 1 - op.overlap);
            term++;
            await store.append(entries(from, op.count, term, op.size));
            model.log.length = from - model.first;
            for (let k = 0; k < op.count; k++) model.log.push({ term, size: op.size });
          } else if (op.kind === "truncate") {
            const from = Math.max(model.first, model.last + 1 - op.back);
            await store.truncateSuffix(from);
            model.log.length = from - model.first;
          } else if (op.kind === "compact") {
            const through = model.first - 1 + Math.floor(op.fraction * model.log.length);
            if (through >= model.first) {
              await store.compact(through);
              model.compactedTerm = model.log[through - model.first]!.term;
              model.log = model.log.slice(through - model.first + 1);
              model.first = through + 1;
            }
          } else {
            await store.close();
            store = await open();
          }
          assert.equal(store.firstIndex(), model.first, `${op.kind}: first index`);
          assert.equal(store.lastIndex(), model.last, `${op.kind}: last index`);
          if (model.first > 1) assert.equal(store.term(model.first - 1), model.compactedTerm, "term at the compaction point");
          if (model.log.length > 0) {
            const got = store.entries(model.first, model.last + 1);
            got.forEach((e, k) => {
              const want = model.log[k]!;
              assert.equal(e.index, model.first + k);
              assert.equal(e.term, want.term);
              assert.equal(store.term(e.index), want.term);
              assert.ok(Buffer.from(e.data).equals(payloadOf(e.index, want.term, want.size)));
            });
          }
        }
      } finally {
        await store.close();
      }
    }),
    { numRuns: 60 },
  );
});
