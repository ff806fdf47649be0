// The benchmark picture as plain SVG text: (a) per-NIC throughput over time through an eth0
// failure and repair, (b) bars of ipmp0 against the kernel baselines (ratio = ipmp / kernel).

import type { Results, Trace } from './results.js';

const W = 900;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(x: number, y: number, s: string, extra = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${esc(s)}</text>`;
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function tracePanel(tr: Trace, y0: number, h: number): string[] {
  const out: string[] = [];
  const x0 = 70;
  const pw = W - x0 - 150;
  const tMax = Math.max(1, ...tr.samples.map((s) => s.t));
  const vMax = niceMax(Math.max(1, ...tr.samples.flatMap((s) => Object.values(s.mbps))));
  const X = (t: number): number => x0 + (t / tMax) * pw;
  const Y = (v: number): number => y0 + h - (v / vMax) * h;
  out.push(text(x0, y0 - 12, '(a) per-NIC throughput, 8 TCP streams via ipmp0 (tx, 100 ms samples)', 'font-weight="bold"'));
  out.push(`<rect x="${x0}" y="${y0}" width="${pw}" height="${h}" fill="none" stroke="#999"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (vMax * k) / 4;
    out.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>`);
    out.push(text(x0 - 6, Y(v) + 4, v.toFixed(0), 'text-anchor="end"'));
  }
  for (let t = 0; t <= tMax; t += 1) out.push(text(X(t), y0 + h + 16, `${t}s`, 'text-anchor="middle"'));
  out.push(text(14, y0 + h / 2, 'Mbit/s', `transform="rotate(-90 14 ${y0 + h / 2})" text-anchor="middle"`));
  for (const e of tr.events) {
    out.push(`<line x1="${X(e.t)}" x2="${X(e.t)}" y1="${y0}" y2="${y0 + h}" stroke="#555" stroke-dasharray="4 3"/>`);
    out.push(text(X(e.t) + 4, y0 + 14, e.what));
  }
  tr.nics.forEach((n, i) => {
    const pts = tr.samples.map((s) => `${X(s.t).toFixed(1)},${Y(s.mbps[n] ?? 0).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${pts}"/>`);
    out.push(`<rect x="${x0 + pw + 20}" y="${y0 + 10 + i * 20}" width="14" height="4" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(text(x0 + pw + 40, y0 + 16 + i * 20, n));
  });
  return out;
}

export interface Bar {
  label: string;
  ipmp: number;
  base: number;
  baseName: string;
  unit: string;
}

function barPanel(bars: Bar[], y0: number): { svg: string[]; height: number } {
  const out: string[] = [];
  const x0 = 260;
  const pw = W - x0 - 160;
  const rowH = 42;
  out.push(text(20, y0 - 12, '(b) ipmp0 against the kernel baselines (bar length relative to the larger of the two)', 'font-weight="bold"'));
  bars.forEach((b, i) => {
    const y = y0 + i * rowH;
    const m = Math.max(b.ipmp, b.base, 1e-9);
    const ratio = b.base > 0 ? b.ipmp / b.base : NaN;
    out.push(text(x0 - 8, y + 16, b.label, 'text-anchor="end"'));
    out.push(`<rect x="${x0}" y="${y}" width="${((b.base / m) * pw).toFixed(1)}" height="14" fill="#bbb"/>`);
    out.push(`<rect x="${x0}" y="${y + 16}" width="${((b.ipmp / m) * pw).toFixed(1)}" height="14" fill="${COLORS[0]}"/>`);
    out.push(text(x0 + 6 + (b.base / m) * pw, y + 12, `${b.baseName} ${b.base.toFixed(b.base < 100 ? 1 : 0)} ${b.unit}`, 'font-size="11"'));
    out.push(text(x0 + 6 + (b.ipmp / m) * pw, y + 28,
      `ipmp0 ${b.ipmp.toFixed(b.ipmp < 100 ? 1 : 0)} ${b.unit} (${Number.isFinite(ratio) ? ratio.toFixed(2) : '-'}×)`, 'font-size="11"'));
  });
  return { svg: out, height: bars.length * rowH };
}

export function renderSvg(r: Results, bars: Bar[], subtitle: string): string {
  const parts: string[] = [];
  let y = 60;
  if (r.trace && r.trace.samples.length > 1) {
    parts.push(...tracePanel(r.trace, y, 220));
    y += 220 + 70;
  }
  const b = barPanel(bars, y);
  parts.push(...b.svg);
  y += b.height + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(20, 24, 'ipmp bench', 'font-size="16" font-weight="bold"'),
    text(120, 24, subtitle, 'fill="#555"'),
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
