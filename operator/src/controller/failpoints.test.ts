import { test } from "node:test";
import assert from "node:assert/strict";
import { exitingFailpoints, FailpointConfigError, FAILPOINTS, parseFailpoints } from "./failpoints.ts";

test("failpoints: parsed from the variable, unknown names refused, the hook exits with status 1 only at an armed one", () => {
  assert.deepEqual([...parseFailpoints(undefined)], []);
  assert.deepEqual([...parseFailpoints(" after-remove ,after-apply,")], ["after-remove", "after-apply"]);
  assert.throws(() => parseFailpoints("after-apply,before-lunch"), FailpointConfigError);
  const exits: number[] = [];
  const logged: string[] = [];
  const hook = exitingFailpoints(parseFailpoints("after-scale"), (name) => logged.push(name), ((code: number) => {
    exits.push(code);
    throw new Error("exited");
  }) as (code: number) => never);
  for (const name of FAILPOINTS) if (name !== "after-scale") hook(name);
  assert.deepEqual(exits, []);
  assert.throws(() => hook("after-scale"), /exited/);
  assert.deepEqual(exits, [1]);
  assert.deepEqual(logged, ["after-scale"]);
});
