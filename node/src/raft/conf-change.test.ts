import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfChangeType, applyConfChange, decodeConfChange, encodeConfChange, normalizeConfState, type ConfChange } from "./conf-change.ts";
import { ConfChangeError } from "./errors.ts";

const ids = fc.uniqueArray(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { maxLength: 7 });

describe("conf change payloads", () => {
  test("a change and its membership survive encoding, whatever the ids and context", () => {
    const id = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(ids.filter((v) => v.length > 1), ids, id, fc.uint8Array({ maxLength: 40 }), fc.nat(2), (voters, others, newcomer, context, kind) => {
        fc.pre(!voters.includes(newcomer) && !others.includes(newcomer));
        const learners = others.filter((l) => !voters.includes(l));
        const before = normalizeConfState({ voters, learners });
        const nodeId = kind === 0 ? newcomer : kind === 1 ? (learners[0] ?? newcomer) : voters[0]!;
        const type = kind === 0 || (kind === 1 && learners.length === 0) ? ConfChangeType.AddLearner : kind === 1 ? ConfChangeType.PromoteLearner : ConfChangeType.RemoveNode;
        const change: ConfChange = context.length > 0 ? { type, nodeId, context } : { type, nodeId };
        const record = decodeConfChange(encodeConfChange(change, before));
        assert.deepEqual(record.change, change);
        assert.deepEqual(record.before, before);
        assert.deepEqual(record.after, applyConfChange(before, change));
      }),
    );
  });

  test("add, promote and remove produce sorted memberships", () => {
    let conf = { voters: [3, 1, 2], learners: [] as number[] };
    conf = applyConfChange(conf, { type: ConfChangeType.AddLearner, nodeId: 5 });
    conf = applyConfChange(conf, { type: ConfChangeType.AddLearner, nodeId: 4 });
    assert.deepEqual(conf, { voters: [1, 2, 3], learners: [4, 5] });
    conf = applyConfChange(conf, { type: ConfChangeType.PromoteLearner, nodeId: 5 });
    assert.deepEqual(conf, { voters: [1, 2, 3, 5], learners: [4] });
    conf = applyConfChange(conf, { type: ConfChangeType.RemoveNode, nodeId: 2 });
    conf = applyConfChange(conf, { type: ConfChangeType.RemoveNode, nodeId: 4 });
    assert.deepEqual(conf, { voters: [1, 3, 5], learners: [] });
  });

  test("damaged payloads are refused with RAFT_CONF_CHANGE_CORRUPT, never half-read", () => {
    const good = encodeConfChange({ type: ConfChangeType.RemoveNode, nodeId: 2 }, { voters: [1, 2, 3], learners: [] });
    const damaged: Uint8Array[] = [
      good.subarray(0, good.length - 1),
      Uint8Array.of(...good, 0),
      Uint8Array.of(2, ...good.subarray(1)),
      Uint8Array.of(good[0]!, 9, ...good.subarray(2)),
      new Uint8Array(0),
      // Removes node 2 from a membership without it.
      encodeConfChange({ type: ConfChangeType.AddLearner, nodeId: 2 }, { voters: [1, 3], learners: [] }).map((b, i) => (i === 1 ? 3 : b)),
    ];
    for (const data of damaged) {
      assert.throws(() => decodeConfChange(data), (err: unknown) => err instanceof ConfChangeError && err.code === "RAFT_CONF_CHANGE_CORRUPT");
    }
  });

  test("random bytes never decode into a change that does not apply", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (data) => {
        try {
          const record = decodeConfChange(data);
          assert.deepEqual(record.after, applyConfChange(record.before, record.change));
        } catch (err) {
          assert.ok(err instanceof ConfChangeError);
        }
      }),
    );
  });
});
