/** Markdown tables for bench/results and the README. Pure. */

export type Cell = string | number | undefined;

function text(c: Cell): string {
  if (c === undefined) return '';
  if (typeof c === 'number') return Number.isFinite(c) ? String(c) : 'n/a';
  return c.replace(/\|/g, '\\|');
}

export function markdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const lines = [`| ${headers.map(text).join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${headers.map((_, i) => text(row[i])).join(' | ')} |`);
  return lines.join('\n');
}

/** A duration in ms as seconds: "12.3 s" (two decimals below 10 s) */
export function seconds(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return 'n/a';
  const s = ms / 1000;
  return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
}

/** "yes" / "no" for a target, with the figure it was judged on */
export function verdict(met: boolean | undefined): string {
  return met === undefined ? 'not measured' : met ? 'yes' : '**no**';
}
