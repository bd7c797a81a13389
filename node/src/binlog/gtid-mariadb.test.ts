import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  GtidDuplicateDomainError,
  GtidOrderError,
  GtidParseError,
  MAX_SEQ,
  MariadbGtidPosition,
  MariadbGtidState,
  formatMariadbGtid,
  formatMariadbGtidList,
  parseMariadbGtid,
  parseMariadbGtidList,
  type MariadbGtid,
} from "./gtid-mariadb.ts";
import { assertGtidParseError } from "../../test-support/gtid-assertions.ts";

const parseError = assertGtidParseError;

const g = (domain: number, serverId: number, seq: bigint | number): MariadbGtid => ({ domain, serverId, seq: BigInt(seq) });

// ---------------------------------------------------------------------------------------------
// GTIDs and lists

test("domain-server-seq with u32, u32, u64 bounds", () => {
  assert.deepEqual(parseMariadbGtid("0-1-100"), g(0, 1, 100));
  assert.deepEqual(parseMariadbGtid(" 4294967295-4294967295-18446744073709551615 "), g(4294967295, 4294967295, MAX_SEQ));
  assert.equal(formatMariadbGtid(g(1, 2, 18446744073709551615n)), "1-2-18446744073709551615");
  parseError(() => parseMariadbGtid("4294967296-1-1"), "domain id", "4294967296");
  parseError(() => parseMariadbGtid("0-4294967296-1"), "server id");
  parseError(() => parseMariadbGtid("0-1-18446744073709551616"), "sequence number", "18446744073709551616");
  parseError(() => parseMariadbGtid("-1-1-1"), "domain-server-seq");
  parseError(() => parseMariadbGtid("0--1-1"), "domain-server-seq");
  parseError(() => parseMariadbGtid("0-1-x"), "'x' is not an unsigned number");
  parseError(() => parseMariadbGtid("0-1-+5"), "'+5'");
  parseError(() => parseMariadbGtid("0-1"), "domain-server-seq");
  parseError(() => parseMariadbGtid("0-1-2-3"), "domain-server-seq");
  parseError(() => parseMariadbGtid("0-1-1.5"), "'1.5'");
  parseError(() => parseMariadbGtid(""), "domain-server-seq");
});

test("lists: empty string is empty, whitespace tolerated, order kept", () => {
  assert.deepEqual(parseMariadbGtidList(""), []);
  assert.deepEqual(parseMariadbGtidList("  "), []);
  assert.deepEqual(parseMariadbGtidList(" 1-2-3 ,\n0-1-100"), [g(1, 2, 3), g(0, 1, 100)]);
  assert.equal(formatMariadbGtidList([g(1, 2, 3), g(0, 1, 100)]), "1-2-3,0-1-100");
  assert.equal(formatMariadbGtidList([]), "");
  parseError(() => parseMariadbGtidList("0-1-1,"), "empty item");
  parseError(() => parseMariadbGtidList("0-1-1,,1-1-1"), "empty item");
});

test("a domain named twice is refused as MariaDB refuses it (ER_DUPLICATE_GTID_DOMAIN)", () => {
  assert.throws(
    () => parseMariadbGtidList("0-1-5,1-1-1,0-2-9"),
    (e: unknown) =>
      e instanceof GtidDuplicateDomainError &&
      e.code === "GTID_DUPLICATE_DOMAIN" &&
      e.message.includes("0-2-9") &&
      e.message.includes("0-1-5") &&
      e.message.includes("duplicate domain id 0"),
  );
  assert.throws(() => MariadbGtidPosition.parse("0-1-5,0-1-5"), GtidDuplicateDomainError);
  assert.throws(() => MariadbGtidPosition.fromGtids([g(3, 1, 1), g(3, 1, 2)]), GtidDuplicateDomainError);
  assert.equal(parseMariadbGtidList("0-1-5,0-2-9", { allowDuplicateDomains: true }).length, 2);
});

// ---------------------------------------------------------------------------------------------
// Positions

test("positions print sorted by domain and answer per domain", () => {
  const position = MariadbGtidPosition.parse("2-1-7, 0-1-100,1-3-1");
  assert.equal(position.toString(), "0-1-100,1-3-1,2-1-7");
  assert.deepEqual(position.get(1), g(1, 3, 1));
  assert.equal(position.get(9), undefined);
  assert.ok(position.contains(g(0, 1, 100)));
  assert.ok(position.contains(g(0, 7, 99)), "another server id, same domain, lower seq");
  assert.ok(!position.contains(g(0, 1, 101)));
  assert.ok(!position.contains(g(5, 1, 1)), "a domain the position lacks");
  assert.ok(MariadbGtidPosition.parse("").isEmpty());
  assert.equal(MariadbGtidPosition.empty().toString(), "");
  assert.deepEqual([...position].map((x) => x.domain), [0, 1, 2]);
});

