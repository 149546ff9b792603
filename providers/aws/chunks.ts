/** Split a list into chunks of n (AWS batch limits: 20 ARNs per DescribeTags, 100 targets per call). Pure. */
export function chunks<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}
