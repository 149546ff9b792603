/**
 * An SVG line chart of "addresses assigned over time": one line per controller, x in seconds from the
 * first create request, y the number of Services with an address. Pure; no dependencies.
 */

export interface ChartSeries {
  label: string;
  /** ms since the start, one per event (each Service getting its address), any order */
  times: readonly number[];
}

export interface ChartOptions {
  title: string;
  width?: number;
  height?: number;
  /** points per line at most (a line of 10,000 Services is thinned, keeping its first and last point) */
  maxPoints?: number;
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#17becf',
  '#bcbd22',
];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 x 10^n steps giving about `count` ticks, the last one at or above max */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = 0; ; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (v >= max - step * 1e-9) return ticks;
  }
}

/** The cumulative curve of one series: (t, n) after each event, thinned to at most maxPoints. */
export function cumulative(times: readonly number[], maxPoints: number): [number, number][] {
  const sorted = [...times].sort((a, b) => a - b);
  const pts: [number, number][] = sorted.map((t, i) => [t, i + 1]);
  if (pts.length <= maxPoints) return pts;
  const step = (pts.length - 1) / (maxPoints - 1);
  return Array.from({ length: maxPoints }, (_, i) => pts[Math.round(i * step)]!);
}

export function lineChartSvg(series: readonly ChartSeries[], opts: ChartOptions): string {
  const width = opts.width ?? 860;
  const height = opts.height ?? 420;
  const legendWidth = 300;
  const m = { left: 60, right: legendWidth + 20, top: 36, bottom: 46 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const maxT = Math.max(1, ...series.flatMap((s) => s.times)) / 1000;
  const maxN = Math.max(1, ...series.map((s) => s.times.length));
  const xTicks = niceTicks(maxT);
  const yTicks = niceTicks(maxN);
  const xMax = Math.max(maxT, xTicks.at(-1)!);
  const yMax = Math.max(maxN, yTicks.at(-1)!);
  const x = (sec: number) => m.left + (sec / xMax) * plotW;
  const y = (n: number) => m.top + plotH - (n / yMax) * plotH;
  const f = (v: number) => v.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${m.left}" y="20" font-size="14" font-weight="bold">${esc(opts.title)}</text>`,
  ];
  for (const t of xTicks) {
    out.push(
      `<line x1="${f(x(t))}" y1="${m.top}" x2="${f(x(t))}" y2="${m.top + plotH}" stroke="#eee"/>`,
      `<text x="${f(x(t))}" y="${m.top + plotH + 16}" text-anchor="middle">${t}</text>`,
    );
  }
  for (const n of yTicks) {
    out.push(
      `<line x1="${m.left}" y1="${f(y(n))}" x2="${m.left + plotW}" y2="${f(y(n))}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${f(y(n) + 4)}" text-anchor="end">${n}</text>`,
    );
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`,
    `<text x="${m.left + plotW / 2}" y="${height - 8}" text-anchor="middle">seconds since the first create request</text>`,
    `<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">Services with an address</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = [[0, 0] as [number, number], ...cumulative(s.times, opts.maxPoints ?? 300)];
    const d = pts.map(([t, n], j) => `${j === 0 ? 'M' : 'L'}${f(x(t / 1000))} ${f(y(n))}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    const ly = m.top + 10 + i * 18;
    const lx = m.left + plotW + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${lx + 28}" y="${ly + 4}">${esc(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