test("containsPosition and with", () => {
  const p = MariadbGtidPosition.parse("0-1-100,1-3-5");
  assert.ok(p.containsPosition(MariadbGtidPosition.parse("0-2-50")));
  assert.ok(p.containsPosition(MariadbGtidPosition.parse("")));
  assert.ok(!p.containsPosition(MariadbGtidPosition.parse("0-1-50,2-1-1")));
  assert.ok(!MariadbGtidPosition.parse("").containsPosition(p));
  const q = p.with(g(1, 4, 2)).with(g(7, 1, 1));
  assert.equal(q.toString(), "0-1-100,1-4-2,7-1-1");
  assert.equal(p.toString(), "0-1-100,1-3-5", "with() leaves the original alone");
  assert.ok(q.equals(MariadbGtidPosition.parse("7-1-1,1-4-2,0-1-100")));
  parseError(() => p.with(g(-1, 1, 1)), "domain id -1");
  parseError(() => p.with(g(1, 2 ** 32, 1)), "server id");
  parseError(() => p.with({ domain: 1, serverId: 1, seq: -1n }), "sequence number -1");
  parseError(() => p.with({ domain: 1.5, serverId: 1, seq: 1n }), "domain id 1.5");
});

// ---------------------------------------------------------------------------------------------
// Binlog state

test("strict mode refuses a seq_no not above the domain's most recent, naming both GTIDs (error 1950)", () => {
  const state = MariadbGtidState.empty();
  state.record(g(0, 1, 10), { strict: true });
  state.record(g(1, 1, 1), { strict: true });
  for (const bad of [g(0, 1, 10), g(0, 2, 9), g(0, 1, 1)]) {
    assert.throws(
      () => state.record(bad, { strict: true }),
      (e: unknown) =>
        e instanceof GtidOrderError &&
        e.code === "GTID_OUT_OF_ORDER" &&
        e.message.includes(formatMariadbGtid(bad)) &&
        e.message.includes("0-1-10") &&
        e.message.includes("out-of-order"),
    );
  }
  assert.equal(state.toString(), "0-1-10,1-1-1", "a refused GTID changes nothing");
  state.record(g(0, 2, 11), { strict: true });
  assert.equal(state.position().toString(), "0-2-11,1-1-1");
});

test("non-strict mode records lower seq_nos; the position is the most recent GTID per domain", () => {
  const state = MariadbGtidState.empty();
  state.record(g(0, 1, 10), { strict: false });
  state.record(g(0, 2, 5), { strict: false });
  assert.equal(state.position().toString(), "0-2-5");
  assert.deepEqual(state.get(0, 1), g(0, 1, 10));
  assert.deepEqual(state.last(0), g(0, 2, 5));
  // MariaDB compares with the most recent GTID of the domain, not the highest.
  state.record(g(0, 1, 7), { strict: true });
  assert.equal(state.toString(), "0-2-5,0-1-7");
  assert.equal(state.position().toString(), "0-1-7");
});

test("state text: by domain, the most recent last within a domain, and parse restores it", () => {
  const state = MariadbGtidState.parse("1-5-3,0-3-9,0-1-4,0-2-2");
  assert.equal(state.toString(), "0-1-4,0-3-9,0-2-2,1-5-3");
  assert.equal(state.position().toString(), "0-2-2,1-5-3");
  const copy = MariadbGtidState.parse(state.toString());
  assert.equal(copy.toString(), state.toString());
  assert.equal(copy.position().toString(), state.position().toString());
  assert.ok(MariadbGtidState.parse("").isEmpty());
  parseError(() => MariadbGtidState.parse("0-1-x"), "'x'");
});

test("clone is independent", () => {
  const a = MariadbGtidState.parse("0-1-1");
  const b = a.clone();
  b.record(g(0, 1, 2), { strict: true });
  b.record(g(1, 1, 1), { strict: true });
  assert.equal(a.toString(), "0-1-1");
  assert.equal(b.toString(), "0-1-2,1-1-1");
});

// ---------------------------------------------------------------------------------------------
// Properties against a naive model: the array of GTIDs recorded so far

/** fast-check records have no prototype; the code under test returns plain objects. */
function plain(gtid: MariadbGtid): MariadbGtid {
  return { ...gtid };
}

const smallGtid = fc.record({
  domain: fc.integer({ min: 0, max: 3 }),
  serverId: fc.integer({ min: 1, max: 3 }),
  seq: fc.bigInt(0n, 20n),
}).map(plain);
const anyGtid = fc.record({
  domain: fc.integer({ min: 0, max: 0xffffffff }),
  serverId: fc.integer({ min: 0, max: 0xffffffff }),
  seq: fc.bigInt(0n, MAX_SEQ),
}).map(plain);

