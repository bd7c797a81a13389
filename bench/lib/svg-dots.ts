/**
 * A distribution as an SVG document, no dependency: one horizontal strip per series (e.g. "kingbus:
 * first write" and "etcd: first write"), one dot per observation on a shared linear x axis from 0,
 * with ticks at the series' p50 and p90 and a label giving p50 / p90 / max. Suits a few dozen
 * observations per series (failover times); svg.ts and svg-lines.ts draw curves instead.
 */

export interface DotSeries {
  name: string;
  color: string;
  values: number[];
  /** Observations that did not finish (plotted at the right edge as hollow dots), e.g. timeouts. */
  censored?: number;
}

export interface DotChartOptions {
  title: string;
  xLabel: string;
  series: DotSeries[];
  width?: number;
  /** Height of one strip. Default 44. */
  rowHeight?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The p-quantile of ascending values (nearest rank); NaN when empty. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** A round axis end above max and its step (1, 2 or 5 times a power of ten, 4 to 10 steps). */
function axis(max: number): { hi: number; step: number } {
  const span = max > 0 ? max : 1;
  const magnitude = 10 ** Math.floor(Math.log10(span / 5));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => span / s <= 10) ?? 10 * magnitude;
  return { hi: Math.ceil(span / step) * step, step };
}

function fmt(v: number): string {
  return v.toLocaleString("en-US", { maximumFractionDigits: v >= 100 ? 0 : 1 });
}

export function dotChart(o: DotChartOptions): string {
  const width = o.width ?? 860;
  const rowH = o.rowHeight ?? 44;
  const left = 280;
  const right = 40;
  const top = 40;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = rowH * o.series.length;
  const height = top + plotH + bottom;
  const all = o.series.flatMap((s) => s.values).filter(Number.isFinite);
  const { hi, step } = axis(Math.max(0, ...all));
  const X = (v: number): number => left + (Math.min(v, hi) / hi) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  for (let v = 0; v <= hi + step / 2; v += step) {
    const x = X(v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${top}" y2="${top + plotH}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${x}" y="${top + plotH + 16}" text-anchor="middle">${fmt(v)}</text>`);
  }
  o.series.forEach((s, i) => {
    const y0 = top + i * rowH;
    const mid = y0 + rowH / 2;
    if (i > 0) out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y0}" y2="${y0}" stroke="#ccc"/>`);
    out.push(`<text x="${left - 8}" y="${mid - 3}" text-anchor="end">${esc(s.name)}</text>`);
    const sorted = s.values.filter(Number.isFinite).sort((a, b) => a - b);
    const p50 = quantile(sorted, 0.5);
    const p90 = quantile(sorted, 0.9);
    const summary = sorted.length === 0 ? "no data" : `p50 ${fmt(p50)} · p90 ${fmt(p90)} · max ${fmt(sorted.at(-1)!)} (n=${sorted.length}${s.censored ? `, ${s.censored} timed out` : ""})`;
    out.push(`<text x="${left - 8}" y="${mid + 12}" text-anchor="end" fill="#666" font-size="10">${esc(summary)}</text>`);
    // Deterministic vertical jitter: dots at equal values spread over the strip instead of hiding each other.
    s.values.forEach((v, k) => {
      if (!Number.isFinite(v)) return;
      const dy = ((k * 7) % 9) - 4;
      out.push(`<circle cx="${X(v).toFixed(1)}" cy="${(mid + dy * (rowH / 14)).toFixed(1)}" r="3.5" fill="${s.color}" fill-opacity="0.7"><title>${esc(s.name)}: ${fmt(v)}</title></circle>`);
    });
    for (let k = 0; k < (s.censored ?? 0); k++) out.push(`<circle cx="${(left + plotW).toFixed(1)}" cy="${(mid + (k % 5) * 3 - 6).toFixed(1)}" r="3.5" fill="none" stroke="${s.color}"/>`);
    for (const [p, label] of [[p50, "p50"], [p90, "p90"]] as const) {
      if (!Number.isFinite(p)) continue;
      const x = X(p).toFixed(1);
      out.push(`<line x1="${x}" x2="${x}" y1="${y0 + 4}" y2="${y0 + rowH - 4}" stroke="${s.color}" stroke-width="${label === "p50" ? 2 : 1}"${label === "p90" ? ` stroke-dasharray="3 2"` : ""}><title>${label} ${fmt(p)}</title></line>`);
    }
  });
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">${esc(o.xLabel)} (solid tick: p50, dashed: p90)</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}
