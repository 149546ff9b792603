/**
 * The workload phases of one contender's turn in bench/controllers.ts, chosen with PHASES (a comma list).
 * Node churn and the restart work on the Services the burst created, so the burst runs (and is reported) in
 * every turn whatever PHASES says: PHASES=burst runs the burst alone, PHASES=restart the burst and then the
 * restart, without the node churn.
 */
export const PHASES = ['burst', 'churn', 'restart'] as const;
export type Phase = (typeof PHASES)[number];

/** PHASES unset: all three; otherwise the names listed, each one known, at least one */
export function parsePhases(value: string | undefined): Phase[] {
  if (value === undefined) return [...PHASES];
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !(PHASES as readonly string[]).includes(n));
  if (unknown.length > 0)
    throw new Error(
      `PHASES=${value}: unknown phase${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}; known: ${PHASES.join(', ')}`,
    );
  if (names.length === 0) throw new Error(`PHASES=${value}: no phase named; known: ${PHASES.join(', ')}`);
  return PHASES.filter((p) => names.includes(p));
}