/** Replays the log: strict refusals compare with the last accepted GTID of the domain. */
function model(steps: Array<{ gtid: MariadbGtid; strict: boolean }>): { accepted: MariadbGtid[]; refused: boolean[] } {
  const accepted: MariadbGtid[] = [];
  const refused = steps.map(({ gtid, strict }) => {
    const last = accepted.filter((a) => a.domain === gtid.domain).at(-1);
    if (strict && last && last.seq >= gtid.seq) return true;
    accepted.push(gtid);
    return false;
  });
  return { accepted, refused };
}

test("property: record, get, last and position agree with the model, strict and not", () => {
  fc.assert(
    fc.property(fc.array(fc.record({ gtid: smallGtid, strict: fc.boolean() }), { maxLength: 40 }), (steps) => {
      const state = MariadbGtidState.empty();
      const expected = model(steps);
      steps.forEach(({ gtid, strict }, i) => {
        let refused = false;
        try {
          state.record(gtid, { strict });
        } catch (error) {
          assert.ok(error instanceof GtidOrderError);
          refused = true;
        }
        assert.equal(refused, expected.refused[i], `step ${i}`);
      });
      const { accepted } = expected;
      for (let domain = 0; domain <= 3; domain++) {
        const inDomain = accepted.filter((a) => a.domain === domain);
        assert.deepEqual(state.last(domain), inDomain.at(-1));
        for (let serverId = 1; serverId <= 3; serverId++) {
          assert.deepEqual(state.get(domain, serverId), inDomain.filter((a) => a.serverId === serverId).at(-1));
        }
      }
      const lastPerDomain = [0, 1, 2, 3].flatMap((d) => accepted.filter((a) => a.domain === d).slice(-1));
      assert.equal(state.position().toString(), formatMariadbGtidList(lastPerDomain));
      // The state text replays to the same state.
      const again = MariadbGtidState.parse(state.toString());
      assert.equal(again.toString(), state.toString());
      assert.equal(again.position().toString(), state.position().toString());
    }),
  );
});

test("property: a position's contains and containsPosition agree with per-domain comparison", () => {
  const positionArb = fc.uniqueArray(smallGtid, { selector: (x) => x.domain, maxLength: 4 });
  fc.assert(
    fc.property(positionArb, positionArb, smallGtid, (a, b, probe) => {
      const pa = MariadbGtidPosition.fromGtids(a);
      const pb = MariadbGtidPosition.fromGtids(b);
      const mine = a.find((x) => x.domain === probe.domain);
      assert.equal(pa.contains(probe), mine !== undefined && probe.seq <= mine.seq);
      assert.equal(
        pa.containsPosition(pb),
        b.every((y) => a.some((x) => x.domain === y.domain && y.seq <= x.seq)),
      );
      const moved = pa.with(probe);
      assert.deepEqual(moved.get(probe.domain), probe);
      assert.equal(moved.gtids().length, a.length + (mine ? 0 : 1));
    }),
  );
});

test("property: parse and format round trip over the full u32/u32/u64 ranges", () => {
  fc.assert(
    fc.property(fc.uniqueArray(anyGtid, { selector: (x) => x.domain, maxLength: 6 }), fc.constantFrom("", " ", "\n"), (list, blank) => {
      const text = list.map((x) => `${blank}${formatMariadbGtid(x)}${blank}`).join(",");
      assert.deepEqual(parseMariadbGtidList(text), list);
      const position = MariadbGtidPosition.parse(text);
      assert.equal(position.toString(), formatMariadbGtidList([...list].sort((x, y) => x.domain - y.domain)));
      assert.ok(MariadbGtidPosition.parse(position.toString()).equals(position));
      for (const x of list) assert.deepEqual(parseMariadbGtid(formatMariadbGtid(x)), x);
    }),
  );
});

test("property: out-of-range and non-numeric parts are refused", () => {
  const tooBig32 = fc.bigInt(0x1_0000_0000n, 1n << 70n);
  const tooBig64 = fc.bigInt(MAX_SEQ + 1n, 1n << 80n);
  fc.assert(
    fc.property(tooBig32, tooBig64, fc.integer({ min: 0, max: 2 }), (big32, big64, where) => {
      const parts = ["1", "2", "3"];
      parts[where] = where === 2 ? `${big64}` : `${big32}`;
      assert.throws(() => parseMariadbGtid(parts.join("-")), GtidParseError);
    }),
  );
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 6 }).filter((s) => !/^\s*[0-9]+\s*$/.test(s) && !s.includes("-") && !s.includes(",")),
      fc.integer({ min: 0, max: 2 }),
      (junk, where) => {
        const parts = ["1", "2", "3"];
        parts[where] = junk;
        assert.throws(() => parseMariadbGtid(parts.join("-")), GtidParseError);
      },
    ),
  );
});
