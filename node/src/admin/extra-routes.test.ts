import { test } from "node:test";
import assert from "node:assert/strict";
import { FakeBackend } from "./testing/fake-backend.ts";
import { call, startAdmin } from "./testing/harness.ts";

test("extra routes get the token check, the envelope, and 405 for other verbs", async () => {
  const seen: string[] = [];
  const admin = await startAdmin(new FakeBackend({ members: [] }), {
    token: "s3cret",
    extraRoutes: {
      "/debug/write": {
        POST: ({ body, query }) => {
          seen.push(`${query.get("n")}:${body.toString()}`);
          return { index: 7 };
        },
      },
    },
  });
  try {
    assert.equal((await call(admin.url, "POST", "/debug/write?n=1", { body: "abc" })).status, 401);
    const ok = await call(admin.url, "POST", "/debug/write?n=2", { body: "abc", token: "s3cret" });
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json, { message: "success", data: { index: 7 } });
    assert.deepEqual(seen, ["2:abc"]);
    const wrongVerb = await call(admin.url, "GET", "/debug/write", { token: "s3cret" });
    assert.equal(wrongVerb.status, 405);
    assert.equal((await call(admin.url, "GET", "/debug/other", { token: "s3cret" })).status, 404);
  } finally {
    await admin.close();
  }
});
