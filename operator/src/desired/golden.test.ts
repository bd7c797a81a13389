import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { goldenCases } from "./testing/fixtures.ts";
import { goldenPath, renderGolden, TESTDATA_DIR } from "./testing/golden.ts";
import { manifestProblems } from "./testing/manifest-checks.ts";

const update = process.env.UPDATE_GOLDEN === "1";

describe("golden files of the desired state", () => {
  for (const c of goldenCases()) {
    it(`${c.name}: testdata/${c.name}.yaml is what the functions generate`, () => {
      const rendered = renderGolden(c);
      const path = goldenPath(c);
      if (update) writeFileSync(path, rendered);
      assert.ok(existsSync(path), `${path} is missing: run with UPDATE_GOLDEN=1`);
      assert.equal(readFileSync(path, "utf8"), rendered, `${path} differs from the generated state: run with UPDATE_GOLDEN=1 and review the diff`);
    });

    it(`${c.name}: every committed manifest passes the Kubernetes schemas offline`, () => {
      const docs = parseAllDocuments(readFileSync(goldenPath(c), "utf8")).map((d) => d.toJS() as unknown).filter((d) => d !== null);
      assert.ok(docs.length >= 4, `expected at least 4 manifests, got ${docs.length}`);
      for (const doc of docs) assert.deepEqual(manifestProblems(doc), []);
    });
  }

  it("testdata holds no golden file without a case", () => {
    const names = new Set(goldenCases().map((c) => `${c.name}.yaml`));
    const stray = readdirSync(TESTDATA_DIR).filter((f) => f.endsWith(".yaml") && !names.has(f));
    assert.deepEqual(stray, []);
  });
});
