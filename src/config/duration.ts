/** Go-style durations on flags: "10m", "15s", "500ms", "1h30m". */
import * as z from './zod.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    total += Number(m[1]) * (UNITS[m[2]!] ?? 0);
    matched = re.lastIndex;
  }
  return matched === trimmed.length && matched > 0 ? Math.round(total) : undefined;
}

/**
 * A duration flag's schema: the text into milliseconds, refused below `minMs` (0: any duration) with a
 * message naming the flag (`hint` is appended to it, e.g. examples of the syntax).
 */
export const durationFlag = (flag: string, minMs: number, hint = '') =>
  z.pipe(
    z.string(),
    z.transform((v: string, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined || ms < minMs) {
        ctx.issues.push({
          code: 'custom',
          input: v,
          message: `--${flag}: ${JSON.stringify(v)} is not a duration${minMs > 0 ? ` of at least ${minMs}ms` : ''}${hint}`,
        });
        return z.NEVER;
      }
      return ms;
    }),
  );
