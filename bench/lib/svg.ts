/**
 * A tiny line chart as an SVG document, no dependency: one or more series of (x, y) points, x on a
 * log-2 scale (concurrency), y linear from 0.
 */

export interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: Array<{ x: number; y: number }>;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A round upper bound for the y axis and its tick step. */
function yScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) {
    const step = (m * magnitude) / 4;
    if (step * 4 >= max) return { top: step * 4, step };
  }
  return { top: 10 * magnitude, step: 2.5 * magnitude };
}

function fmt(v: number): string {
  return v >= 1000 ? `${(v / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 })}k` : v.toLocaleString("en-US", { maximumFractionDigits: 1 });
}

export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 640;
  const height = o.height ?? 400;
  const left = 70;
  const right = 170;
  const top = 40;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const xs = [...new Set(o.series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const lx = (x: number): number => Math.log2(x);
  const xMin = lx(xs[0] ?? 1);
  const xMax = lx(xs.at(-1) ?? 2);
  const X = (x: number): number => left + (xMax === xMin ? plotW / 2 : ((lx(x) - xMin) / (xMax - xMin)) * plotW);
  const { top: yTop, step } = yScale(Math.max(0, ...o.series.flatMap((s) => s.points.map((p) => p.y))));
  const Y = (y: number): number => top + plotH - (y / yTop) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  for (let v = 0; v <= yTop + step / 2; v += step) {
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const x of xs) {
    out.push(`<line x1="${X(x).toFixed(1)}" x2="${X(x).toFixed(1)}" y1="${top}" y2="${top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${X(x).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${x}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text x="16" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${top + plotH / 2})">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(" ")}"/>`);
    for (const p of pts) out.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(s.name)}: ${fmt(p.y)} at ${p.x}</title></circle>`);
    const ly = top + 10 + i * 20;
    out.push(`<line x1="${left + plotW + 12}" x2="${left + plotW + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${left + plotW + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
