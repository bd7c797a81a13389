/**
 * Time series as an SVG document, no dependency: panels stacked over one shared linear x axis
 * (seconds), each panel with its own linear y axis from 0 and any number of series drawn as
 * polylines, plus vertical markers (e.g. "load stops"). svg.ts draws x on a log-2 scale with a
 * dot per point, which suits a few concurrency levels but not a thousand samples over time.
 */

export interface TimeSeries {
  name: string;
  color: string;
  dashed?: boolean;
  points: Array<{ x: number; y: number }>;
}

export interface Panel {
  yLabel: string;
  series: TimeSeries[];
  /** Upper end of the y axis; default: a round number above the largest y. */
  yMax?: number;
}

export interface TimeChartOptions {
  title: string;
  xLabel: string;
  panels: Panel[];
  markers?: Array<{ x: number; label: string }>;
  width?: number;
  /** Height of one panel's plot area. Default 200. */
  panelHeight?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Axis ends on multiples of a round step (1, 2 or 5 times a power of ten), 5 to 10 steps. */
export function niceRange(min: number, max: number): { lo: number; hi: number; step: number } {
  const span = max > min ? max - min : 1;
  const magnitude = 10 ** Math.floor(Math.log10(span / 5));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => span / s <= 10) ?? 10 * magnitude;
  return { lo: Math.floor(min / step) * step, hi: Math.ceil(max / step) * step, step };
}

function fmt(v: number): string {
  return v >= 1000 ? `${(v / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 })}k` : v.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

export function timeChart(o: TimeChartOptions): string {
  const width = o.width ?? 760;
  const panelH = o.panelHeight ?? 200;
  const left = 70;
  const right = 190;
  const top = 40;
  const gap = 40;
  const bottom = 50;
  const plotW = width - left - right;
  const height = top + o.panels.length * panelH + (o.panels.length - 1) * gap + bottom;
  const allX = o.panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt.x))).concat((o.markers ?? []).map((m) => m.x));
  // The x axis starts where the data does (ticks on round numbers), and ends on a round number.
  const xLo = Math.min(0, ...allX);
  const { hi: xHi, step: xStep } = niceRange(xLo, Math.max(1, ...allX));
  const X = (x: number): number => left + ((x - xLo) / (xHi - xLo)) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  o.panels.forEach((panel, pi) => {
    const pTop = top + pi * (panelH + gap);
    const maxY = Math.max(0, ...panel.series.flatMap((s) => s.points.map((p) => p.y)).filter(Number.isFinite));
    const { hi: yTop, step } = niceRange(0, panel.yMax ?? (maxY > 0 ? maxY : 1));
    const Y = (y: number): number => pTop + panelH - (Math.min(y, yTop) / yTop) * panelH;
    for (let v = 0; v <= yTop + step / 2; v += step) {
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" stroke="#ddd"/>`);
      out.push(`<text x="${left - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
    }
    for (let k = Math.ceil(xLo / xStep); k * xStep <= xHi + xStep / 2; k++) {
      const x = k * xStep + 0; // + 0: no "-0" label
      const px = X(x);
      out.push(`<line x1="${px.toFixed(1)}" x2="${px.toFixed(1)}" y1="${pTop}" y2="${pTop + panelH}" stroke="#eee"/>`);
      out.push(`<text x="${px.toFixed(1)}" y="${pTop + panelH + 16}" text-anchor="middle">${fmt(x)}</text>`);
    }
    for (const m of o.markers ?? []) {
      const px = X(m.x).toFixed(1);
      out.push(`<line x1="${px}" x2="${px}" y1="${pTop}" y2="${pTop + panelH}" stroke="#999" stroke-dasharray="3 3"/>`);
      if (pi === 0) out.push(`<text x="${px}" y="${pTop - 4}" text-anchor="middle" fill="#666">${esc(m.label)}</text>`);
    }
    out.push(`<rect x="${left}" y="${pTop}" width="${plotW}" height="${panelH}" fill="none" stroke="#888"/>`);
    const mid = pTop + panelH / 2;
    out.push(`<text x="16" y="${mid}" text-anchor="middle" transform="rotate(-90 16 ${mid})">${esc(panel.yLabel)}</text>`);
    panel.series.forEach((s, i) => {
      const pts = s.points.filter((p) => Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
      const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
      if (pts.length > 0) {
        out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5"${dash} points="${pts.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(" ")}"><title>${esc(s.name)}</title></polyline>`);
      }
      const ly = pTop + 10 + i * 20;
      out.push(`<line x1="${left + plotW + 12}" x2="${left + plotW + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
      out.push(`<text x="${left + plotW + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
    });
  });
  out.push(`<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push("</svg>");
  return out.join("\n") + "\n";
}
