/**
 * Figures for noisy machines: percentiles of per-Service latencies, and in-round ratios summarised as the
 * median with the range across rounds (bench/proxy-dataplane.ts's method). Pure.
 */

/** Nearest-rank percentile of an ascending list (p in 0..100); NaN for an empty list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** how many values it summarises */
  n: number;
}

export function spread(xs: readonly number[]): Spread {
  const finite = xs.filter(Number.isFinite);
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}

/**
 * Ratios of two paths measured in the same rounds (of[i] / to[i]); a round where either side is missing
 * or the reference is 0 is left out.
 */
export function inRoundRatios(of: readonly (number | undefined)[], to: readonly (number | undefined)[]): Spread {
  const rs: number[] = [];
  for (let i = 0; i < Math.min(of.length, to.length); i++) {
    const a = of[i];
    const b = to[i];
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) continue;
    rs.push(a / b);
  }
  return spread(rs);
}

/** "0.45 (0.41-0.50)", or "0.45" for one round, or "n/a" */
export function formatSpread(s: Spread, digits = 2): string {
  if (s.n === 0) return 'n/a';
  if (s.n === 1 || s.min === s.max) return s.median.toFixed(digits);
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}
