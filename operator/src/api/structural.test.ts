import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { structuralProblems, toStructural, type JsonSchema } from "./structural.ts";

function structural(schema: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" }) as JsonSchema);
}

describe("toStructural", () => {
  it("rewrites zod's output into forms a CRD accepts", () => {
    const schema = structural(
      z.strictObject({
        quantity: z.union([z.number().int(), z.string().regex(/^[0-9]+$/)]).meta({ "x-kubernetes-int-or-string": true }),
        free: z.record(z.string(), z.unknown()).meta({ "x-kubernetes-preserve-unknown-fields": true }),
        count: z.number().int(),
        small: z.number().int().min(0).max(10),
      }),
    );
    assert.deepEqual(structuralProblems(schema), []);
    const props = schema.properties as Record<string, JsonSchema>;
    assert.deepEqual(props.quantity, { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }], pattern: "^[0-9]+$" });
    assert.deepEqual(props.free, { type: "object", "x-kubernetes-preserve-unknown-fields": true });
    assert.deepEqual(props.count, { type: "integer", format: "int64" });
    assert.deepEqual(props.small, { type: "integer", minimum: 0, maximum: 10 });
    assert.equal(schema.additionalProperties, undefined, "strict objects lose additionalProperties: false");
  });

  it("the raw zod output is not structural (the rewrite is needed)", () => {
    const raw = z.toJSONSchema(z.object({ q: z.union([z.number().int(), z.string()]).meta({ "x-kubernetes-int-or-string": true }) }), { target: "openapi-3.0" });
    assert.notDeepEqual(structuralProblems(raw), []);
  });
});

describe("structuralProblems", () => {
  const cases: Array<[string, JsonSchema, RegExp]> = [
    ["a node without type", { type: "object", properties: { a: { description: "x" } } }, /properties\.a: type is missing/],
    ["properties with additionalProperties", { type: "object", properties: { a: { type: "string" } }, additionalProperties: { type: "string" } }, /mutually exclusive/],
    ["additionalProperties false", { type: "object", additionalProperties: false }, /additionalProperties must be a schema/],
    ["an unknown keyword", { type: "string", const: "x" }, /unknown key const/],
    ["a $ref", { type: "object", $ref: "#/x" }, /\$ref is not allowed/],
    ["a typed int-or-string", { type: "string", "x-kubernetes-int-or-string": true }, /must not have a type/],
    ["a type inside anyOf", { type: "string", anyOf: [{ type: "string" }] }, /anyOf\[0\]: type is not allowed/],
    ["a list map key not required", { type: "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"], items: { type: "object", properties: { k: { type: "string" } } } }, /list map key k must be required/],
    ["a numeric exclusiveMinimum", { type: "number", minimum: 0, exclusiveMinimum: 0 }, /exclusiveMinimum must be a boolean/],
    ["an array without items", { type: "array" }, /an array needs items/],
    ["a required field that is not a property", { type: "object", properties: {}, required: ["x"] }, /required x is not a property/],
  ];
  for (const [what, schema, problem] of cases) {
    it(`finds ${what}`, () => assert.match(structuralProblems(schema).join("\n"), problem));
  }

  it("accepts the int-or-string form and preserve-unknown-fields objects", () => {
    assert.deepEqual(structuralProblems({ type: "object", properties: { q: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] }, f: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }), []);
  });
});
