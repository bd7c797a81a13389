/**
 * The units a KingbusCluster is written in: Kubernetes quantities for sizes ("10Gi", "500M") and
 * durations for ages ("7d", "168h", "1h30m"). Pure parsing; the patterns are the ones the CRD
 * carries, so the API server refuses what these functions cannot read.
 */

/** A size in bytes: a non-negative decimal with an optional binary (Ki..Ei) or decimal (k..E) suffix. */
export const BYTE_QUANTITY_PATTERN = "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";

/**
 * Any Kubernetes quantity (resource requests and limits): the pattern the Kubernetes API itself
 * documents for resource.Quantity.
 */
export const QUANTITY_PATTERN = "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

/** A duration: one or more `<integer><unit>` with units ms, s, m, h, d (e.g. "7d", "1h30m"). */
export const DURATION_PATTERN = "^([0-9]+(ms|s|m|h|d))+$";

const MULTIPLIERS: Readonly<Record<string, bigint>> = {
  "": 1n,
  k: 1000n,
  M: 1000n ** 2n,
  G: 1000n ** 3n,
  T: 1000n ** 4n,
  P: 1000n ** 5n,
  E: 1000n ** 6n,
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
};

const BYTES = new RegExp(BYTE_QUANTITY_PATTERN);

/**
 * Bytes of a quantity such as "10Gi" or "1.5G", rounded up to a whole byte; undefined when the
 * text is not a byte quantity or the value is beyond 2^53-1 (the largest the node configuration takes).
 */
export function parseByteQuantity(text: string): number | undefined {
  const m = BYTES.exec(text);
  if (!m) return undefined;
  const suffix = m[2] ?? "";
  const [whole, fraction = ""] = text.slice(0, text.length - suffix.length).split(".");
  const scale = 10n ** BigInt(fraction.length);
  const numerator = BigInt(whole! + fraction) * MULTIPLIERS[suffix]!;
  const bytes = (numerator + scale - 1n) / scale;
  return bytes > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(bytes);
}

const DURATION = new RegExp(DURATION_PATTERN);
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as "7d" or "1h30m"; undefined when malformed or beyond 2^53-1. */
export function parseDurationMs(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isSafeInteger(total) ? total : undefined;
}
