import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { BearerAuth } from "./auth.ts";
import { encodeJson, parseJsonExact } from "./json.ts";
import { REDACT_PATHS, redactingChild } from "./logger.ts";
import { evaluateReadiness } from "./readiness.ts";
import { SerialQueue } from "./serial.ts";

describe("exact JSON", () => {
  it("writes bigints as exact numbers and reads big integers back as bigints", () => {
    const ids = [0n, 1n, 9007199254740993n, 11102851159674377966n, (1n << 64n) - 1n];
    const text = encodeJson({ ids, n: 1.5, s: "x" });
    assert.equal(text, `{"ids":[0,1,9007199254740993,11102851159674377966,18446744073709551615],"n":1.5,"s":"x"}`);
    const back = parseJsonExact(text);
    assert.ok(back.ok);
    // Safe integers stay numbers; the rest come back exact.
    assert.deepEqual(back.value, { ids: [0, 1, 9007199254740993n, 11102851159674377966n, 18446744073709551615n], n: 1.5, s: "x" });
  });

  it("describes a syntax error by position without quoting the text", () => {
    const secret = "do-not-echo-me";
    for (const text of [`{"password":"${secret}" x}`, `{"password":"${secret}"`, `{"a": ${secret}}`, `${secret}`]) {
      const r = parseJsonExact(text);
      assert.ok(!r.ok);
      assert.match(r.message, /^not valid JSON/);
      assert.ok(!r.message.includes(secret), r.message);
      assert.ok(!r.message.includes("do-not"), r.message);
    }
  });
});

describe("bearer token check", () => {
  const auth = new BearerAuth("s3cret");
  it("accepts exactly the token, as a Bearer credential", () => {
    assert.equal(auth.allows({ authorization: "Bearer s3cret" }), true);
    assert.equal(auth.allows({ authorization: "bearer s3cret" }), true);
    for (const authorization of [undefined, "", "Bearer", "Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret", "Bearer s3cret extra"]) {
      assert.equal(auth.allows({ authorization }), false, String(authorization));
    }
  });
  it("refuses to be built with an empty token (it would let everyone in)", () => {
    assert.throws(() => new BearerAuth(""), TypeError);
  });
});

describe("readiness", () => {
  it("needs membership, a leader, and the startup commit index applied", () => {
    const leaderId = 1n;
    assert.deepEqual(evaluateReadiness({ isMember: true, leaderId, appliedIndex: 10, startupCommitIndex: 10 }), { ready: true });
    assert.deepEqual(evaluateReadiness({ isMember: true, leaderId, appliedIndex: 9, startupCommitIndex: 10 }), { ready: false, reason: "catching up: applied 9 of 10" });
    assert.equal(evaluateReadiness({ isMember: false, leaderId, appliedIndex: 10, startupCommitIndex: 10 }).ready, false);
    assert.equal(evaluateReadiness({ isMember: true, leaderId: undefined, appliedIndex: 10, startupCommitIndex: 10 }).ready, false);
    assert.equal(evaluateReadiness({ isMember: true, leaderId, appliedIndex: 10, startupCommitIndex: undefined }).ready, false);
  });
});

describe("serial queue", () => {
  it("runs tasks one at a time in arrival order, past failures", async () => {
    const q = new SerialQueue();
    const events: string[] = [];
    const task = (name: string, ms: number, fail = false) => async () => {
      events.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      events.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([q.run(task("a", 20)), q.run(task("b", 1, true)), q.run(task("c", 5))]);
    assert.deepEqual(events, ["start a", "end a", "start b", "end b", "start c", "end c"]);
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  });
});

describe("log redaction", () => {
  it("masks passwords and credentials at every path the admin code could put them", () => {
    const lines: string[] = [];
    const parent = pino({ level: "info" }, { write: (l: string) => void lines.push(l) });
    const log = redactingChild(parent, { component: "test" });
    const secret = "pw-9d1f";
    log.info({ password: secret, mysql_password: secret, mysqlPassword: secret, authorization: `Bearer ${secret}` }, "top");
    log.info({ syncer: { mysqlPassword: secret }, server: { password: secret }, body: { mysql_password: secret } }, "nested");
    log.info({ req: { headers: { authorization: `Bearer ${secret}` } }, request: { syncer: { mysqlPassword: secret } } }, "deeper");
    assert.equal(lines.length, 3);
    for (const line of lines) {
      assert.ok(!line.includes(secret), line);
      assert.ok(line.includes("******"), line);
    }
    assert.ok(REDACT_PATHS.length > 0);
  });
});
