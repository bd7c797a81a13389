import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseByteQuantity, parseDurationMs } from "./units.ts";

describe("parseByteQuantity", () => {
  it("reads binary and decimal suffixes", () => {
    assert.equal(parseByteQuantity("0"), 0);
    assert.equal(parseByteQuantity("512"), 512);
    assert.equal(parseByteQuantity("1Ki"), 1024);
    assert.equal(parseByteQuantity("64Mi"), 64 * 1024 * 1024);
    assert.equal(parseByteQuantity("10Gi"), 10 * 2 ** 30);
    assert.equal(parseByteQuantity("2Ti"), 2 * 2 ** 40);
    assert.equal(parseByteQuantity("1k"), 1000);
    assert.equal(parseByteQuantity("500M"), 500_000_000);
    assert.equal(parseByteQuantity("1T"), 1e12);
  });

  it("rounds fractions up to whole bytes", () => {
    assert.equal(parseByteQuantity("1.5Gi"), 1.5 * 2 ** 30);
    assert.equal(parseByteQuantity("0.5"), 1);
    assert.equal(parseByteQuantity("1.0001k"), 1001);
  });

  it("refuses what is not a byte size, and sizes beyond 2^53-1", () => {
    for (const bad of ["", "Gi", "10 Gi", "10gi", "-1", "1e3", "100m", "1.Gi", "10GiB"]) assert.equal(parseByteQuantity(bad), undefined, bad);
    assert.equal(parseByteQuantity("8Ei"), undefined);
    assert.equal(parseByteQuantity("7Pi"), 7 * 2 ** 50);
  });
});

describe("parseDurationMs", () => {
  it("sums the parts", () => {
    assert.equal(parseDurationMs("1s"), 1000);
    assert.equal(parseDurationMs("250ms"), 250);
    assert.equal(parseDurationMs("7d"), 7 * 86_400_000);
    assert.equal(parseDurationMs("168h"), 7 * 86_400_000);
    assert.equal(parseDurationMs("1h30m"), 90 * 60_000);
    assert.equal(parseDurationMs("1m1s1ms"), 61_001);
  });

  it("refuses malformed durations", () => {
    for (const bad of ["", "7", "d", "1.5h", "1w", "-1s", "1h 30m", "1H"]) assert.equal(parseDurationMs(bad), undefined, bad);
  });
});
