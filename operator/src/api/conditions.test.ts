import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findCondition, setCondition } from "./conditions.ts";
import { kingbusClusterStatusSchema } from "./kingbus-cluster.ts";

const t0 = new Date("2025-01-02T03:04:05.678Z");
const t1 = new Date("2025-01-02T03:09:00.000Z");

describe("setCondition", () => {
  it("adds a condition with the time of the change, in a form the status schema takes", () => {
    const list = setCondition(undefined, { type: "Available", status: "False", reason: "NoQuorum", message: "1 of 3 members ready", observedGeneration: 4 }, t0);
    assert.deepEqual(list, [{ type: "Available", status: "False", reason: "NoQuorum", message: "1 of 3 members ready", lastTransitionTime: "2025-01-02T03:04:05Z", observedGeneration: 4 }]);
    assert.equal(kingbusClusterStatusSchema.safeParse({ conditions: list }).success, true);
  });

  it("keeps the transition time while the status stays, moves it when the status changes", () => {
    const first = setCondition([], { type: "Available", status: "False", reason: "NoQuorum", message: "1 of 3", observedGeneration: 1 }, t0);
    const same = setCondition(first, { type: "Available", status: "False", reason: "CatchingUp", message: "2 of 3", observedGeneration: 2 }, t1);
    assert.equal(same[0]!.lastTransitionTime, "2025-01-02T03:04:05Z");
    assert.equal(same[0]!.reason, "CatchingUp");
    assert.equal(same[0]!.observedGeneration, 2);
    const changed = setCondition(same, { type: "Available", status: "True", reason: "QuorumReady", message: "3 of 3" }, t1);
    assert.equal(changed[0]!.lastTransitionTime, "2025-01-02T03:09:00Z");
    assert.equal(first[0]!.reason, "NoQuorum", "the input is not modified");
  });

  it("keeps one entry per type and the order of the others", () => {
    let list = setCondition([], { type: "Available", status: "True", reason: "A", message: "" }, t0);
    list = setCondition(list, { type: "Degraded", status: "False", reason: "B", message: "" }, t0);
    list = setCondition(list, { type: "Available", status: "False", reason: "C", message: "" }, t1);
    assert.deepEqual(list.map((c) => `${c.type}=${c.status}`), ["Available=False", "Degraded=False"]);
    assert.equal(findCondition(list, "Degraded")?.reason, "B");
    assert.equal(findCondition(list, "SyncerRunning"), undefined);
  });
});
